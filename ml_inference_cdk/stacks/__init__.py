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
    common = {"env": env, "termination_protection": config.name == "prod"}

    def name(target: str) -> dict[str, str]:
        return {"stack_name": f"{STACK_PREFIX}-{target}-{config.name}"}

    network = NetworkStack(
        app,
        f"{STACK_PREFIX}-Network",
        config=config,
        description=f"ML inference: shared VPC ({config.name})",
        **name("Network"),
        **common,
    )
    lambda_stack = LambdaStack(
        app,
        f"{STACK_PREFIX}-Lambda",
        config=config,
        description=f"ML inference: Lambda target ({config.name})",
        **name("Lambda"),
        **common,
    )
    fargate = FargateStack(
        app,
        f"{STACK_PREFIX}-Fargate",
        config=config,
        network=network.network,
        description=f"ML inference: Fargate target ({config.name})",
        **name("Fargate"),
        **common,
    )
    sagemaker = SageMakerStack(
        app,
        f"{STACK_PREFIX}-SageMaker",
        config=config,
        network=network.network,
        description=f"ML inference: SageMaker endpoint and batch transform ({config.name})",
        **name("SageMaker"),
        **common,
    )
    eks = EksStack(
        app,
        f"{STACK_PREFIX}-Eks",
        config=config,
        network=network.network,
        description=f"ML inference: EKS Auto Mode target ({config.name})",
        **name("Eks"),
        **common,
    )
    stacks: dict[str, Stack] = {"Network": network, "Lambda": lambda_stack, "Fargate": fargate, "SageMaker": sagemaker}
    stacks["Eks"] = eks
    for stack in stacks.values():
        for key, value in config.tags.items():
            Tags.of(stack).add(key, value)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stacks


__all__ = ["build_app", "EksStack", "FargateStack", "LambdaStack", "NetworkStack", "SageMakerStack", "STACK_PREFIX"]
