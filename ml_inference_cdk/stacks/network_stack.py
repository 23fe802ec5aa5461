"""MlInference-Network: the shared VPC of a stage."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Stack, Validations
from constructs import Construct

from ..config import StageConfig
from ..constructs.network import SharedNetwork


class NetworkStack(Stack):
    """The stage's SharedNetwork, for the targets that run in a VPC."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._zones = config.zones
        #: The stage's network.
        self.network = SharedNetwork(
            self,
            "Network",
            max_azs=config.max_azs,
            nat_gateways=config.nat_gateways,
            flow_log_retention=config.flow_log_retention,
            removal_policy=config.removal_policy,
        )
        if self._zones:
            Validations.of(self.network.vpc).acknowledge(
                Acknowledgment(
                    id="CloudFormation-Validate::W3010",
                    reason="A stage pinned to an account names its zones (StageConfig.availability_zones) so "
                    "synth needs no lookup and no credentials; without an account they come from Fn::GetAZs.",
                )
            )
        CfnOutput(self, "VpcId", value=self.network.vpc.vpc_id, description="The shared VPC")

    @property
    def availability_zones(self) -> list[str]:
        """The stage's zones when it pins an account: the CDK would look them up (with
        credentials) otherwise. Without an account, CloudFormation's Fn::GetAZs as usual."""
        if self._zones:
            return list(self._zones)
        return super().availability_zones
