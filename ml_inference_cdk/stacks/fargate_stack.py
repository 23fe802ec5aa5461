"""MlInference-Fargate: the inference server on ECS Fargate behind an ALB."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from ..config import StageConfig
from ..constructs.fargate_inference import FargateInference
from ..constructs.model_image import ModelImage
from ..constructs.network import SharedNetwork
from .monitoring import service_monitoring, trace_collector


class FargateStack(Stack):
    """A ModelImage and a FargateInference on the stage's SharedNetwork."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, network: SharedNetwork, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        #: The inference image.
        self.image = ModelImage(self, "Image")
        #: The service and its load balancer.
        self.inference = FargateInference(
            self,
            "Service",
            image=self.image,
            vpc=network.vpc,
            cpu=config.fargate_cpu,
            memory_mib=config.fargate_memory_mib,
            min_tasks=config.fargate_min_tasks,
            max_tasks=config.fargate_max_tasks,
            spot_weight=config.fargate_spot_weight,
            on_demand_base=config.fargate_on_demand_base,
            log_retention=config.log_retention,
            removal_policy=config.removal_policy,
            http_5xx_alarm_threshold=config.alarm_http_5xx_count,
            p99_latency_alarm_threshold=Duration.millis(config.alarm_p99_latency_ms),
            monitoring=service_monitoring(config),
            tracing=trace_collector(config),
            rollback_on_alarms=config.fargate_rollback_on_alarms,
        )
        CfnOutput(self, "Url", value=self.inference.url, description="Inference endpoint (POST /predict)")
        CfnOutput(self, "ClusterName", value=self.inference.cluster.cluster_name)
        CfnOutput(self, "ServiceName", value=self.inference.service.service_name)
