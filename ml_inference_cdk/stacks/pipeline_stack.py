"""MlInference-Pipeline: every commit of the branch, through dev and staging, then (approved) to prod.

Source (a CodeConnections repository) -> Synth (the README's own `make test` and
`make synth-pipeline`) -> UpdatePipeline (self-mutation) -> Assets (each Docker image built once,
published without provenance attestations) -> one wave per stage: its stacks in parallel where
their dependencies allow (the network first), then one smoke step per deployed target. A failed
smoke step fails the stage, and nothing after it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from aws_cdk import (
    Annotations,
    App,
    CfnOutput,
    CfnRule,
    CfnRuleAssertion,
    Environment,
    Fn,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_logs as logs
from aws_cdk import pipelines
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from ..config import PLACEHOLDER_CONNECTION_ARN, PLACEHOLDER_REPOSITORY, PipelineConfig, StageConfig
from . import STACK_PREFIX
from .pipeline_checks import acknowledge_pipeline, log_artifact_access
from .smoke_steps import SMOKE_TARGETS, smoke_step
from .stage import MlInferenceStage

PIPELINE_STACK_ID = f"{STACK_PREFIX}-Pipeline"
#: Where `make synth-pipeline` writes the cloud assembly (the synth step's output).
PIPELINE_OUTDIR = "cdk.out.pipeline"
#: The synth step: what the README tells a person to run, in order.
SYNTH_COMMANDS = ("make test", "make synth-pipeline")
#: Turns off buildx's default provenance attestations: Lambda rejects the image indexes they make.
NO_ATTESTATIONS = {"BUILDX_NO_DEFAULT_ATTESTATIONS": codebuild.BuildEnvironmentVariable(value="1")}


class PipelineStack(Stack):
    """The delivery pipeline (aws_cdk.pipelines.CodePipeline) for the stages of `config`.

    Each stage is an `MlInferenceStage` of its StageConfig: the same stacks, CloudFormation names
    and logical ids as a direct `cdk deploy`, in the stage's account and region. A stage deploys
    the targets its StageConfig lists; each deployed target gets a smoke step.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        stages: Optional[Sequence[StageConfig]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        stage_configs = tuple(stages) if stages is not None else config.stage_configs()
        cross_account = _check_accounts(config, stage_configs)
        #: The pipeline's settings.
        self.config = config
        #: The repository and branch, through CodeConnections.
        self.source = pipelines.CodePipelineSource.connection(
            config.repository, config.branch, connection_arn=config.connection_arn, trigger_on_push=True
        )
        #: The synth step: `make test`, then `make synth-pipeline` into cdk.out.pipeline/.
        self.synth = pipelines.ShellStep("Synth", input=self.source, commands=list(SYNTH_COMMANDS),
                                         primary_output_directory=PIPELINE_OUTDIR)
        #: Every CodeBuild project's logs, with retention.
        self.log_group = logs.LogGroup(self, "BuildLogs", retention=config.log_retention,
                                       removal_policy=RemovalPolicy.RETAIN)
        #: The CDK Pipelines construct.
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            synth=self.synth,
            self_mutation=True,
            cli_version=config.cdk_cli_version,
            cdk_assets_cli_version=config.cdk_assets_version,
            cross_account_keys=cross_account,
            enable_key_rotation=cross_account or None,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=codebuild.LinuxBuildImage.STANDARD_8_0),
                logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)),
            ),
            # The test suite and four synths want more than the 3 GB of the small instance.
            synth_code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(compute_type=codebuild.ComputeType.MEDIUM)
            ),
            # The image build exports the model to ONNX (torch in the build stage): 7 GB is plenty.
            asset_publishing_code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(
                    compute_type=codebuild.ComputeType.MEDIUM, environment_variables=NO_ATTESTATIONS
                )
            ),
        )
        #: The stages by name, in order.
        self.stages: dict[str, MlInferenceStage] = {}
        #: The smoke steps by stage name, then target.
        self.smoke_steps: dict[str, dict[str, pipelines.CodeBuildStep]] = {}
        for stage_config in stage_configs:
            self._add_stage(stage_config)
        self.pipeline.build_pipeline()
        self._require_a_configured_source()
        self.template_options.metadata = {"cfn-lint": {"config": {"ignore_checks": [
            # The source rule compares literals on purpose: CloudFormation evaluates it before any change.
            "W8003",
            # CDK Pipelines writes the deploy actions' role ARNs with Fn::Join; CodePipeline takes them.
            "E3703",
            # A template-level list replaces .cfnlintrc's: the CDK's redundant DependsOn, as everywhere.
            "W3005",
        ]}}}
        CfnOutput(self, "PipelineName", value=self.pipeline.pipeline.pipeline_name,
                  description="The CodePipeline (aws codepipeline get-pipeline-state --name ...)")
        #: The bucket the artifact bucket's server access logs go to.
        self.artifact_access_log_bucket = log_artifact_access(self, self.pipeline.pipeline.artifact_bucket)
        acknowledge_pipeline(self.pipeline)

    def _add_stage(self, config: StageConfig) -> None:
        stage = MlInferenceStage(self, config.name.capitalize(), config=config)
        steps = {
            target: smoke_step(self.config, config, target, self.source)
            for target in stage.stacks
            if target in SMOKE_TARGETS
        }
        pre = []
        if config.name in self.config.approval_before:
            pre.append(pipelines.ManualApprovalStep(
                f"Promote-to-{config.name}",
                comment=f"Deploy to {config.name}: every stage before it passed its smoke tests.",
            ))
        self.pipeline.add_stage(stage, pre=pre, post=list(steps.values()))
        self.stages[config.name] = stage
        self.smoke_steps[config.name] = steps

    def _require_a_configured_source(self) -> None:
        # A placeholder synthesizes (CI, tests, a first look) but must never deploy: CloudFormation
        # evaluates this rule before it changes anything and fails with the description, one line.
        settings = (
            ("repository", self.config.repository, PLACEHOLDER_REPOSITORY, "owner/name of your repository"),
            ("connection_arn", self.config.connection_arn, PLACEHOLDER_CONNECTION_ARN,
             "the ARN of your CodeConnections connection"),
        )
        CfnRule(
            self,
            "SourceIsConfigured",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_not(Fn.condition_equals(value, placeholder)),
                    assert_description=f"PipelineConfig.{name} is still the placeholder {placeholder}: set it to "
                    f"{what} in ml_inference_cdk/config.py (README: Delivery pipeline), then deploy again",
                )
                for name, value, placeholder, what in settings
            ],
        )
        if self.config.placeholders:
            Annotations.of(self).add_warning_v2(
                "ml-inference:pipeline-source-placeholder",
                f"the pipeline's source is a placeholder ({', '.join(self.config.placeholders)}): it synthesizes, "
                "but a deploy fails until you set them in ml_inference_cdk/config.py",
            )


