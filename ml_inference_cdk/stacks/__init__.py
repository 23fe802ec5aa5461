"""The app's stacks: they only compose constructs, one module per target."""

from __future__ import annotations

from aws_cdk import App, Environment, Stack, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from ..config import StageConfig
from .eks_stack import EksStack
from .fargate_stack import FargateStack
from .lambda_stack import LambdaStack
from .network_stack import NetworkStack
from .sagemaker_stack import SageMakerStack

STACK_PREFIX = "MlInference"


def build_app(app: App, config: StageConfig) -> dict[str, Stack]:
    """Add every stack of `config`'s stage to `app`, tagged, with cdk-nag AwsSolutions on.

    Stack ids are the same in every stage (`cdk deploy MlInference-Lambda`); the
    CloudFormation stack names carry the stage, so stages can share an account.
    """
    env = Environment(account=config.account, region=config.region)
    stacks: dict[str, Stack] = {}

    def add(target: str, stack_class: type[Stack], description: str, **props: object) -> Stack:
        stacks[target] = stack_class(
            app,
            f"{STACK_PREFIX}-{target}",
            config=config,
            description=f"ML inference: {description} ({config.name})",
            stack_name=f"{STACK_PREFIX}-{target}-{config.name}",
            env=env,
            termination_protection=config.name == "prod",
            **props,
        )
        return stacks[target]

    network = add("Network", NetworkStack, "shared VPC").network
    add("Lambda", LambdaStack, "Lambda target")
    add("Fargate", FargateStack, "Fargate target", network=network)
    add("SageMaker", SageMakerStack, "SageMaker endpoint and batch transform", network=network)
    add("Eks", EksStack, "EKS Auto Mode target", network=network)
    for stack in stacks.values():
        for key, value in config.tags.items():
            Tags.of(stack).add(key, value)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stacks


__all__ = ["build_app", "EksStack", "FargateStack", "LambdaStack", "NetworkStack", "SageMakerStack", "STACK_PREFIX"]
