"""The pipeline's smoke steps: `ml-inference smoke` after each stage's deploy, one CodeBuild step
per deployed target, each allowed to do exactly what its check does in that stage's account.

Stack resources the steps call have names CloudFormation generates, so the permissions name them
by the stage's stack-name prefix (functions, buckets) or by the stage's tags (endpoints, keys).
"""

from __future__ import annotations

import shlex

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines

from ..config import PROJECT, PipelineConfig, StageConfig
from . import STACK_PREFIX

#: The targets with an endpoint to smoke-test; a stage's other stacks (network, observability) only deploy.
SMOKE_TARGETS = ("Lambda", "Fargate", "Eks", "SageMaker")
#: What the step installs: boto3 at the version the project pins (the CLI itself needs nothing else).
INSTALL = "python3 -m pip install --quiet \"$(grep '^boto3==' requirements-dev.txt)\""


def smoke_command(config: PipelineConfig, stage: StageConfig, target: str) -> str:
    """The command a smoke step runs; a person reruns the same one from a laptop."""
    args = [
        "python3", "-m", "ml_inference_cli", "smoke",
        "--stack", f"{STACK_PREFIX}-{target}", "--stage", stage.name, "--region", stage.region,
        "--labels", ",".join(stage.model_labels), "--p95-ms", str(config.smoke_p95_ms),
        "--wait", str(config.smoke_wait_seconds),
    ]
    if stage.smoke_role_arn:
        args += ["--role-arn", stage.smoke_role_arn]
    return shlex.join(args)


def smoke_step(
    config: PipelineConfig, stage: StageConfig, target: str, source: pipelines.IFileSetProducer
) -> pipelines.CodeBuildStep:
    """The smoke step of `target` in `stage`: the repository's CLI, run against the deployed stack."""
    return pipelines.CodeBuildStep(
        f"Smoke-{target}",
        input=source,
        install_commands=[INSTALL],
        commands=[smoke_command(config, stage, target)],
        role_policy_statements=smoke_statements(stage, target),
        # The wait for readiness, then a few hundred requests at most (async ones through S3).
        timeout=Duration.seconds(config.smoke_wait_seconds + 1200),
    )


def smoke_statements(stage: StageConfig, target: str) -> list[iam.PolicyStatement]:
    """What the smoke test of `target` calls in `stage`'s account; with a smoke role, only assuming it."""
    if stage.smoke_role_arn:
        return [iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[stage.smoke_role_arn])]
    account = stage.account or Aws.ACCOUNT_ID
    arn = _arn_builder(stage.region, account)
    stack_name = f"{STACK_PREFIX}-{target}-{stage.name}"
    statements = [
        iam.PolicyStatement(
            actions=["cloudformation:DescribeStacks"],
            resources=[arn("cloudformation", f"stack/{stack_name}/*")],
        )
    ]
    tagged = {"StringEquals": {"aws:ResourceTag/project": PROJECT, "aws:ResourceTag/stage": stage.name}}
    if target == "Lambda":
        statements.append(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunctionUrl"],
                # CloudFormation names the function after its stack: <stack name>-<logical id>-<suffix>.
                resources=[arn("lambda", f"function:{stack_name}-*")],
                conditions={"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
            )
        )
    elif target == "SageMaker":
        statements += _sagemaker_statements(stage, stack_name, arn, tagged)
    return statements


def _sagemaker_statements(stage: StageConfig, stack_name: str, arn, tagged: dict) -> list[iam.PolicyStatement]:
    actions = ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"]
    statements = []
    if stage.sagemaker_mode == "async":
        actions.append("sagemaker:InvokeEndpointAsync")
        # CloudFormation names the bucket after its stack, lowercased.
        bucket = f"arn:{Aws.PARTITION}:s3:::{stack_name.lower()}-*"
        statements += [
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[f"{bucket}/async-inputs/*"]),
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[f"{bucket}/async-outputs/*", f"{bucket}/async-failures/*"]
            ),
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[arn("kms", "key/*")],
                conditions={
                    "StringEquals": {
                        **tagged["StringEquals"],
                        "kms:ViaService": f"s3.{stage.region}.{Aws.URL_SUFFIX}",
                    }
                },
            ),
        ]
    statements.insert(0, iam.PolicyStatement(actions=actions, resources=[arn("sagemaker", "endpoint/*")], conditions=tagged))
    return statements


def _arn_builder(region: str, account: str):
    def arn(service: str, resource: str) -> str:
        return f"arn:{Aws.PARTITION}:{service}:{region}:{account}:{resource}"

    return arn


__all__ = ["SMOKE_TARGETS", "smoke_command", "smoke_statements", "smoke_step"]
