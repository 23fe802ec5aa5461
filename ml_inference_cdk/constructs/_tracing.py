"""Tracing on Fargate and EKS: the AWS Distro for OpenTelemetry (ADOT) collector as a sidecar that
takes the app's OTLP spans on localhost and sends them to X-Ray.

One collector configuration for both targets (built here as data); the sidecar needs only
xray:PutTraceSegments, writes nothing to disk, and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

#: The ADOT collector release the sidecar runs (Amazon ECR Public; pinned, never `latest`).
ADOT_COLLECTOR_IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0"
#: Where the app sends spans (OTLP over HTTP), inside the task or pod.
OTLP_HTTP_ENDPOINT = "http://localhost:4318"
#: The collector's health_check extension (the image's /healthcheck binary asks it).
HEALTH_CHECK_PORT = 13133
#: The X-Ray actions the awsxray exporter calls (it sends segments; sampling is the app's).
XRAY_ACTIONS = ("xray:PutTraceSegments",)


@dataclasses.dataclass(frozen=True)
class TraceCollector:
    """The OpenTelemetry collector sidecar that sends the service's spans to X-Ray.

    `image`: the collector image (an ADOT release; mirror it into your own registry for subnets
    without a route to Amazon ECR Public). `memory_limit_mib`: the sidecar's hard memory limit
    (the collector sheds load at 80% of it). `cpu_millicores`: the CPU it may use (EKS limit;
    on Fargate, CPU units reserved in the task).
    """

    image: str = ADOT_COLLECTOR_IMAGE
    memory_limit_mib: int = 256
    cpu_millicores: int = 250

    def __post_init__(self) -> None:
        if not self.image or any(c.isspace() for c in self.image):
            raise ValueError(f"the collector image must be an image reference, got {self.image!r}")
        untagged = ":" not in self.image.rsplit("/", 1)[-1] and "@" not in self.image
        if untagged or self.image.endswith(":latest"):
            raise ValueError(f"pin the collector image to a release tag or digest, got {self.image!r}")
        if not 64 <= self.memory_limit_mib <= 4096:
            raise ValueError(f"memory_limit_mib must be between 64 and 4096, got {self.memory_limit_mib}")
        if not 50 <= self.cpu_millicores <= 4000:
            raise ValueError(f"cpu_millicores must be between 50 and 4000, got {self.cpu_millicores}")

    def config(self, region: str) -> dict[str, Any]:
        """The collector configuration: OTLP/HTTP on localhost in, X-Ray in `region` out."""
        return {
            "extensions": {"health_check": {"endpoint": f"127.0.0.1:{HEALTH_CHECK_PORT}"}},
            "receivers": {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:4318"}}}},
            "processors": {
                # Shed load before the container's hard limit kills it.
                "memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 25},
                "batch/traces": {"timeout": "1s", "send_batch_size": 50},
            },
            "exporters": {"awsxray": {"region": region}},
            "service": {
                "extensions": ["health_check"],
                "pipelines": {
                    "traces": {
                        "receivers": ["otlp"],
                        "processors": ["memory_limiter", "batch/traces"],
                        "exporters": ["awsxray"],
                    }
                },
                # No self-metrics listener: nothing but the app should reach the sidecar.
                "telemetry": {"logs": {"level": "warn"}, "metrics": {"level": "none"}},
            },
        }

    def config_content(self, region: str) -> str:
        """The configuration as the collector reads it from AOT_CONFIG_CONTENT (JSON is YAML)."""
        return json.dumps(self.config(region), sort_keys=True, separators=(",", ":"))


def app_tracing_environment(service_name: str) -> dict[str, str]:
    """What the inference container needs to export spans to the sidecar."""
    return {"TRACING": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": OTLP_HTTP_ENDPOINT, "OTEL_SERVICE_NAME": service_name}


def grant_put_traces(role: iam.IRole, scope: Construct) -> None:
    """Let `role` send trace segments (X-Ray takes no resource-level scoping for it)."""
    role.add_to_principal_policy(iam.PolicyStatement(actions=list(XRAY_ACTIONS), resources=["*"]))
    Validations.of(scope).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="xray:PutTraceSegments supports no resource-level permissions; it is the only action "
            "the tracing sidecar is given.",
        )
    )


def add_ecs_collector(
    task_definition: ecs.TaskDefinition, collector: TraceCollector, *, log_group: logs.ILogGroup
) -> ecs.ContainerDefinition:
    """The collector as a non-essential sidecar of `task_definition`: read-only root filesystem, its
    own log stream prefix, a health check, restarted by ECS if it exits."""
    container = task_definition.add_container(
        "OtelCollector",
        image=ecs.ContainerImage.from_registry(collector.image),
        essential=False,
        cpu=collector.cpu_millicores * 1024 // 1000,
        memory_limit_mib=collector.memory_limit_mib,
        environment={"AOT_CONFIG_CONTENT": collector.config_content(Stack.of(task_definition).region)},
        logging=ecs.LogDrivers.aws_logs(stream_prefix="otel-collector", log_group=log_group),
        readonly_root_filesystem=True,
        health_check=ecs.HealthCheck(
            command=["CMD", "/healthcheck"],
            interval=Duration.seconds(15),
            timeout=Duration.seconds(5),
            retries=3,
            start_period=Duration.seconds(15),
        ),
        # Tracing is not serving: a collector crash must not stop the task, only restart itself.
        enable_restart_policy=True,
    )
    grant_put_traces(task_definition.task_role, task_definition.task_role)
    return container


__all__ = [
    "ADOT_COLLECTOR_IMAGE",
    "OTLP_HTTP_ENDPOINT",
    "TraceCollector",
    "add_ecs_collector",
    "app_tracing_environment",
    "grant_put_traces",
]
