"""How SageMaker runs an endpoint: one `capacity` value, built by `EndpointCapacity`'s static methods.

    EndpointCapacity.real_time(instance_type="ml.c5.large", min_instances=2, max_instances=6)
    EndpointCapacity.serverless(memory_mib=3072, max_concurrency=5)
    EndpointCapacity.asynchronous(max_instances=2)

Each kind checks its own options when it is built and knows what it adds to the endpoint
(production variant, container settings, autoscaling), so the endpoint never asks which it got.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping
from typing import Any, Optional

from aws_cdk import Aws, Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from .._alarms import Evaluation, new_alarm

#: The one production variant every endpoint config here has.
VARIANT_NAME = "AllTraffic"
#: What async endpoints raise the service's request limits to (large payloads are their point).
ASYNC_ENVIRONMENT: Mapping[str, str] = {"MAX_BATCH_SIZE": "1024", "MAX_BODY_BYTES": str(16 * 1024 * 1024)}

INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
# Instance families whose volumes are NVMe instance storage: SageMaker rejects a KmsKeyId for them
# (the storage is encrypted by the hardware).
_INSTANCE_STORAGE_FAMILY = re.compile(r"^ml\.([a-z]+\d+[a-z]*d[a-z]*|g5|g6|g6e|p4de?|p5e?|inf2|trn1n?)\.")
# NVIDIA GPU instance families: the endpoint serves the image's CUDA variant there.
_GPU_FAMILY = re.compile(r"^ml\.(g4dn|g5|g6|g6e|gr6|p3|p3dn|p4d|p4de|p5|p5e|p5en)\.")


def has_instance_storage(instance_type: str) -> bool:
    """Whether `instance_type` stores on NVMe instance storage (no KMS key for its volume)."""
    return bool(_INSTANCE_STORAGE_FAMILY.match(instance_type))


def is_gpu_instance(instance_type: str) -> bool:
    """Whether `instance_type` has NVIDIA GPUs."""
    return bool(_GPU_FAMILY.match(instance_type))


def async_environment(max_concurrent_invocations: int) -> dict[str, str]:
    """The container settings of an async endpoint: `ASYNC_ENVIRONMENT`, and a batcher queue that
    holds every request SageMaker may send at once. SageMaker already queues (and bounds) the
    work, so the container must never refuse what it was sent: a refusal would fail the request."""
    return {
        **ASYNC_ENVIRONMENT,
        "QUEUE_MAX_TEXTS": str(max_concurrent_invocations * int(ASYNC_ENVIRONMENT["MAX_BATCH_SIZE"])),
        "QUEUE_MAX_SECONDS": "0",
    }


class EndpointMode(enum.Enum):
    """How SageMaker runs the endpoint (what `EndpointCapacity` built)."""

    #: Instances always on: steady traffic, low latency, VPC placement, blue/green updates.
    REAL_TIME = "real-time"
    #: Capacity on demand, billed per request: intermittent traffic that tolerates cold starts.
    SERVERLESS = "serverless"
    #: Requests queued through S3, answers to S3 and SNS: large payloads, long jobs, scale to zero.
    ASYNC = "async"


@dataclasses.dataclass(frozen=True)
class TrafficShifting:
    """How a blue/green update moves traffic to the new fleet: `canary(...)`, `linear(...)` or
    `all_at_once(...)`. Each waits `wait` between steps and rolls back if an alarm fires."""

    type: str
    wait: Duration
    size_percent: Optional[int] = None

    def __post_init__(self) -> None:
        if self.size_percent is not None and not 1 <= self.size_percent <= 100:
            raise ValueError(f"traffic shifting size must be 1-100 percent, got {self.size_percent}")
        if not 0 <= self.wait.to_seconds() <= 3600:
            raise ValueError("traffic shifting wait must be at most one hour")

    @classmethod
    def canary(cls, *, percent: int = 10, wait: Optional[Duration] = None) -> "TrafficShifting":
        """`percent` of the capacity first, the rest after `wait` (default 5 minutes)."""
        return cls("CANARY", wait or Duration.minutes(5), percent)

    @classmethod
    def linear(cls, *, step_percent: int = 25, wait: Optional[Duration] = None) -> "TrafficShifting":
        """`step_percent` more of the capacity every `wait` (default 2 minutes)."""
        return cls("LINEAR", wait or Duration.minutes(2), step_percent)

    @classmethod
    def all_at_once(cls, *, wait: Optional[Duration] = None) -> "TrafficShifting":
        """All traffic at once, then `wait` (default 5 minutes) of baking on the alarms."""
        return cls("ALL_AT_ONCE", wait or Duration.minutes(5))


class EndpointCapacity:
    """What runs a SageMaker endpoint. Build one with `real_time()`, `serverless()` or
    `asynchronous()`; the base class holds what every kind answers, with the defaults."""

    # What every kind answers (values on the kinds; annotations only, so dataclass fields of the
    # kinds get no inherited defaults):
    #: The kind of endpoint this capacity makes.
    mode: EndpointMode
    #: Whether the model may run in a VPC (serverless endpoints cannot).
    supports_vpc: bool
    #: The instance type, for instance-backed kinds; None for serverless.
    instance_type: Optional[str]
    #: The share of requests captured to S3 (1-100), or None.
    data_capture_percent: Optional[int]
    #: Blue/green traffic shifting with alarm rollback (real time only), or None.
    traffic_shifting: Optional[TrafficShifting]

    @staticmethod
    def real_time(
        *,
        instance_type: str = "ml.c5.large",
        initial_instance_count: int = 1,
        min_instances: int = 1,
        max_instances: int = 4,
        invocations_per_instance: int = 600,
        cpu_target_percent: Optional[float] = None,
        scale_in_cooldown: Optional[Duration] = None,
        scale_out_cooldown: Optional[Duration] = None,
        data_capture_percent: Optional[int] = None,
        traffic_shifting: Optional[TrafficShifting] = TrafficShifting.canary(),
    ) -> "RealTimeCapacity":
        """Instances behind the endpoint, scaled on invocations per instance.

        :param instance_type: Default ml.c5.large (2 vCPU, 4 GiB: the size of a 2 vCPU / 4 GB
            Fargate task, and the instance the cost model prices).
        :param initial_instance_count: instances at creation. Default 1.
        :param min_instances: autoscaling minimum. Default 1.
        :param max_instances: autoscaling maximum (equal to the minimum: no autoscaling). Default 4.
        :param invocations_per_instance: invocations per instance per minute that target
            tracking keeps. Default 600 (10 requests/s, about half of what one 2-vCPU instance
            answers).
        :param cpu_target_percent: also track CPUUtilization at this value; SageMaker sums it
            over the instance's vCPUs (a 2-vCPU instance goes to 200). Default: none.
        :param scale_in_cooldown: Default 5 minutes. :param scale_out_cooldown: Default 1 minute.
        :param data_capture_percent: capture this share of requests and answers to S3 (1-100).
            Default: none, no capture.
        :param traffic_shifting: blue/green updates with this traffic shifting and auto-rollback
            on the endpoint's latency and 5xx alarms. Default `TrafficShifting.canary()`; None
            updates with SageMaker's default (all at once, no alarm rollback).
        """
        return RealTimeCapacity(
            instance_type=instance_type,
            initial_instance_count=initial_instance_count,
            min_instances=min_instances,
            max_instances=max_instances,
            invocations_per_instance=invocations_per_instance,
            cpu_target_percent=cpu_target_percent,
            scale_in_cooldown=scale_in_cooldown or Duration.minutes(5),
            scale_out_cooldown=scale_out_cooldown or Duration.minutes(1),
            data_capture_percent=data_capture_percent,
            traffic_shifting=traffic_shifting,
        )

    @staticmethod
    def serverless(
        *, memory_mib: int = 3072, max_concurrency: int = 5, provisioned_concurrency: Optional[int] = None
    ) -> "ServerlessCapacity":
        """SageMaker starts capacity per request and bills per request; no VPC, network
        isolation or data capture (SageMaker offers none of them for serverless endpoints).

        :param memory_mib: 1024-6144, a multiple of 1024. Default 3072 (the model fits with
            room; vCPUs grow with memory).
        :param max_concurrency: concurrent invocations, 1-200. Default 5.
        :param provisioned_concurrency: invocations kept warm (no cold start), at most
            `max_concurrency`. Default: none.
        """
        return ServerlessCapacity(
            memory_mib=memory_mib, max_concurrency=max_concurrency, provisioned_concurrency=provisioned_concurrency
        )

    @staticmethod
    def asynchronous(
        *,
        instance_type: str = "ml.c5.large",
        initial_instance_count: int = 1,
        min_instances: int = 0,
        max_instances: int = 2,
        backlog_per_instance: int = 5,
        max_concurrent_invocations_per_instance: int = 4,
        scale_in_cooldown: Optional[Duration] = None,
        scale_out_cooldown: Optional[Duration] = None,
        data_capture_percent: Optional[int] = None,
    ) -> "AsyncCapacity":
        """Requests queue in SageMaker; inputs and answers live in S3, with SNS notifications.

        :param instance_type: Default ml.c5.large.
        :param initial_instance_count: instances at creation (SageMaker needs at least 1;
            scaling then takes it to 0 when the queue is empty). Default 1.
        :param min_instances: autoscaling minimum. Default 0: nothing runs, nothing is billed,
            while the queue is empty.
        :param max_instances: autoscaling maximum. Default 2.
        :param backlog_per_instance: queued requests per instance that target tracking keeps.
            Default 5.
        :param max_concurrent_invocations_per_instance: requests SageMaker sends one instance at
            once. Default 4.
        :param scale_in_cooldown: Default 10 minutes. :param scale_out_cooldown: Default 5 minutes.
        :param data_capture_percent: as in real time. Default: none.
        """
        return AsyncCapacity(
            instance_type=instance_type,
            initial_instance_count=initial_instance_count,
            min_instances=min_instances,
            max_instances=max_instances,
            backlog_per_instance=backlog_per_instance,
            max_concurrent_invocations_per_instance=max_concurrent_invocations_per_instance,
            scale_in_cooldown=scale_in_cooldown or Duration.minutes(10),
            scale_out_cooldown=scale_out_cooldown or Duration.minutes(5),
            data_capture_percent=data_capture_percent,
        )

    # -- what the endpoint asks of every kind ------------------------------------------------

    @property
    def network_isolation_default(self) -> bool:
        """Whether the container runs without network access unless told otherwise."""
        return True

    @property
    def default_overhead_latency(self) -> Duration:
        """The OverheadLatency p99 that raises the alarm by default."""
        return Duration.millis(250)

    @property
    def uses_gpu(self) -> bool:
        """Whether the endpoint runs on GPU instances (and so serves the image's CUDA variant)."""
        return self.instance_type is not None and is_gpu_instance(self.instance_type)

    def environment(self) -> dict[str, str]:
        """Container settings this kind of endpoint needs."""
        return {}

    def variant(self) -> dict[str, Any]:
        """The production variant's properties for this kind (besides its name, model and weight)."""
        raise NotImplementedError

    def add_autoscaling(
        self, scope: Construct, endpoint_name: str
    ) -> tuple[Optional[appscaling.ScalableTarget], Optional[cloudwatch.Alarm]]:
        """Autoscaling of the variant's instances in `scope`, and an alarm that wakes it from zero
        (async only); (None, None) where nothing scales."""
        return None, None


def _check_instances(instance_type: str, initial: int, low: int, high: int, *, floor: int) -> None:
    if not INSTANCE_TYPE.match(instance_type):
        raise ValueError(f"instance_type {instance_type!r} is not a SageMaker instance type such as ml.c5.large")
    if initial < 1:
        raise ValueError(f"initial_instance_count must be at least 1 (SageMaker creates endpoints with one), got {initial}")
    if low < floor:
        raise ValueError(f"min_instances must be at least {floor}, got {low}")
    if high < max(low, 1):
        raise ValueError(f"max_instances ({high}) must be at least min_instances ({low}) and at least 1")
    if not low <= initial <= high and low != high:
        raise ValueError(f"initial_instance_count ({initial}) must lie between min_instances and max_instances")


def _check_capture(percent: Optional[int]) -> None:
    if percent is not None and not 1 <= percent <= 100:
        raise ValueError(f"data_capture_percent must be 1-100 (None turns capture off), got {percent}")


@dataclasses.dataclass(frozen=True)
class _InstanceCapacity(EndpointCapacity):
    """What real-time and async endpoints share: instances of one type, scaled between bounds."""

    instance_type: str
    initial_instance_count: int
    min_instances: int
    max_instances: int
    scale_in_cooldown: Duration
    scale_out_cooldown: Duration
    data_capture_percent: Optional[int]
    supports_vpc = True

    def variant(self) -> dict[str, Any]:
        return {
            "instance_type": self.instance_type,
            "initial_instance_count": self.initial_instance_count,
            # The model loads in seconds; the image pull is most of the start.
            "container_startup_health_check_timeout_in_seconds": 600,
            "model_data_download_timeout_in_seconds": 600,
        }

    def add_autoscaling(
        self, scope: Construct, endpoint_name: str
    ) -> tuple[Optional[appscaling.ScalableTarget], Optional[cloudwatch.Alarm]]:
        if self.min_instances == self.max_instances:
            return None, None
        target = appscaling.ScalableTarget(
            scope,
            "ScalableTarget",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{endpoint_name}/variant/{VARIANT_NAME}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=self.min_instances,
            max_capacity=self.max_instances,
            # Application Auto Scaling uses this service-linked role for SageMaker whatever role is
            # named; naming it keeps the CDK from creating a role with no permissions.
            role=iam.Role.from_role_arn(
                scope,
                "AutoScalingRole",
                f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/aws-service-role/"
                "sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
                mutable=False,
            ),
        )
        return target, self._scale(scope, target, endpoint_name)

    @property
    def _cooldowns(self) -> dict[str, Duration]:
        return {"scale_in_cooldown": self.scale_in_cooldown, "scale_out_cooldown": self.scale_out_cooldown}

    def _scale(
        self, scope: Construct, target: appscaling.ScalableTarget, endpoint_name: str
    ) -> Optional[cloudwatch.Alarm]:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class RealTimeCapacity(_InstanceCapacity):
    """A real-time endpoint's capacity: see `EndpointCapacity.real_time`."""

    invocations_per_instance: int = 600
    cpu_target_percent: Optional[float] = None
    traffic_shifting: Optional[TrafficShifting] = None
    mode = EndpointMode.REAL_TIME

    def __post_init__(self) -> None:
        _check_instances(self.instance_type, self.initial_instance_count, self.min_instances, self.max_instances, floor=1)
        if self.invocations_per_instance < 1:
            raise ValueError("invocations_per_instance must be at least 1")
        if self.cpu_target_percent is not None and self.cpu_target_percent <= 0:
            raise ValueError("cpu_target_percent must be positive")
        _check_capture(self.data_capture_percent)

    def _scale(
        self, scope: Construct, target: appscaling.ScalableTarget, endpoint_name: str
    ) -> Optional[cloudwatch.Alarm]:
        target.scale_to_track_metric(
            "InvocationsPerInstance",
            target_value=self.invocations_per_instance,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            **self._cooldowns,
        )
        if self.cpu_target_percent is not None:
            target.scale_to_track_metric(
                "Cpu",
                target_value=self.cpu_target_percent,
                custom_metric=cloudwatch.Metric(
                    namespace="/aws/sagemaker/Endpoints",
                    metric_name="CPUUtilization",
                    dimensions_map={"EndpointName": endpoint_name, "VariantName": VARIANT_NAME},
                    statistic="Average",
                ),
                **self._cooldowns,
            )
        return None


@dataclasses.dataclass(frozen=True)
class AsyncCapacity(_InstanceCapacity):
    """An async endpoint's capacity: see `EndpointCapacity.asynchronous`."""

    backlog_per_instance: int = 5
    max_concurrent_invocations_per_instance: int = 4
    mode = EndpointMode.ASYNC
    traffic_shifting = None  # SageMaker offers blue/green updates for real-time endpoints only

    def __post_init__(self) -> None:
        _check_instances(self.instance_type, self.initial_instance_count, self.min_instances, self.max_instances, floor=0)
        if self.backlog_per_instance < 1:
            raise ValueError("backlog_per_instance must be at least 1")
        if not 1 <= self.max_concurrent_invocations_per_instance <= 1000:
            raise ValueError("max_concurrent_invocations_per_instance must be 1-1000")
        _check_capture(self.data_capture_percent)

    def environment(self) -> dict[str, str]:
        return async_environment(self.max_concurrent_invocations_per_instance)

    def _scale(
        self, scope: Construct, target: appscaling.ScalableTarget, endpoint_name: str
    ) -> Optional[cloudwatch.Alarm]:
        # Keep the backlog per instance near the target, down to zero instances ...
        target.scale_to_track_metric(
            "BacklogPerInstance",
            target_value=self.backlog_per_instance,
            custom_metric=cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name="ApproximateBacklogSizePerInstance",
                dimensions_map={"EndpointName": endpoint_name},
                statistic="Average",
            ),
            **self._cooldowns,
        )
        # ... and wake from zero: target tracking cannot divide a backlog by zero instances.
        wake = appscaling.StepScalingAction(
            scope,
            "WakeFromZero",
            scaling_target=target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=self.scale_out_cooldown,
            metric_aggregation_type=appscaling.MetricAggregationType.AVERAGE,
        )
        wake.add_adjustment(adjustment=1, lower_bound=0)
        alarm = new_alarm(
            scope,
            "HasBacklogWithoutCapacityAlarm",
            description="Requests wait and no instance runs: scale out from zero",
            metric=backlog_without_capacity_metric(endpoint_name, period=Duration.minutes(1), statistic="Average"),
            threshold=1,
            evaluation=Evaluation(
                cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=2,
                datapoints_to_alarm=2,
            ),
        )
        alarm.add_alarm_action(cloudwatch_actions.ApplicationScalingAction(wake))
        return alarm


