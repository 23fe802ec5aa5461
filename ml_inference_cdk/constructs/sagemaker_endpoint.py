"""SageMakerEndpoint: the inference server as a SageMaker real-time, serverless or async endpoint."""

from __future__ import annotations

import dataclasses
import enum
import gzip
import io
import re
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import jsii
from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    AssetHashType,
    Aws,
    BundlingOptions,
    BundlingOutput,
    DockerImage,
    Duration,
    FeatureFlags,
    ILocalBundling,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from ._alarms import encrypted_alarm_topic, notify_on_state_changes
from ._checks import iam5_resource_finding, skip_checkov
from .model_image import ModelImage
from .network import SharedNetwork

#: The one production variant every endpoint config here has.
VARIANT_NAME = "AllTraffic"
#: What the batch transform sends the container: one text per line, one record per request.
BATCH_CONTENT_TYPE = "text/plain"
#: What async endpoints raise the service's request limits to (large payloads are their point).
ASYNC_ENVIRONMENT: Mapping[str, str] = {"MAX_BATCH_SIZE": "1024", "MAX_BODY_BYTES": str(16 * 1024 * 1024)}


def async_environment(max_concurrent_invocations: int) -> dict[str, str]:
    """The container settings of an async endpoint: `ASYNC_ENVIRONMENT`, and a batcher queue that
    holds every request SageMaker may send at once. SageMaker already queues (and bounds) the
    work, so the container must never refuse what it was sent: a refusal would fail the request."""
    return {
        **ASYNC_ENVIRONMENT,
        "QUEUE_MAX_TEXTS": str(max_concurrent_invocations * int(ASYNC_ENVIRONMENT["MAX_BATCH_SIZE"])),
        "QUEUE_MAX_SECONDS": "0",
    }

_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
# Instance families whose volumes are NVMe instance storage: SageMaker rejects a KmsKeyId for them
# (the storage is encrypted by the hardware).
_INSTANCE_STORAGE_FAMILY = re.compile(r"^ml\.([a-z]+\d+[a-z]*d[a-z]*|g5|g6|g6e|p4de?|p5e?|inf2|trn1n?)\.")


class EndpointMode(enum.Enum):
    """How SageMaker runs the endpoint."""

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


@dataclasses.dataclass(frozen=True)
class RealTimeOptions:
    """Real-time endpoint: instances behind the endpoint, scaled on invocations per instance.

    :param instance_type: Default ml.c5.large (2 vCPU, 4 GiB: the size of a 2 vCPU / 4 GB
        Fargate task, and the instance the cost model prices).
    :param initial_instance_count: instances at creation. Default 1.
    :param min_instances: autoscaling minimum. Default 1.
    :param max_instances: autoscaling maximum (equal to the minimum: no autoscaling). Default 4.
    :param invocations_per_instance: invocations per instance per minute target tracking keeps.
        Default 600 (10 requests/s, about half of what one 2-vCPU instance answers).
    :param cpu_utilization_target: also track CPUUtilization at this value; SageMaker sums it
        over the instance's vCPUs (a 2-vCPU instance goes to 200). Default none.
    :param scale_in_cooldown: Default 5 minutes. :param scale_out_cooldown: Default 1 minute.
    :param data_capture_percent: capture this share of requests and answers to S3 (1-100).
        Default none: no capture.
    :param traffic_shifting: blue/green updates with this traffic shifting and auto-rollback on
        the endpoint's latency and 5xx alarms. Default `TrafficShifting.canary()`; None updates
        with SageMaker's default (all at once, no alarm rollback).
    """

    instance_type: str = "ml.c5.large"
    initial_instance_count: int = 1
    min_instances: int = 1
    max_instances: int = 4
    invocations_per_instance: int = 600
    cpu_utilization_target: Optional[float] = None
    scale_in_cooldown: Duration = dataclasses.field(default_factory=lambda: Duration.minutes(5))
    scale_out_cooldown: Duration = dataclasses.field(default_factory=lambda: Duration.minutes(1))
    data_capture_percent: Optional[int] = None
    traffic_shifting: Optional[TrafficShifting] = dataclasses.field(default_factory=TrafficShifting.canary)


@dataclasses.dataclass(frozen=True)
class ServerlessOptions:
    """Serverless endpoint: SageMaker starts capacity per request and bills per request.

    :param memory_mb: 1024-6144, a multiple of 1024. Default 3072 (the model and torch fit with
        room; vCPUs grow with memory).
    :param max_concurrency: concurrent invocations, 1-200. Default 5.
    :param provisioned_concurrency: invocations kept warm (no cold start), at most
        `max_concurrency`. Default none.
    """

    memory_mb: int = 3072
    max_concurrency: int = 5
    provisioned_concurrency: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class AsyncOptions:
    """Async endpoint: requests queue in SageMaker, inputs and answers live in S3.

    :param instance_type: Default ml.c5.large.
    :param initial_instance_count: instances at creation (SageMaker needs at least 1; scaling
        then takes it to 0 when the queue is empty). Default 1.
    :param min_instances: autoscaling minimum. Default 0: nothing runs, nothing is billed, while
        the queue is empty.
    :param max_instances: autoscaling maximum. Default 2.
    :param backlog_per_instance: queued requests per instance target tracking keeps. Default 5.
    :param max_concurrent_invocations_per_instance: requests SageMaker sends one instance at
        once. Default 4.
    :param scale_in_cooldown: Default 10 minutes. :param scale_out_cooldown: Default 5 minutes.
    :param data_capture_percent: as in real time. Default none.
    """

    instance_type: str = "ml.c5.large"
    initial_instance_count: int = 1
    min_instances: int = 0
    max_instances: int = 2
    backlog_per_instance: int = 5
    max_concurrent_invocations_per_instance: int = 4
    scale_in_cooldown: Duration = dataclasses.field(default_factory=lambda: Duration.minutes(10))
    scale_out_cooldown: Duration = dataclasses.field(default_factory=lambda: Duration.minutes(5))
    data_capture_percent: Optional[int] = None


