"""cdk-nag, cfn-lint and checkov on every stage's synthesized app."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from tests.conftest import REPO, STAGES, cdk_json_context

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"


@pytest.mark.parametrize("stage", STAGES)
def test_nag_finds_nothing_unacknowledged(synthesized, stage):
    # The fixture's synth raises on any finding; the report, when written, must be clean too
    # (warnings, such as an internal load balancer's, are the constructs' notes, not findings).
    report = synthesized(stage).outdir / "validation-report.json"
    if report.exists():
        data = json.loads(report.read_text())
        violations = [
            v for plugin in data.get("pluginReports", []) for v in plugin.get("violations", [])
            if v.get("severity") != "warning"
        ]
        assert violations == []


def test_nag_stops_synth_on_an_unacknowledged_finding(tmp_path):
    # The control: the same set-up does fail when a finding is not acknowledged.
    app = cdk.App(outdir=str(tmp_path), context=cdk_json_context())
    stack = cdk.Stack(app, "Bad")
    s3.Bucket(stack, "NoAccessLogs")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert "AwsSolutions-S1" in rules


def _cfn_lint(templates: list[str]) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--config-file", str(REPO / ".cfnlintrc"), *templates],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stage", STAGES)
def test_cfn_lint_passes(synthesized, stage):
    templates = sorted(str(p) for p in synthesized(stage).outdir.glob("*.template.json"))
    assert templates, "no templates were synthesized"
    _cfn_lint(templates)


def test_cfn_lint_passes_on_the_pipeline(synthesized_pipeline):
    # The stages' templates inside it are the direct deploys' ones but for path-derived names
    # (test_stacks.py::test_the_pipeline_stage_holds_the_same_stacks): linted above, not twice.
    templates = sorted(str(p) for p in synthesized_pipeline.outdir.glob("*.template.json"))
    assert [Path(t).name for t in templates] == ["MlInference-Pipeline.template.json"]
    _cfn_lint(templates)


def test_checkov_passes(synthesized, synthesized_pipeline, tmp_path):
    if not CHECKOV.exists():
        pytest.fail("checkov is not installed: `make test` installs it into .venv-checkov")
    # The pipeline's own template, in a folder of its own (checkov ignores -f beside -d); its stages'
    # templates are the direct deploys' ones but for path-derived names, as for cfn-lint.
    shutil.copy(synthesized_pipeline.outdir / "MlInference-Pipeline.template.json", tmp_path)
    dirs = [str(synthesized(stage).outdir) for stage in STAGES] + [str(tmp_path)]
    result = subprocess.run(
        [str(CHECKOV), "--config-file", str(REPO / ".checkov.yaml"), *[arg for d in dirs for arg in ("-d", d)], "-o", "json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    reports = _json_documents(result.stdout)
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']})"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    passed = sum(report.get("summary", {}).get("passed", 0) for report in reports)
    resources = sum(len(json.loads(t.read_text())["Resources"]) for d in dirs for t in Path(d).glob("*.template.json"))
    # checkov counts a few more (it parses more than Resources); fewer means it skipped a template.
    assert sum(report.get("summary", {}).get("resource_count", 0) for report in reports) >= resources, "a template was skipped"
    assert failed == []
    assert passed > 50, "checkov scanned (almost) nothing: did the templates move?"
    assert result.returncode == 0, result.stderr[-2000:]


def test_an_exposed_stage_passes_cfn_lint_and_checkov(exposed):
    # The web ACLs, HTTPS listeners and alias record appear only with a certificate.
    templates = sorted(str(p) for p in exposed.outdir.glob("*.template.json"))
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--config-file", str(REPO / ".cfnlintrc"), *templates],
        capture_output=True, text=True, cwd=REPO,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    if not CHECKOV.exists():
        pytest.fail("checkov is not installed: `make test` installs it into .venv-checkov")
    result = subprocess.run(
        [str(CHECKOV), "--config-file", str(REPO / ".checkov.yaml"), "-d", str(exposed.outdir), "-o", "json"],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    reports = _json_documents(result.stdout)
    failed = [f"{c['check_id']} {c['resource']}" for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    assert failed == []
    assert sum(report.get("summary", {}).get("passed", 0) for report in reports) > 50, "checkov scanned (almost) nothing"


def test_checkov_config_lists_a_reason_for_every_skip():
    lines = (REPO / ".checkov.yaml").read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith("- CKV"):
            assert lines[index - 1].strip().startswith("#"), f"{line.strip()} is skipped without a reason"




def _json_documents(text: str) -> list[dict]:
    """checkov prints one JSON document per scan, one after the other."""
    decoder = json.JSONDecoder()
    documents, index = [], 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        document, index = decoder.raw_decode(text, index)
        documents.extend(document if isinstance(document, list) else [document])
    return documents


def _lambda_everything(stack):
    from aws_cdk import Duration
    from aws_cdk import aws_codedeploy as codedeploy

    from ml_inference_cdk import LambdaEndpointType, LambdaInference, ModelImage, SharedNetwork

    LambdaInference(
        stack,
        "Sentiment",
        image=ModelImage(stack, "Image"),
        endpoint_type=LambdaEndpointType.HTTP_API,
        vpc=SharedNetwork(stack, "Network", nat_gateways=0).vpc,
        warmup_interval=Duration.minutes(5),
        deployment_config=codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES,
    )


def _fargate_everything(stack):
    from aws_cdk import aws_certificatemanager as acm

    from ml_inference_cdk import FargateInference, ModelImage, SharedNetwork

    certificate = acm.Certificate.from_certificate_arn(
        stack, "Cert", "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1234-5678-9abc-0123456789ab"
    )
    FargateInference(
        stack,
        "Service",
        image=ModelImage(stack, "Image"),
        vpc=SharedNetwork(stack, "Network").vpc,
        certificate=certificate,
        spot_weight=1,
    )


def _fargate_internal(stack):
    from ml_inference_cdk import FargateInference, ModelImage, SharedNetwork

    FargateInference(stack, "Service", image=ModelImage(stack, "Image"), vpc=SharedNetwork(stack, "Network").vpc, internal=True)


@pytest.mark.parametrize("env", [None, cdk.Environment(region="us-east-1")], ids=["env-agnostic", "region-bound"])
@pytest.mark.parametrize("build", [_lambda_everything, _fargate_everything, _fargate_internal], ids=lambda f: f.__name__.strip("_"))
def test_constructs_are_nag_clean_in_any_app(tmp_path, build, env):
    # Acknowledgements live inside the constructs, so an app that is not ours is clean too.
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Consumer", env=env)
    build(stack)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
