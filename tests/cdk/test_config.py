"""Stage configs, and app.py's handling of -c stage=..."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ml_inference_cdk.config import STAGES, StageConfig, get_stage_config
from tests.conftest import REPO


def test_three_stages_default_dev():
    assert set(STAGES) == {"dev", "staging", "prod"}
    assert get_stage_config(None).name == "dev"


def test_stages_are_frozen():
    config = get_stage_config("prod")
    with pytest.raises(Exception):
        config.nat_gateways = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.tags["owner"] = "me"  # type: ignore[index]


def test_prod_is_highly_available_and_retained():
    prod = get_stage_config("prod")
    assert prod.nat_gateways == prod.max_azs
    assert prod.removal_policy.name == "RETAIN"
    assert prod.lambda_provisioned_concurrency > 0


def test_tags():
    assert dict(get_stage_config("staging").tags) == {"project": "ml-inference", "stage": "staging", "owner": "ml-platform"}


def test_stages_name_a_region_and_leave_the_account_to_the_credentials():
    for config in STAGES.values():
        assert (config.account, config.region) == (None, "us-east-1")


def test_with_environment_pins_account_and_region():
    pinned = get_stage_config("dev").with_environment(account="123456789012", region="eu-west-1")
    assert (pinned.account, pinned.region) == ("123456789012", "eu-west-1")
    unchanged = get_stage_config("dev").with_environment(account=None, region=None)
    assert (unchanged.account, unchanged.region) == (None, "us-east-1")


def test_fails_when_stage_is_unknown():
    with pytest.raises(ValueError, match="unknown stage 'qa': use -c stage=NAME with one of dev, staging, prod"):
        get_stage_config("qa")


def test_fails_when_region_is_empty():
    with pytest.raises(ValueError, match="region must not be empty"):
        StageConfig(name="x", region="")


def _run_app(context: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    return subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_app_stops_with_a_clear_message_for_an_unknown_stage():
    result = _run_app({"stage": "qa"})
    assert result.returncode == 1
    assert "error: unknown stage 'qa': use -c stage=NAME with one of dev, staging, prod" in result.stderr
    assert "Traceback" not in result.stderr


def test_targets_default_to_all_and_decide_the_network():
    from ml_inference_cdk.config import TARGETS

    assert get_stage_config("dev").targets == TARGETS
    assert StageConfig(name="x", targets=("Lambda",)).needs_network is False
    assert StageConfig(name="x", targets=("Lambda", "SageMaker"), sagemaker_mode="serverless").needs_network is False
    assert StageConfig(name="x", targets=("SageMaker",), sagemaker_mode="real-time").needs_network is True
    assert StageConfig(name="x", targets=("Lambda", "Fargate")).needs_network is True


@pytest.mark.parametrize("targets", [(), ("Lambda", "Lambda"), ("Lambda", "Batch")])
def test_fails_when_targets_are_not_distinct_known_names(targets):
    with pytest.raises(ValueError, match="targets must be distinct names from Lambda, Fargate, Eks, SageMaker"):
        StageConfig(name="x", targets=targets)


def test_pinning_an_account_synthesizes_without_lookups(tmp_path):
    # With an account, Vpc would look up availability zones (credentials); the stage names them.
    # (.ci/run runs the README's whole `npx cdk synth -c stage=prod -c account=...` command.)
    import aws_cdk as cdk

    from ml_inference_cdk.stacks import NetworkStack
    from tests.conftest import cdk_json_context

    config = get_stage_config("prod").with_environment(account="123456789012", region="eu-west-1")
    app = cdk.App(outdir=str(tmp_path), context=cdk_json_context())
    stack = NetworkStack(app, "MlInference-Network", config=config, env=cdk.Environment(account=config.account, region=config.region))
    assembly = app.synth()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert "missing" not in manifest, manifest.get("missing")
    template = assembly.get_stack_artifact(stack.artifact_id).template
    zones = {r["Properties"]["AvailabilityZone"] for r in template["Resources"].values() if r["Type"] == "AWS::EC2::Subnet"}
    assert zones == {"eu-west-1a", "eu-west-1b"}


def test_fails_when_an_account_is_pinned_in_a_region_without_known_zones():
    with pytest.raises(ValueError, match="name 2 of its availability zones in StageConfig.availability_zones"):
        get_stage_config("dev").with_environment(account="123456789012", region="ap-south-2")
    pinned = StageConfig(name="x", availability_zones=("ap-south-2a", "ap-south-2b")).with_environment(
        account="123456789012", region="ap-south-2"
    )
    assert pinned.zones == ("ap-south-2a", "ap-south-2b")
    with pytest.raises(ValueError, match="are not all in ap-south-2"):
        StageConfig(name="x", availability_zones=("eu-west-1a", "eu-west-1b")).with_environment(
            account="123456789012", region="ap-south-2"
        )


def test_zones_are_left_to_cloudformation_without_an_account():
    assert get_stage_config("prod").zones is None

def test_observability_per_stage():
    tracing = {name: config.tracing for name, config in STAGES.items()}
    assert tracing == {"dev": False, "staging": False, "prod": True}
    assert {name: config.monthly_budget_usd for name, config in STAGES.items()} == {"dev": 400, "staging": 600, "prod": 2000}
    assert all(config.model_labels == ("NEGATIVE", "POSITIVE") for config in STAGES.values())


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"alarm_error_rate_percent": 0}, "alarm_error_rate_percent"),
        ({"monthly_budget_usd": 0}, "monthly_budget_usd"),
        ({"model_labels": ("A", "A")}, "model_labels"),
        ({"model_labels": ("A", "")}, "model_labels"),
        ({"drift_label_share_percent": (90, 10)}, "drift_label_share_percent"),
        ({"drift_min_mean_confidence": 1.0}, "drift_min_mean_confidence"),
        ({"drift_min_predictions": 0}, "drift_min_predictions"),
        ({"drift_period_minutes": 2}, "drift_period_minutes"),
    ],
)
def test_fails_when_observability_settings_are_invalid(props, message):
    with pytest.raises(ValueError, match=message):
        StageConfig(name="x", **props)


# -- delivery pipeline ------------------------------------------------------------------------


def test_the_pipeline_deploys_dev_staging_then_prod_after_an_approval():
    from ml_inference_cdk.config import PIPELINE

    assert PIPELINE.stages == ("dev", "staging", "prod") and PIPELINE.approval_before == ("prod",)
    assert [c.name for c in PIPELINE.stage_configs()] == ["dev", "staging", "prod"]
    assert PIPELINE.placeholders == ("repository", "connection_arn")


def test_the_pipeline_runs_the_cli_package_json_pins():
    from ml_inference_cdk.config import PIPELINE

    assert PIPELINE.cdk_cli_version == json.loads((REPO / "package.json").read_text())["devDependencies"]["aws-cdk"]


def test_fargate_rolls_back_on_its_alarms_in_staging_and_prod():
    assert [get_stage_config(s).fargate_rollback_on_alarms for s in ("dev", "staging", "prod")] == [False, True, True]


def test_a_configured_source_has_no_placeholders():
    from ml_inference_cdk.config import PipelineConfig

    config = PipelineConfig(repository="acme/inference",
                            connection_arn="arn:aws:codeconnections:us-east-1:123456789012:connection/abc-123")
    assert config.placeholders == ()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"repository": "no-slash"}, 'repository must be "owner/name"'),
        ({"connection_arn": "arn:aws:s3:::bucket"}, "connection_arn must be a CodeConnections ARN"),
        ({"branch": " "}, "branch must not be empty"),
        ({"stages": ("dev", "qa")}, "stages must be distinct names from dev, staging, prod"),
        ({"stages": ("dev", "dev")}, "stages must be distinct names"),
        ({"stages": ("dev", "staging"), "approval_before": ("prod",)}, "approval_before .* names stages it does not deploy"),
        ({"smoke_p95_ms": 0}, "smoke_p95_ms must be above 0"),
    ],
)
def test_fails_when_the_pipeline_config_is_invalid(changes, message):
    import dataclasses

    from ml_inference_cdk.config import PIPELINE

    with pytest.raises(ValueError, match=message):
        dataclasses.replace(PIPELINE, **changes)


def test_fails_when_smoke_role_arn_is_not_a_role_arn():
    with pytest.raises(ValueError, match="smoke_role_arn must be an IAM role ARN"):
        StageConfig(name="x", smoke_role_arn="arn:aws:iam::123456789012:user/me")
    assert StageConfig(name="x", smoke_role_arn="arn:aws:iam::123456789012:role/smoke").smoke_role_arn


def test_app_refuses_a_stage_with_the_pipeline_and_a_switch_it_cannot_read():
    result = _run_app({"pipeline": "true", "stage": "dev"})
    assert result.returncode == 1 and "error: -c pipeline=true deploys every stage of PipelineConfig" in result.stderr
    result = _run_app({"pipeline": "maybe"})
    assert result.returncode == 1 and "error: -c pipeline= takes true or false, got 'maybe'" in result.stderr
    assert "Traceback" not in result.stderr