@jsii.implements(ILocalBundling)
class _TarGzBundler:
    """Packs a model directory into model.tar.gz locally (no Docker), byte-for-byte reproducible."""

    def __init__(self, source: Path) -> None:
        self._source = source

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        write_model_archive(self._source, Path(output_dir) / "model.tar.gz")
        return True


def write_model_archive(source: Path, archive: Path) -> None:
    """Write `source`'s files into the gzipped tar `archive`, the layout SageMaker extracts to
    /opt/ml/model. Sorted names, zero times and owners: the same files give the same bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            info = tarfile.TarInfo(path.relative_to(source).as_posix())
            info.size = path.stat().st_size
            info.mode = 0o644
            info.mtime = 0
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    with archive.open("wb") as out, gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(buffer.getvalue())


class ModelData:
    """Model artifacts SageMaker loads into /opt/ml/model, replacing the model baked into the image.

    `from_s3_archive(bucket, key)` (a model.tar.gz), `from_s3_prefix(bucket, prefix)` (uncompressed
    files under a prefix) or `from_directory(path)` (a local directory, packed into a
    reproducible model.tar.gz and uploaded as an asset).

    The `server` image serves ONNX Runtime and carries no torch: the artifacts must be a
    directory exported with `python -m inference.export HF_DIR OUT_DIR [--int8]` (it holds
    model.onnx, the tokenizer and the labels). `from_directory` checks that; S3 artifacts are
    not visible at synth, so export them the same way. (To bake a Hugging Face directory into
    the image instead, use `ModelImage(model_directory=...)`: the image build exports it.)
    """

    def __init__(self, *, bucket: Optional[s3.IBucket], key: str, compressed: bool, directory: Optional[Path]) -> None:
        self._bucket = bucket
        self._key = key
        self.compressed = compressed
        self._directory = directory

    @classmethod
    def from_s3_archive(cls, bucket: s3.IBucket, key: str) -> "ModelData":
        if not key or key.endswith("/"):
            raise ValueError(f"model archive key {key!r} must name a model.tar.gz object, not a prefix")
        return cls(bucket=bucket, key=key, compressed=True, directory=None)

    @classmethod
    def from_s3_prefix(cls, bucket: s3.IBucket, prefix: str) -> "ModelData":
        if not prefix.endswith("/"):
            raise ValueError(f"model prefix {prefix!r} must end with '/'")
        return cls(bucket=bucket, key=prefix, compressed=False, directory=None)

    @classmethod
    def from_directory(cls, path: str) -> "ModelData":
        directory = Path(path).resolve()
        if not (directory / "config.json").is_file():
            raise ValueError(
                f"model directory {path!r} has no config.json: pass a model directory exported with "
                "`python -m inference.export HF_DIR OUT_DIR`"
            )
        if not (directory / "model.onnx").is_file():
            raise ValueError(
                f"model directory {path!r} has no model.onnx: the server image serves ONNX Runtime only; "
                f"export it first with `python -m inference.export {path} OUT_DIR` and pass OUT_DIR"
            )
        return cls(bucket=None, key="", compressed=True, directory=directory)

    def _bind(self, scope: Construct, role: iam.IRole) -> str:
        """The S3 URI SageMaker reads, after granting `role` read access to it."""
        bucket, key = self._bucket, self._key
        if self._directory is not None:
            asset = s3_assets.Asset(
                scope,
                "ModelData",
                path=str(self._directory),
                asset_hash_type=AssetHashType.SOURCE,
                bundling=BundlingOptions(
                    # Never used: the local bundler always succeeds, so synth needs no Docker.
                    image=DockerImage.from_registry("scratch"),
                    local=_TarGzBundler(self._directory),
                    output_type=BundlingOutput.ARCHIVED,
                ),
            )
            bucket, key = asset.bucket, asset.s3_object_key
        assert bucket is not None
        if self.compressed:
            role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(key)]))
        else:
            objects = bucket.arn_for_objects(f"{key}*")
            role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects]))
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"], resources=[bucket.bucket_arn], conditions={"StringLike": {"s3:prefix": f"{key}*"}}
                )
            )
            Validations.of(role).acknowledge(
                Acknowledgment(
                    id=iam5_resource_finding(scope, objects),
                    reason="SageMaker reads every file of the uncompressed model under this prefix, and only those.",
                )
            )
        if bucket.encryption_key is not None:
            bucket.encryption_key.grant(role, "kms:Decrypt")
        return f"s3://{bucket.bucket_name}/{key}"


class SageMakerEndpoint(Construct):
    """The ModelImage `server` target as a SageMaker endpoint, in one of three modes.

    - `EndpointMode.REAL_TIME` (`real_time=RealTimeOptions(...)`): instances in the network's
      private subnets, autoscaling on invocations per instance (optionally CPU), blue/green
      updates with canary or linear traffic shifting that roll back on the endpoint's alarms,
      optional data capture.
    - `EndpointMode.SERVERLESS` (`serverless=ServerlessOptions(...)`): memory, max and
      provisioned concurrency. SageMaker runs serverless endpoints outside any VPC and without
      network isolation or data capture, so this mode's model has no VpcConfig; `network` and
      `vpc` are refused.
    - `EndpointMode.ASYNC` (`async_inference=AsyncOptions(...)`): inputs, answers and failures
      in an encrypted bucket (prefixes `async-inputs/`, `async-outputs/`, `async-failures/`),
      success and error notifications on encrypted, TLS-only SNS topics, autoscaling on the
      backlog per instance down to zero, and a step policy on HasBacklogWithoutCapacity that
      wakes it from zero on the first request.

    Every mode: a least-privilege execution role (ECR pull of the image, its own log groups,
    the model data and buckets it uses, the VPC's network interfaces), network isolation where
    SageMaker allows it, the endpoint config encrypted with a KMS key where SageMaker allows it,
    alarms on ModelLatency p99, Invocation5XXErrors and OverheadLatency p99, and no physical
    names: CloudFormation names the model, config and endpoint, so replacements never collide.

    Minimal use::

        SageMakerEndpoint(stack, "Endpoint", image=image, network=network)
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        image: ModelImage,
        mode: EndpointMode = EndpointMode.REAL_TIME,
        real_time: Optional[RealTimeOptions] = None,
        serverless: Optional[ServerlessOptions] = None,
        async_inference: Optional[AsyncOptions] = None,
        network: Optional[SharedNetwork] = None,
        vpc: Optional[ec2.IVpc] = None,
        model_data: Optional[ModelData] = None,
        environment: Optional[Mapping[str, str]] = None,
        network_isolation: Optional[bool] = None,
        encryption_key: Optional[kms.IKey] = None,
        data_expiration: Optional[Duration] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.TWO_WEEKS,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        alarm_topic: Optional[sns.ITopic] = None,
        model_latency_alarm_threshold: Optional[Duration] = None,
        overhead_latency_alarm_threshold: Optional[Duration] = None,
        invocation_5xx_alarm_threshold: int = 5,
    ) -> None:
        """
        :param image: the ModelImage to serve (its `server` target; `serve` starts it on 8080).
        :param mode: real-time, serverless or async. Default: `EndpointMode.REAL_TIME`.
        :param real_time: options of the real-time mode. Default: `RealTimeOptions()`. Only
            with `mode=REAL_TIME`.
        :param serverless: options of the serverless mode. Default: `ServerlessOptions()`. Only
            with `mode=SERVERLESS`.
        :param async_inference: options of the async mode. Default: `AsyncOptions()`. Only with
            `mode=ASYNC`.
        :param network: a SharedNetwork whose private subnets the model runs in (real-time and
            async). Default: none, no VpcConfig (the container is network-isolated anyway).
        :param vpc: a VPC instead of `network` (its private subnets).
        :param model_data: model artifacts for /opt/ml/model. Default: none, the model baked
            into the image.
        :param environment: extra container environment (the service's settings). Default:
            none; async mode adds `async_environment(...)` (larger batch and body limits, and a
            queue that never refuses what SageMaker sends).
        :param network_isolation: no network access from the container. Default: true where
            SageMaker allows it (real-time, async); serverless does not support it.
        :param encryption_key: KMS key for the endpoint's storage volume, the data bucket and
            the async topics. Default: a new key with rotation.
        :param data_expiration: how long async inputs, answers, failures and captured data are
            kept. Default: 30 days.
        :param log_retention: how long the batch transform state machine's logs are kept.
            Default: two weeks. (SageMaker creates the endpoint's own log group,
            /aws/sagemaker/Endpoints/<name>, itself, without retention.)
        :param removal_policy: what `cdk destroy` does with the key, the data bucket and the
            logs. Default: RETAIN.
        :param alarm_topic: where alarms notify. Default: a new KMS-encrypted topic.
        :param model_latency_alarm_threshold: ModelLatency p99 that raises the alarm.
            Default: 1 second.
        :param overhead_latency_alarm_threshold: OverheadLatency p99 that raises the alarm.
            Default: 250 ms; 10 s in serverless mode, where cold starts land in it.
        :param invocation_5xx_alarm_threshold: Invocation5XXErrors per minute that raise the
            alarm. Default: 5.
        """
        super().__init__(scope, construct_id)
        options = _validate_mode(mode, real_time, serverless, async_inference)
        if network is not None and vpc is not None:
            raise ValueError("give network or vpc, not both")
        if mode is EndpointMode.SERVERLESS:
            if network is not None or vpc is not None:
                raise ValueError("SageMaker serverless endpoints cannot run in a VPC: leave network and vpc unset")
            if network_isolation:
                raise ValueError("SageMaker serverless endpoints do not support network isolation")
        if invocation_5xx_alarm_threshold < 1:
            raise ValueError("invocation_5xx_alarm_threshold must be at least 1")
        if data_expiration is not None and data_expiration.to_hours() < 24:
            raise ValueError("data_expiration must be at least one day")

        #: The endpoint's mode.
        self.mode = mode
        #: The options of that mode.
        self.options = options
        self._removal_policy = removal_policy
        self._log_retention = log_retention
        self._data_expiration = data_expiration or Duration.days(30)

        #: The KMS key: storage volume, data bucket, async topics.
        self.key: kms.IKey = encryption_key or kms.Key(
            self,
            "Key",
            description="Encrypts the SageMaker endpoint's volume, data and notifications",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        #: The execution role SageMaker assumes to run the model.
        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Runs the inference model on SageMaker: image pull, logs, model data",
        )
        image.grant_pull(self.role)
        self._grant_logs()

        #: The data bucket (async inputs/outputs, data capture, batch transform), when used.
        self.data_bucket: Optional[s3.Bucket] = None
        #: The security group of the model's network interfaces, in a VPC.
        self.security_group: Optional[ec2.SecurityGroup] = None
        isolation = network_isolation if network_isolation is not None else mode is not EndpointMode.SERVERLESS
        vpc_config = self._vpc_config(network, vpc)

        mode_env = (
            async_environment(options.max_concurrent_invocations_per_instance) if isinstance(options, AsyncOptions) else {}
        )
        env = {"PLATFORM": "sagemaker", **mode_env, **(environment or {})}
        container: dict[str, Any] = {"image": image.image_uri("server"), "environment": env}
        if model_data is not None:
            uri = model_data._bind(self, self.role)
            if model_data.compressed:
                container["model_data_url"] = uri
            else:
                container["model_data_source"] = sagemaker.CfnModel.ModelDataSourceProperty(
                    s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                        s3_uri=uri, s3_data_type="S3Prefix", compression_type="None"
                    )
                )
        #: The SageMaker model.
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(**container),
            enable_network_isolation=isolation,
            vpc_config=vpc_config,
        )
        # SageMaker checks the role when it creates the model: its policy must exist by then.
        self.model.node.add_dependency(self.role)
        if not isolation:
            skip_checkov(
                self.model,
                CKV_AWS_370="Serverless endpoints do not support network isolation."
                if mode is EndpointMode.SERVERLESS
                else "network_isolation=False was asked for explicitly.",
            )

        #: The async success and error topics (async mode).
        self.success_topic: Optional[sns.Topic] = None
        self.error_topic: Optional[sns.Topic] = None
        #: The endpoint configuration.
        self.endpoint_config = self._endpoint_config(options)

        #: Where the alarms notify.
        self.topic: sns.ITopic = alarm_topic or encrypted_alarm_topic(self, removal_policy)
        # Unique per account and region: the stack's name, then this construct's path in it.
        stack = Stack.of(self)
        path = self.node.path[len(stack.node.path) + 1 :] if stack.node.path else self.node.path
        self._alarm_name_prefix = f"{stack.stack_name}-{path.replace('/', '-')}"
        rollback = isinstance(options, RealTimeOptions) and options.traffic_shifting is not None
        #: The endpoint.
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            deployment_config=self._deployment_config(options) if rollback else None,
        )
        #: The alarms by name: model_latency, invocation_5xx, overhead_latency (+ async ones).
        self.alarms = self._create_alarms(
            model_latency_alarm_threshold or Duration.seconds(1),
            overhead_latency_alarm_threshold
            or (Duration.seconds(10) if mode is EndpointMode.SERVERLESS else Duration.millis(250)),
            invocation_5xx_alarm_threshold,
            named=rollback,
        )
        #: Instance-count autoscaling (real-time and async).
        self.scalable_target: Optional[appscaling.ScalableTarget] = self._autoscaling(options)

    # -- public API ------------------------------------------------------------------------

    @property
    def endpoint_name(self) -> str:
        return self.endpoint.attr_endpoint_name

    @property
    def endpoint_arn(self) -> str:
        return self.endpoint.ref

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` invoke this endpoint: InvokeEndpoint, and in async mode
        InvokeEndpointAsync plus writing inputs and reading answers in the data bucket."""
        actions = ["sagemaker:InvokeEndpoint"]
        if self.mode is EndpointMode.ASYNC:
            actions.append("sagemaker:InvokeEndpointAsync")
            bucket = self._bucket()
            iam.Grant.add_to_principal(
                grantee=grantee, actions=["s3:PutObject"], resource_arns=[bucket.arn_for_objects("async-inputs/*")]
            )
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["s3:GetObject"],
                resource_arns=[bucket.arn_for_objects("async-outputs/*"), bucket.arn_for_objects("async-failures/*")],
            )
            self.key.grant(grantee, "kms:Decrypt", "kms:GenerateDataKey")
        return iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=[self.endpoint_arn])

    def metric(self, metric_name: str, **options: Any) -> cloudwatch.Metric:
        """An AWS/SageMaker metric of this endpoint's variant."""
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=metric_name,
            dimensions_map={"EndpointName": self.endpoint_name, "VariantName": VARIANT_NAME},
            **options,
        )

    def metric_invocations(self, **options: Any) -> cloudwatch.Metric:
        return self.metric("Invocations", **{"statistic": "Sum", **options})

    def metric_model_latency(self, **options: Any) -> cloudwatch.Metric:
        """Time the container took to answer, in microseconds (p99 by default)."""
        return self.metric("ModelLatency", **{"statistic": "p99", **options})

    def metric_overhead_latency(self, **options: Any) -> cloudwatch.Metric:
        """Time SageMaker added around the container, in microseconds (p99 by default)."""
        return self.metric("OverheadLatency", **{"statistic": "p99", **options})

    def metric_invocation_5xx_errors(self, **options: Any) -> cloudwatch.Metric:
        return self.metric("Invocation5XXErrors", **{"statistic": "Sum", **options})

    def metric_invocation_4xx_errors(self, **options: Any) -> cloudwatch.Metric:
        return self.metric("Invocation4XXErrors", **{"statistic": "Sum", **options})

    def metric_backlog_size(self, **options: Any) -> cloudwatch.Metric:
        """Async: requests waiting in the queue (endpoint level)."""
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name="ApproximateBacklogSize",
            dimensions_map={"EndpointName": self.endpoint_name},
            **{"statistic": "Average", **options},
        )

    def metric_has_backlog_without_capacity(self, **options: Any) -> cloudwatch.Metric:
        """Async: 1 while requests wait and no instance runs."""
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name="HasBacklogWithoutCapacity",
            dimensions_map={"EndpointName": self.endpoint_name},
            **{"statistic": "Average", **options},
        )

    def add_batch_transform(
        self,
        construct_id: str = "BatchTransform",
        *,
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        max_concurrent_transforms: int = 2,
        timeout: Optional[Duration] = None,
    ) -> "BatchTransform":
        """A Step Functions state machine that runs a batch transform with this endpoint's model
        over `s3://<data bucket>/batch-input/` (one text per line) into
        `batch-output/<execution name>/`. See `BatchTransform`."""
        return BatchTransform(
            self,
            construct_id,
            endpoint=self,
            instance_type=instance_type,
            instance_count=instance_count,
            max_concurrent_transforms=max_concurrent_transforms,
            timeout=timeout,
        )

    # -- internals -------------------------------------------------------------------------

    def _bucket(self) -> s3.Bucket:
        """The data bucket, created on first use: KMS-encrypted, TLS only, access-logged."""
        if self.data_bucket is None:
            # With @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy (cdk.json of new apps) log
            # delivery is granted by bucket policy and ACLs stay off; older apps need its ACL.
            policy_delivery = FeatureFlags.of(self).is_enabled("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy")
            access_logs = s3.Bucket(
                self,
                "DataAccessLogs",
                encryption=s3.BucketEncryption.S3_MANAGED,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED
                if policy_delivery
                else s3.ObjectOwnership.OBJECT_WRITER,
                lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
                removal_policy=self._removal_policy,
            )
            Validations.of(access_logs).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-S1",
                    reason="This bucket receives the data bucket's server access logs; logging it in turn "
                    "would need yet another bucket.",
                )
            )
            skip_checkov(
                access_logs,
                CKV_AWS_18="The server access log destination of the data bucket; see AwsSolutions-S1.",
                CKV_AWS_21="Access logs are written once and expire by lifecycle: versions add cost, not safety.",
            )
            expire = self._data_expiration
            self.data_bucket = s3.Bucket(
                self,
                "Data",
                encryption=s3.BucketEncryption.KMS,
                encryption_key=self.key,
                bucket_key_enabled=True,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                server_access_logs_bucket=access_logs,
                server_access_logs_prefix="data/",
                lifecycle_rules=[
                    s3.LifecycleRule(prefix=prefix, expiration=expire)
                    for prefix in ("async-inputs/", "async-outputs/", "async-failures/", "data-capture/")
                ],
                removal_policy=self._removal_policy,
            )
            skip_checkov(
                self.data_bucket,
                CKV_AWS_21="Inputs, answers and captured data are written once and expire by lifecycle; "
                "batch results are re-created by running the transform again.",
            )
        return self.data_bucket

    def _grant_objects(self, action: str, prefix: str, reason: str) -> None:
        """Let the execution role `action` (s3:GetObject or s3:PutObject) under `prefix` of the
        data bucket, with the key use that takes."""
        bucket = self._bucket()
        objects = bucket.arn_for_objects(f"{prefix}*")
        self.role.add_to_policy(iam.PolicyStatement(actions=[action], resources=[objects]))
        self.key.grant(self.role, "kms:Decrypt", "kms:GenerateDataKey")
        Validations.of(self.role).acknowledge(Acknowledgment(id=iam5_resource_finding(self, objects), reason=reason))

    def _grant_logs(self) -> None:
        stack = Stack.of(self)
        # The endpoint's name is CloudFormation's to choose, and the endpoint waits for this
        # policy: the log groups of this account's endpoints and transform jobs are as narrow as
        # it gets without a cycle.
        reasons = {
            "Endpoints": "SageMaker names the endpoint's log group after the endpoint, whose name "
            "CloudFormation generates after this role exists.",
            "TransformJobs": "Batch transform jobs are named per run (the Step Functions execution name).",
        }
        arns = {
            kind: stack.format_arn(
                service="logs",
                resource="log-group",
                resource_name=f"/aws/sagemaker/{kind}/*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for kind in reasons
        }
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=list(arns.values()),
            )
        )
        Validations.of(self.role).acknowledge(
            *(Acknowledgment(id=iam5_resource_finding(self, arns[kind]), reason=reason) for kind, reason in reasons.items()),
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="ecr:GetAuthorizationToken and the ec2:Describe*/network interface actions "
                "SageMaker needs for VPC placement support no resource-level permissions.",
            ),
        )

    def _vpc_config(
        self, network: Optional[SharedNetwork], vpc: Optional[ec2.IVpc]
    ) -> Optional[sagemaker.CfnModel.VpcConfigProperty]:
        if network is None and vpc is None:
            return None
        vpc = network.vpc if network is not None else vpc
        assert vpc is not None
        selection = network.private_subnets if network is not None else ec2.SubnetSelection(
            subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
        )
        subnets = vpc.select_subnets(
            subnet_type=selection.subnet_type, subnet_group_name=selection.subnet_group_name
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="SageMaker model network interfaces: no inbound, HTTPS out only",
            allow_all_outbound=False,
        )
        # Model data comes from S3 and images from ECR, both over HTTPS (endpoints or NAT).
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs")
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                resources=["*"],
            )
        )
        policy = self.role.node.find_child("DefaultPolicy")
        skip_checkov(
            policy,
            CKV_AWS_109="ec2:CreateNetworkInterfacePermission on *: SageMaker attaches the model's network "
            "interfaces in the VPC with it, and EC2 offers no resource-level scoping SageMaker supports.",
            CKV_AWS_111="ec2:Create/DeleteNetworkInterface on *: the interfaces SageMaker creates for VPC "
            "placement have ids known only at run time.",
        )
        return sagemaker.CfnModel.VpcConfigProperty(
            security_group_ids=[self.security_group.security_group_id], subnets=subnets.subnet_ids
        )

    def _endpoint_config(self, options: Any) -> sagemaker.CfnEndpointConfig:
        variant: dict[str, Any] = {
            "variant_name": VARIANT_NAME,
            "model_name": self.model.attr_model_name,
            "initial_variant_weight": 1.0,
        }
        props: dict[str, Any] = {}
        if isinstance(options, ServerlessOptions):
            variant["serverless_config"] = sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                memory_size_in_mb=options.memory_mb,
                max_concurrency=options.max_concurrency,
                provisioned_concurrency=options.provisioned_concurrency,
            )
        else:
            variant.update(
                instance_type=options.instance_type,
                initial_instance_count=options.initial_instance_count,
                # The model loads in seconds; the image pull is most of the start.
                container_startup_health_check_timeout_in_seconds=600,
                model_data_download_timeout_in_seconds=600,
            )
            if not _INSTANCE_STORAGE_FAMILY.match(options.instance_type):
                props["kms_key_id"] = self.key.key_arn
            if options.data_capture_percent is not None:
                props["data_capture_config"] = self._data_capture(options.data_capture_percent)
        if isinstance(options, AsyncOptions):
            props["async_inference_config"] = self._async_config(options)
        config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[sagemaker.CfnEndpointConfig.ProductionVariantProperty(**variant)],
            **props,
        )
        if "kms_key_id" in props:
            self.key.grant(self.role, "kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey")
        elif isinstance(options, ServerlessOptions):
            skip_checkov(
                config,
                CKV_AWS_98="Serverless endpoints have no customer storage volume: SageMaker rejects a "
                "KmsKeyId for them.",
            )
        else:
            skip_checkov(
                config,
                CKV_AWS_98=f"{options.instance_type} stores on NVMe instance storage, which the hardware "
                "encrypts; SageMaker rejects a KmsKeyId for it.",
            )
        config.node.add_dependency(self.role)
        return config

    def _data_capture(self, percent: int) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty:
        bucket = self._bucket()
        self._grant_objects("s3:PutObject", "data-capture/", "Captured requests land under per-date keys SageMaker chooses.")
        return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
            enable_capture=True,
            initial_sampling_percentage=percent,
            destination_s3_uri=bucket.s3_url_for_object("data-capture"),
            kms_key_id=self.key.key_arn,
            capture_options=[
                sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
                sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
            ],
            # Captured as readable text rather than base64.
            capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                json_content_types=["application/json"], csv_content_types=["text/plain"]
            ),
        )

    def _async_config(self, options: AsyncOptions) -> sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty:
        bucket = self._bucket()
        self._grant_objects("s3:GetObject", "async-inputs/", "Clients upload each async input under its own key.")
        self._grant_objects("s3:PutObject", "async-outputs/", "SageMaker names each answer after its inference id.")
        self._grant_objects("s3:PutObject", "async-failures/", "SageMaker names each failure after its inference id.")
        self.success_topic = sns.Topic(self, "SuccessTopic", master_key=self.key, enforce_ssl=True)
        self.error_topic = sns.Topic(self, "ErrorTopic", master_key=self.key, enforce_ssl=True)
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.success_topic.topic_arn, self.error_topic.topic_arn])
        )
        return sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
            client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                max_concurrent_invocations_per_instance=options.max_concurrent_invocations_per_instance
            ),
            output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                s3_output_path=bucket.s3_url_for_object("async-outputs"),
                s3_failure_path=bucket.s3_url_for_object("async-failures"),
                kms_key_id=self.key.key_arn,
                notification_config=sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                    success_topic=self.success_topic.topic_arn,
                    error_topic=self.error_topic.topic_arn,
                ),
            ),
        )

    def _deployment_config(self, options: RealTimeOptions) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
        shifting = options.traffic_shifting
        assert shifting is not None
        size = (
            sagemaker.CfnEndpoint.CapacitySizeProperty(type="CAPACITY_PERCENT", value=shifting.size_percent)
            if shifting.size_percent is not None
            else None
        )
        return sagemaker.CfnEndpoint.DeploymentConfigProperty(
            blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                    type=shifting.type,
                    wait_interval_in_seconds=int(shifting.wait.to_seconds()),
                    canary_size=size if shifting.type == "CANARY" else None,
                    linear_step_size=size if shifting.type == "LINEAR" else None,
                ),
                termination_wait_in_seconds=300,
                maximum_execution_timeout_in_seconds=3600,
            ),
            # Literal alarm names: the alarms watch the endpoint, so referencing them here would
            # be a dependency cycle. They exist before any update needs them.
            auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                alarms=[
                    sagemaker.CfnEndpoint.AlarmProperty(alarm_name=self._alarm_name(name))
                    for name in ("ModelLatency", "Invocation5xx")
                ]
            ),
        )

    def _alarm_name(self, name: str) -> str:
        return f"{self._alarm_name_prefix}-{name}"

    def _create_alarms(
        self, model_latency: Duration, overhead_latency: Duration, errors_5xx: int, *, named: bool
    ) -> dict[str, cloudwatch.Alarm]:
        def alarm(construct_id: str, name: str, **props: Any) -> cloudwatch.Alarm:
            return cloudwatch.Alarm(
                self,
                construct_id,
                alarm_name=self._alarm_name(name) if named and name in ("ModelLatency", "Invocation5xx") else None,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                **props,
            )

        five_minutes, one_minute = Duration.minutes(5), Duration.minutes(1)
        alarms = {
            "model_latency": alarm(
                "ModelLatencyAlarm",
                "ModelLatency",
                alarm_description="The model's p99 latency on SageMaker is high",
                metric=self.metric_model_latency(period=five_minutes),
                threshold=model_latency.to_milliseconds() * 1000,  # the metric is in microseconds
                evaluation_periods=3,
                datapoints_to_alarm=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            ),
            "invocation_5xx": alarm(
                "Invocation5xxAlarm",
                "Invocation5xx",
                alarm_description="The SageMaker endpoint answers 5xx",
                metric=self.metric_invocation_5xx_errors(period=one_minute),
                threshold=errors_5xx,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            ),
            "overhead_latency": alarm(
                "OverheadLatencyAlarm",
                "OverheadLatency",
                alarm_description="SageMaker's p99 overhead latency is high",
                metric=self.metric_overhead_latency(period=five_minutes),
                threshold=overhead_latency.to_milliseconds() * 1000,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            ),
        }
        if self.mode is EndpointMode.ASYNC:
            alarms["async_failures"] = alarm(
                "AsyncFailuresAlarm",
                "AsyncFailures",
                alarm_description="Async requests fail (model errors, S3 download or upload failures)",
                metric=cloudwatch.Metric(
                    namespace="AWS/SageMaker",
                    metric_name="InvocationFailures",
                    dimensions_map={"EndpointName": self.endpoint_name},
                    statistic="Sum",
                    period=one_minute,
                ),
                threshold=errors_5xx,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            )
        notify_on_state_changes(self.topic, alarms.values())
        return alarms

    def _autoscaling(self, options: Any) -> Optional[appscaling.ScalableTarget]:
        if isinstance(options, ServerlessOptions) or options.min_instances == options.max_instances:
            return None
        target = appscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint_name}/variant/{VARIANT_NAME}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=options.min_instances,
            max_capacity=options.max_instances,
            # Application Auto Scaling uses this service-linked role for SageMaker whatever role is
            # named; naming it keeps the CDK from creating a role with no permissions.
            role=iam.Role.from_role_arn(
                self,
                "AutoScalingRole",
                f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/aws-service-role/"
                "sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
                mutable=False,
            ),
        )
        cooldowns = {"scale_in_cooldown": options.scale_in_cooldown, "scale_out_cooldown": options.scale_out_cooldown}
        if isinstance(options, RealTimeOptions):
            target.scale_to_track_metric(
                "InvocationsPerInstance",
                target_value=options.invocations_per_instance,
                predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
                **cooldowns,
            )
            if options.cpu_utilization_target is not None:
                target.scale_to_track_metric(
                    "Cpu",
                    target_value=options.cpu_utilization_target,
                    custom_metric=cloudwatch.Metric(
                        namespace="/aws/sagemaker/Endpoints",
                        metric_name="CPUUtilization",
                        dimensions_map={"EndpointName": self.endpoint_name, "VariantName": VARIANT_NAME},
                        statistic="Average",
                    ),
                    **cooldowns,
                )
            return target
        # Async: keep the backlog per instance near the target, down to zero instances ...
        target.scale_to_track_metric(
            "BacklogPerInstance",
            target_value=options.backlog_per_instance,
            custom_metric=cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name="ApproximateBacklogSizePerInstance",
                dimensions_map={"EndpointName": self.endpoint_name},
                statistic="Average",
            ),
            **cooldowns,
        )
        # ... and wake from zero: target tracking cannot divide a backlog by zero instances.
        wake = appscaling.StepScalingAction(
            self,
            "WakeFromZero",
            scaling_target=target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=options.scale_out_cooldown,
            metric_aggregation_type=appscaling.MetricAggregationType.AVERAGE,
        )
        wake.add_adjustment(adjustment=1, lower_bound=0)
        self.wake_alarm = cloudwatch.Alarm(
            self,
            "HasBacklogWithoutCapacityAlarm",
            alarm_description="Requests wait and no instance runs: scale out from zero",
            metric=self.metric_has_backlog_without_capacity(period=Duration.minutes(1), statistic="Average"),
            threshold=1,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.wake_alarm.add_alarm_action(cloudwatch_actions.ApplicationScalingAction(wake))
        return target


class BatchTransform(Construct):
    """A Step Functions state machine that runs a SageMaker batch transform with an endpoint's
    model over `s3://<data bucket>/batch-input/` and writes `batch-output/<execution name>/`.

    Each input line is one text (`text/plain`, split by line, one record per request); each
    output line is the service's JSON answer for the line at the same position. The job's
    volume and output are encrypted with the endpoint's key; the state machine logs every
    event and is traced with X-Ray. Start it with `aws stepfunctions start-execution`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: SageMakerEndpoint,
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        max_concurrent_transforms: int = 2,
        timeout: Optional[Duration] = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not _INSTANCE_TYPE.match(instance_type):
            raise ValueError(f"instance_type {instance_type!r} is not a SageMaker instance type such as ml.m5.large")
        if instance_count < 1 or max_concurrent_transforms < 1:
            raise ValueError("instance_count and max_concurrent_transforms must be at least 1")
        bucket = endpoint._bucket()
        endpoint._grant_objects("s3:GetObject", "batch-input/", "The transform reads every input file under this prefix.")
        endpoint._grant_objects("s3:PutObject", "batch-output/", "Each run writes under its own execution name.")
        #: Where inputs go, and where each run's outputs land.
        self.input_uri = bucket.s3_url_for_object("batch-input/")
        self.output_uri = bucket.s3_url_for_object("batch-output/")
        volume_key = None if _INSTANCE_STORAGE_FAMILY.match(instance_type) else endpoint.key

        transform = tasks.SageMakerCreateTransformJob(
            self,
            "Transform",
            transform_job_name=sfn.JsonPath.string_at("$$.Execution.Name"),
            model_name=endpoint.model.attr_model_name,
            role=endpoint.role,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            batch_strategy=tasks.BatchStrategy.SINGLE_RECORD,
            max_concurrent_transforms=max_concurrent_transforms,
            transform_input=tasks.TransformInput(
                transform_data_source=tasks.TransformDataSource(
                    s3_data_source=tasks.TransformS3DataSource(
                        s3_uri=self.input_uri, s3_data_type=tasks.S3DataType.S3_PREFIX
                    )
                ),
                content_type=BATCH_CONTENT_TYPE,
                split_type=tasks.SplitType.LINE,
            ),
            transform_output=tasks.TransformOutput(
                s3_output_path=sfn.JsonPath.format(
                    f"s3://{bucket.bucket_name}/batch-output/{{}}/", sfn.JsonPath.string_at("$$.Execution.Name")
                ),
                encryption_key=endpoint.key,
                accept="application/json",
                assemble_with=tasks.AssembleWith.LINE,
            ),
            transform_resources=tasks.TransformResources(
                instance_count=instance_count,
                instance_type=ec2.InstanceType(instance_type.removeprefix("ml.")),
                volume_encryption_key=volume_key,
            ),
        )
        #: The state machine's log group.
        self.log_group = logs.LogGroup(
            self, "Logs", retention=endpoint._log_retention, removal_policy=endpoint._removal_policy
        )
        #: The state machine that runs the batch transform.
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(transform),
            timeout=timeout or Duration.hours(6),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        Validations.of(self.state_machine.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="CloudWatch Logs delivery and X-Ray accept no resource-level permissions.",
            ),
            Acknowledgment(
                id=iam5_resource_finding(
                    self, Stack.of(self).format_arn(service="sagemaker", resource="transform-job", resource_name="*")
                ),
                reason="Each run creates a transform job named after its execution; the names are not "
                "known at deploy time.",
            ),
        )


