"""MlInference-Network: the shared VPC of a stage."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from ..config import StageConfig
from ..constructs.network import SharedNetwork


class NetworkStack(Stack):
    """The stage's SharedNetwork, for the targets that run in a VPC."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        #: The stage's network.
        self.network = SharedNetwork(
            self,
            "Network",
            max_azs=config.max_azs,
            nat_gateways=config.nat_gateways,
            flow_log_retention=config.flow_log_retention,
            removal_policy=config.removal_policy,
        )
        CfnOutput(self, "VpcId", value=self.network.vpc.vpc_id, description="The shared VPC")
