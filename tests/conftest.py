"""Shared fixtures for the CDK tests: each stage's app is synthesized once per session."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

REPO = Path(__file__).resolve().parent.parent
STAGES = ("dev", "staging", "prod")
STACK_IDS = (
    "MlInference-Network",
    "MlInference-Lambda",
    "MlInference-Fargate",
    "MlInference-SageMaker",
    "MlInference-Eks",
    "MlInference-Observability",
    "MlInference-Training",
)

_ASSET_HASH = re.compile(r"[0-9a-f]{64}")
_VERSION_ID = re.compile(r"(CurrentVersion[0-9A-F]{8})[0-9a-f]{32}")
# cdk-assets' destination ids in the pipeline's publish commands end with a hash of the asset too.
_DESTINATION_ID = re.compile(r"(<asset-hash>:current_account-[a-z0-9-]+?-)[0-9a-f]{8}\b")


def mask_hashes(template: dict[str, Any]) -> dict[str, Any]:
    """The template with asset hashes masked: they change with every file in inference/."""
    text = json.dumps(template, sort_keys=True)
    text = _ASSET_HASH.sub("<asset-hash>", text)
    text = _VERSION_ID.sub(r"\1<code-hash>", text)
    text = _DESTINATION_ID.sub(r"\1<hash>", text)
    return json.loads(text)


def cdk_json_context() -> dict[str, Any]:
    """The feature flags from cdk.json, so tests synthesize what `cdk synth` does."""
    return json.loads((REPO / "cdk.json").read_text())["context"]


@dataclass(frozen=True)
class SynthesizedStage:
    name: str
    outdir: Path
    templates: dict[str, dict[str, Any]]

    def template(self, stack_id: str):
        from aws_cdk.assertions import Template

        return Template.from_json(self.templates[stack_id])


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory):
    """stage name -> SynthesizedStage: the whole app of that stage, synthesized with cdk-nag on."""
    import aws_cdk as cdk

    from ml_inference_cdk.config import get_stage_config
    from ml_inference_cdk.stacks import build_app

    cache: dict[str, SynthesizedStage] = {}

    def get(stage: str) -> SynthesizedStage:
        if stage not in cache:
            outdir = tmp_path_factory.mktemp(f"cdk-{stage}")
            app = cdk.App(outdir=str(outdir), context=cdk_json_context())
            stacks = build_app(app, get_stage_config(stage))
            assembly = app.synth()
            templates = {
                stack_id: assembly.get_stack_artifact(stack.artifact_id).template
                for stack_id, stack in ((s.node.id, s) for s in stacks.values())
            }
            cache[stage] = SynthesizedStage(stage, outdir, templates)
        return cache[stage]

    return get


#: The certificate the `exposed` stage faces the internet with (never deployed).
EXPOSED_CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1234-5678-9abc-0123456789ab"


@pytest.fixture(scope="session")
def exposed(tmp_path_factory):
    """A stage on the internet: prod with a certificate, a domain and an admin role, its Fargate
    and EKS stacks (and their network) synthesized once with cdk-nag on. No default stage has a
    certificate, so this is where the web ACLs and HTTPS listeners meet the checkers."""
    import dataclasses

    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from ml_inference_cdk.config import get_stage_config
    from ml_inference_cdk.stacks import add_stacks

    config = dataclasses.replace(
        get_stage_config("prod"),
        targets=("Fargate", "Eks"),
        certificate_arn=EXPOSED_CERTIFICATE,
        hosted_zone_id="Z0123456789ABCDEFGHIJ",
        hosted_zone_name="example.com",
        domain_name="api.example.com",
        waf_rate_limit=300,
        eks_admin_role_arns=("arn:aws:iam::123456789012:role/platform-admin",),
    )
    outdir = tmp_path_factory.mktemp("cdk-exposed")
    app = cdk.App(outdir=str(outdir), context=cdk_json_context())
    stacks = add_stacks(app, config, env=cdk.Environment(region=config.region))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assembly = app.synth()
    templates = {stack.node.id: assembly.get_stack_artifact(stack.artifact_id).template for stack in stacks.values()}
    return SynthesizedStage("exposed", outdir, templates)

@dataclass(frozen=True)
class SynthesizedPipeline:
    outdir: Path
    #: The MlInference-Pipeline template.
    template: dict[str, Any]
    #: stage name -> stack id -> template, from the pipeline's nested stage assemblies.
    stages: dict[str, dict[str, dict[str, Any]]]
    #: The stack's attributes (stages, smoke steps), for tests that read the constructs.
    stack: Any


@pytest.fixture(scope="session")
def synthesized_pipeline(tmp_path_factory) -> SynthesizedPipeline:
    """MlInference-Pipeline as `make synth-pipeline` builds it (PipelineConfig's stages, cdk-nag on), once."""
    import aws_cdk as cdk

    from ml_inference_cdk.config import PIPELINE
    from ml_inference_cdk.stacks.pipeline_stack import build_pipeline_app

    outdir = tmp_path_factory.mktemp("cdk-pipeline")
    app = cdk.App(outdir=str(outdir), context=cdk_json_context())
    stack = build_pipeline_app(app, PIPELINE)
    assembly = app.synth()
    stages = {
        name: {
            stage_stack.node.id: stage.synth().get_stack_artifact(stage_stack.artifact_id).template
            for stage_stack in stage.stacks.values()
        }
        for name, stage in stack.stages.items()
    }
    return SynthesizedPipeline(outdir, assembly.get_stack_artifact(stack.artifact_id).template, stages, stack)