@dataclasses.dataclass(frozen=True)
class ServerlessCapacity(EndpointCapacity):
    """A serverless endpoint's capacity: see `EndpointCapacity.serverless`."""

    memory_mib: int = 3072
    max_concurrency: int = 5
    provisioned_concurrency: Optional[int] = None
    mode = EndpointMode.SERVERLESS
    supports_vpc = False
    instance_type = None
    data_capture_percent = None
    traffic_shifting = None

    def __post_init__(self) -> None:
        if self.memory_mib not in range(1024, 6144 + 1, 1024):
            raise ValueError(f"serverless memory_mib must be 1024, 2048, 3072, 4096, 5120 or 6144, got {self.memory_mib}")
        if not 1 <= self.max_concurrency <= 200:
            raise ValueError(f"serverless max_concurrency must be 1-200, got {self.max_concurrency}")
        provisioned = self.provisioned_concurrency
        if provisioned is not None and not 1 <= provisioned <= self.max_concurrency:
            raise ValueError(
                f"provisioned_concurrency must be 1-{self.max_concurrency} (at most max_concurrency), got {provisioned}"
            )

    @property
    def network_isolation_default(self) -> bool:
        return False  # SageMaker does not support it for serverless endpoints

    @property
    def default_overhead_latency(self) -> Duration:
        return Duration.seconds(10)  # cold starts land in OverheadLatency

    def variant(self) -> dict[str, Any]:
        return {
            "serverless_config": sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                memory_size_in_mb=self.memory_mib,
                max_concurrency=self.max_concurrency,
                provisioned_concurrency=self.provisioned_concurrency,
            )
        }


def backlog_without_capacity_metric(endpoint_name: str, **options: Any) -> cloudwatch.Metric:
    """Async: 1 while requests wait and no instance runs (average per period by default)."""
    return cloudwatch.Metric(
        namespace="AWS/SageMaker",
        metric_name="HasBacklogWithoutCapacity",
        dimensions_map={"EndpointName": endpoint_name},
        **{"statistic": "Average", **options},
    )


__all__ = [
    "ASYNC_ENVIRONMENT",
    "AsyncCapacity",
    "EndpointCapacity",
    "EndpointMode",
    "RealTimeCapacity",
    "ServerlessCapacity",
    "TrafficShifting",
    "VARIANT_NAME",
    "async_environment",
    "has_instance_storage",
    "is_gpu_instance",
]