def _check_accounts(config: PipelineConfig, stages: Sequence[StageConfig]) -> bool:
    """Whether a stage lives in another account than the pipeline (so artifacts need KMS keys
    those accounts can use); ValueError where that cannot work."""
    other = [stage for stage in stages if stage.account and stage.account != config.account]
    if not other:
        return False
    if config.account is None:
        raise ValueError(
            f"stage {other[0].name!r} names account {other[0].account}: set PipelineConfig.account too, "
            "so the pipeline knows which stages live in other accounts"
        )
    missing = [stage.name for stage in other if not stage.smoke_role_arn]
    if missing:
        raise ValueError(
            f"stages {', '.join(missing)} live in other accounts than the pipeline: give each a smoke_role_arn "
            "(a role there that the smoke steps assume; README: Delivery pipeline)"
        )
    return True


def build_pipeline_app(app: App, config: PipelineConfig) -> PipelineStack:
    """Add MlInference-Pipeline (and so every stage's stacks) to `app`, with cdk-nag on the whole app."""
    stack = PipelineStack(
        app,
        PIPELINE_STACK_ID,
        config=config,
        description="ML inference: the delivery pipeline (dev, staging, prod)",
        stack_name=PIPELINE_STACK_ID,
        env=Environment(account=config.account, region=config.region),
        termination_protection=True,
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


__all__ = ["PIPELINE_OUTDIR", "PIPELINE_STACK_ID", "PipelineStack", "SYNTH_COMMANDS", "build_pipeline_app"]