def _validate_mode(
    mode: EndpointMode,
    real_time: Optional[RealTimeOptions],
    serverless: Optional[ServerlessOptions],
    async_inference: Optional[AsyncOptions],
) -> Any:
    if not isinstance(mode, EndpointMode):
        raise ValueError(f"mode must be an EndpointMode (REAL_TIME, SERVERLESS or ASYNC), got {mode!r}")
    given = {"real_time": real_time, "serverless": serverless, "async_inference": async_inference}
    own = {EndpointMode.REAL_TIME: "real_time", EndpointMode.SERVERLESS: "serverless", EndpointMode.ASYNC: "async_inference"}[mode]
    for name, value in given.items():
        if value is not None and name != own:
            raise ValueError(f"{name}= does not apply to mode {mode.name}: pass {own}= instead, or mode to match")
    if mode is EndpointMode.REAL_TIME:
        options = real_time or RealTimeOptions()
        _validate_instances(options.instance_type, options.initial_instance_count, options.min_instances, options.max_instances, floor=1)
        if options.invocations_per_instance < 1:
            raise ValueError("invocations_per_instance must be at least 1")
        if options.cpu_utilization_target is not None and options.cpu_utilization_target <= 0:
            raise ValueError("cpu_utilization_target must be positive")
        _validate_capture(options.data_capture_percent)
        shifting = options.traffic_shifting
        if shifting is not None:
            if shifting.size_percent is not None and not 1 <= shifting.size_percent <= 100:
                raise ValueError(f"traffic shifting size must be 1-100 percent, got {shifting.size_percent}")
            if not 0 <= shifting.wait.to_seconds() <= 3600:
                raise ValueError("traffic shifting wait must be at most one hour")
        return options
    if mode is EndpointMode.SERVERLESS:
        options = serverless or ServerlessOptions()
        if options.memory_mb not in range(1024, 6144 + 1, 1024):
            raise ValueError(f"serverless memory_mb must be 1024, 2048, 3072, 4096, 5120 or 6144, got {options.memory_mb}")
        if not 1 <= options.max_concurrency <= 200:
            raise ValueError(f"serverless max_concurrency must be 1-200, got {options.max_concurrency}")
        provisioned = options.provisioned_concurrency
        if provisioned is not None and not 1 <= provisioned <= options.max_concurrency:
            raise ValueError(
                f"provisioned_concurrency must be 1-{options.max_concurrency} (at most max_concurrency), got {provisioned}"
            )
        return options
    options = async_inference or AsyncOptions()
    _validate_instances(options.instance_type, options.initial_instance_count, options.min_instances, options.max_instances, floor=0)
    if options.backlog_per_instance < 1:
        raise ValueError("backlog_per_instance must be at least 1")
    if not 1 <= options.max_concurrent_invocations_per_instance <= 1000:
        raise ValueError("max_concurrent_invocations_per_instance must be 1-1000")
    _validate_capture(options.data_capture_percent)
    return options


def _validate_instances(instance_type: str, initial: int, low: int, high: int, *, floor: int) -> None:
    if not _INSTANCE_TYPE.match(instance_type):
        raise ValueError(f"instance_type {instance_type!r} is not a SageMaker instance type such as ml.c5.large")
    if initial < 1:
        raise ValueError(f"initial_instance_count must be at least 1 (SageMaker creates endpoints with one), got {initial}")
    if low < floor:
        raise ValueError(f"min_instances must be at least {floor}, got {low}")
    if high < max(low, 1):
        raise ValueError(f"max_instances ({high}) must be at least min_instances ({low}) and at least 1")
    if not low <= initial <= high and low != high:
        raise ValueError(f"initial_instance_count ({initial}) must lie between min_instances and max_instances")


def _validate_capture(percent: Optional[int]) -> None:
    if percent is not None and not 1 <= percent <= 100:
        raise ValueError(f"data_capture_percent must be 1-100 (None turns capture off), got {percent}")
