"""MlInference-Fargate: the inference server on ECS Fargate behind an ALB."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from constructs import Construct

from ..config import StageConfig
from ..constructs.fargate_inference import FargateInference
from ..constructs.model_image import ModelImage
from ..constructs.network import SharedNetwork
from .monitoring import service_monitoring, trace_collector


class FargateStack(Stack):
    """A ModelImage and a FargateInference on the stage's SharedNetwork: internet-facing on HTTPS
    with the stage's certificate (and an alias record for its domain), else internal."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, network: SharedNetwork, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        #: The inference image.
        self.image = ModelImage(self, "Image", model_directory=config.model_directory)
        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", config.certificate_arn)
            if config.certificate_arn
            else None
        )
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
            certificate=certificate,
            rate_limit=config.waf_rate_limit,
            deletion_protection=config.load_balancer_deletion_protection,
            log_retention=config.log_retention,
            removal_policy=config.removal_policy,
            http_5xx_alarm_threshold=config.alarm_http_5xx_count,
            p99_latency_alarm_threshold=Duration.millis(config.alarm_p99_latency_ms),
            monitoring=service_monitoring(config),
            tracing=trace_collector(config),
            rollback_on_alarms=config.fargate_rollback_on_alarms,
        )
        #: The alias record for the stage's domain, or None.
        self.record: route53.ARecord | None = None
        url = self.inference.url
        if config.domain_name:
            assert config.hosted_zone_id and config.hosted_zone_name
            zone = route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=config.hosted_zone_id, zone_name=config.hosted_zone_name
            )
            self.record = route53.ARecord(
                self,
                "AliasRecord",
                zone=zone,
                record_name=config.domain_name,
                target=route53.RecordTarget.from_alias(route53_targets.LoadBalancerTarget(self.inference.load_balancer)),
            )
            url = f"https://{config.domain_name.rstrip('.')}"
        CfnOutput(self, "Url", value=url, description="Inference endpoint (POST /predict)")
        CfnOutput(self, "ClusterName", value=self.inference.cluster.cluster_name)
        CfnOutput(self, "ServiceName", value=self.inference.service.service_name)
