"""MlInference-Lambda: the inference container as a Lambda function."""

from __future__ import annotations

from typing import Any, Optional

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_codedeploy as codedeploy
from constructs import Construct

from ..config import StageConfig
from ..constructs.lambda_inference import LambdaInference
from ..constructs.model_image import ModelImage
from ..constructs.network import SharedNetwork
from .monitoring import service_monitoring


class LambdaStack(Stack):
    """A ModelImage and a LambdaInference sized by the stage (no VPC unless a network is given)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        network: Optional[SharedNetwork] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        #: The inference image.
        self.image = ModelImage(self, "Image")
        #: The function and its endpoint.
        self.inference = LambdaInference(
            self,
            "Sentiment",
            image=self.image,
            # This app serves the sentiment model: the library's default description is generic.
            description=f"Sentiment inference ({self.image.model_version})",
            memory_mib=config.lambda_memory_mib,
            timeout=Duration.seconds(config.lambda_timeout_seconds),
            reserved_concurrency=config.lambda_reserved_concurrency,
            provisioned_concurrency=config.lambda_provisioned_concurrency,
            log_retention=config.log_retention,
            removal_policy=config.removal_policy,
            vpc=network.vpc if network is not None else None,
            warmup_interval=(
                Duration.minutes(config.lambda_warmup_minutes) if config.lambda_warmup_minutes else None
            ),
            error_alarm_threshold=config.alarm_error_count,
            throttle_alarm_threshold=config.alarm_throttle_count,
            p99_duration_alarm_threshold=Duration.millis(config.alarm_p99_duration_ms),
            deployment_config=(
                codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES
                if config.lambda_canary_deployment
                else None
            ),
            monitoring=service_monitoring(config),
        )
        if self.inference.url is not None:
            CfnOutput(self, "Url", value=self.inference.url, description="Inference endpoint (SigV4-signed requests)")
        CfnOutput(self, "FunctionName", value=self.inference.function.function_name)
        CfnOutput(self, "AliasArn", value=self.inference.alias.function_arn, description="The live alias")
