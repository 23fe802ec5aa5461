"""The app's stacks: they only compose constructs, one module per target.

`add_stacks` builds one stage's stacks into any scope: the App for direct deploys
(`cdk deploy MlInference-Lambda -c stage=prod`, what `build_app` does), or an
`MlInferenceStage` for the delivery pipeline. Both give the same stack ids, CloudFormation names
and templates.
"""

from __future__ import annotations

from typing import Optional

from aws_cdk import App, Environment, Stack, Tags, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from ..config import StageConfig
from .eks_stack import EksStack
from .fargate_stack import FargateStack
from .lambda_stack import LambdaStack
from .network_stack import NetworkStack
from .observability_stack import ObservabilityStack
from .sagemaker_stack import SageMakerStack

STACK_PREFIX = "MlInference"


def add_stacks(scope: Construct, config: StageConfig, *, env: Optional[Environment] = None) -> dict[str, Stack]:
    """Add the stacks of `config`'s stage (its targets, the network they run in, and the
    observability stack that watches them) to `scope`, tagged. Keys are the target names
    ("Network", "Lambda", ..., "Observability").

    Stack ids are the same in every stage (`cdk deploy MlInference-Lambda`); the CloudFormation
    stack names carry the stage, so stages can share an account. `env`: the stacks' environment;
    default: the stage's account and region (None inside a Stage that sets its own).
    """
    stacks: dict[str, Stack] = {}

    def add(target: str, stack_class: type[Stack], description: str, **props: object) -> Stack:
        stacks[target] = stack_class(
            scope,
            f"{STACK_PREFIX}-{target}",
            config=config,
            description=f"ML inference: {description} ({config.name})",
            stack_name=f"{STACK_PREFIX}-{target}-{config.name}",
            env=env,
            termination_protection=config.name == "prod",
            **props,
        )
        return stacks[target]

    network = add("Network", NetworkStack, "shared VPC").network if config.needs_network else None
    if "Lambda" in config.targets:
        add("Lambda", LambdaStack, "Lambda target")
    if "Fargate" in config.targets:
        add("Fargate", FargateStack, "Fargate target", network=network)
    if "SageMaker" in config.targets:
        add("SageMaker", SageMakerStack, "SageMaker endpoint and batch transform", network=network)
    if "Eks" in config.targets:
        add("Eks", EksStack, "EKS Auto Mode target", network=network)
    targets = {target: stacks[target].inference for target in config.targets}  # type: ignore[attr-defined]
    add("Observability", ObservabilityStack, "dashboard, roll-up alarms and budget", targets=targets)
    for stack in stacks.values():
        for key, value in config.tags.items():
            Tags.of(stack).add(key, value)
    return stacks


def build_app(app: App, config: StageConfig) -> dict[str, Stack]:
    """Add every stack of `config`'s stage to `app`, with cdk-nag AwsSolutions on the whole app."""
    stacks = add_stacks(app, config, env=Environment(account=config.account, region=config.region))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stacks


__all__ = [
    "EksStack",
    "FargateStack",
    "LambdaStack",
    "NetworkStack",
    "ObservabilityStack",
    "STACK_PREFIX",
    "SageMakerStack",
    "add_stacks",
    "build_app",
]
