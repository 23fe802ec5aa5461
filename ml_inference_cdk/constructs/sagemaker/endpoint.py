"""SageMakerEndpoint: the inference server as a SageMaker real-time, serverless or async endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from .._alarms import SPIKE, SUSTAINED, AlarmSet, add_service_alarms, check_thresholds, encrypted_alarm_topic
from .._checks import skip_checkov
from .._iam import WildcardSplittingRole
from .._logs import expire_service_log_group
from .._placement import Placement, resolve_placement
from .._service_metrics import ServiceMetrics, ServiceMetricsMixin, ServiceMonitoring, check_environment
from ..model_image import ModelImage
from .access import grant_endpoint_logs, network_security_group
from .batch import BatchTransform
from .capacity import (
    VARIANT_NAME,
    AsyncCapacity,
    EndpointCapacity,
    EndpointMode,
    backlog_without_capacity_metric,
    has_instance_storage,
)
from .model_data import ModelData
from .storage import grant_prefix, new_data_bucket

#: The rollback alarms' names, after the construct's unique prefix.
_ROLLBACK_ALARMS = ("ModelLatency", "Invocation5xx")


class SageMakerEndpoint(ServiceMetricsMixin, Construct):
    """The ModelImage `server` target as a SageMaker endpoint; `capacity` says how it runs.

    - `EndpointCapacity.real_time(...)` (default): instances in the VPC's private subnets,
      autoscaling on invocations per instance (optionally CPU), blue/green updates with canary
      or linear traffic shifting that roll back on the endpoint's alarms, optional data capture.
    - `EndpointCapacity.serverless(...)`: memory, max and provisioned concurrency. SageMaker
      runs serverless endpoints outside any VPC and without network isolation or data capture,
      so `vpc` is refused.
    - `EndpointCapacity.asynchronous(...)`: inputs, answers and failures in an encrypted bucket
      (prefixes `async-inputs/`, `async-outputs/`, `async-failures/`), success and error
      notifications on encrypted, TLS-only SNS topics, autoscaling on the backlog per instance
      down to zero, and a step policy on HasBacklogWithoutCapacity that wakes it from zero.

    Every kind: a least-privilege execution role (ECR pull of the image, its own log groups,
    the model data and buckets it uses, network interfaces in the VPC's chosen subnets with
    this security group), network isolation where
    SageMaker allows it, the endpoint config encrypted with a KMS key where SageMaker allows it,
    alarms on ModelLatency p99, Invocation5XXErrors and OverheadLatency p99, and no physical
    names: CloudFormation names the model, config and endpoint, so replacements never collide.
    The log group SageMaker writes, /aws/sagemaker/Endpoints/<name>, gets `log_retention` and
    `removal_policy` once the endpoint exists (a LogRetention custom resource).

    Minimal use::

        network = SharedNetwork(stack, "Network")
        SageMakerEndpoint(stack, "Endpoint", image=image, vpc=network.vpc)
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        image: ModelImage,
        capacity: Optional[EndpointCapacity] = None,
        vpc: Optional[ec2.IVpc] = None,
        vpc_subnets: Optional[ec2.SubnetSelection] = None,
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
        monitoring: Optional[ServiceMonitoring] = None,
    ) -> None:
        """
        :param image: the ModelImage to serve (its `server` target; `serve` starts it on 8080).
        :param capacity: how SageMaker runs the endpoint. Default:
            `EndpointCapacity.real_time()` (one to four ml.c5.large, canary updates).
        :param vpc: a VPC whose private subnets the model runs in (real time and async; e.g.
            `SharedNetwork(...).vpc`). Default: none, no VpcConfig (the container is
            network-isolated anyway).
        :param vpc_subnets: the subnets of the model's network interfaces. Default: the VPC's
            private subnets.
        :param model_data: model artifacts for /opt/ml/model. Default: none, the model baked
            into the image.
        :param environment: extra container environment (the service's settings). Default:
            none; async endpoints add `async_environment(...)` (larger batch and body limits,
            and a queue that never refuses what SageMaker sends).
        :param network_isolation: no network access from the container. Default: true where
            SageMaker allows it (real time, async); serverless does not support it.
        :param encryption_key: KMS key for the endpoint's storage volume, the data bucket and
            the async topics. Default: a new key with rotation.
        :param data_expiration: how long async inputs, answers, failures and captured data are
            kept. Default: 30 days.
        :param log_retention: how long the endpoint's logs (/aws/sagemaker/Endpoints/<name>,
            which SageMaker creates) and the batch transform state machine's logs are kept.
            Default: two weeks.
        :param removal_policy: what `cdk destroy` does with the key, the data bucket and the
            logs. Default: RETAIN.
        :param alarm_topic: where alarms notify. Default: a new KMS-encrypted topic.
        :param model_latency_alarm_threshold: ModelLatency p99 that raises the alarm.
            Default: 1 second.
        :param overhead_latency_alarm_threshold: OverheadLatency p99 that raises the alarm.
            Default: 250 ms; 10 s for serverless endpoints, where cold starts land in it.
        :param invocation_5xx_alarm_threshold: Invocation5XXErrors per minute that raise the
            alarm. Default: 5.
        :param monitoring: the service's own (EMF) metrics and the alarms on them: namespace, p99
            request latency, error rate, drift check (not rollback alarms). Default:
            `ServiceMonitoring()`.
        """
        super().__init__(scope, construct_id)
        capacity = capacity or EndpointCapacity.real_time()
        if not isinstance(capacity, EndpointCapacity):
            raise ValueError(
                "capacity must come from EndpointCapacity.real_time(), .serverless() or .asynchronous(), "
                f"got {capacity!r}"
            )
        if not capacity.supports_vpc:
            if vpc is not None or vpc_subnets is not None:
                raise ValueError("SageMaker serverless endpoints cannot run in a VPC: leave vpc and vpc_subnets unset")
            if network_isolation:
                raise ValueError("SageMaker serverless endpoints do not support network isolation")
        check_thresholds(invocation_5xx_alarm_threshold=invocation_5xx_alarm_threshold)
        if data_expiration is not None and data_expiration.to_hours() < 24:
            raise ValueError("data_expiration must be at least one day")
        placement = resolve_placement(vpc=vpc, vpc_subnets=vpc_subnets, required=False, what="the model's instances")
        check_environment(environment or {})
        monitoring = monitoring or ServiceMonitoring()
        #: The service's own (EMF) metrics of this deployment.
        self.service_metrics = ServiceMetrics.of(self, platform="sagemaker", monitoring=monitoring)

        #: How SageMaker runs the endpoint.
        self.capacity = capacity
        #: The kind of endpoint (`capacity.mode`).
        self.mode: EndpointMode = capacity.mode
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
        #: The image target the model runs: `server-gpu` (CUDA PyTorch) on GPU instances, else `server`.
        self.image_target = "server-gpu" if capacity.uses_gpu else "server"
        #: The execution role SageMaker assumes to run the model.
        self.role: iam.Role = WildcardSplittingRole(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Runs the inference model on SageMaker: image pull, logs, model data",
        )
        image.grant_pull(self.role, self.image_target)
        grant_endpoint_logs(self, self.role)

        # The subnets the model's network interfaces go in (the model and its grants name them).
        self._subnets = (
            placement.vpc.select_subnets(
                subnet_type=placement.subnets.subnet_type, subnet_group_name=placement.subnets.subnet_group_name
            )
            if placement is not None
            else None
        )
        #: The security group of the model's network interfaces, in a VPC; else None.
        self.security_group: Optional[ec2.SecurityGroup] = (
            network_security_group(self, placement.vpc, self.role, self._subnets) if placement is not None else None
        )
        isolation = capacity.network_isolation_default if network_isolation is None else network_isolation
        #: The SageMaker model.
        self.model = self._model(
            image, model_data, placement, isolation, {**self.service_metrics.environment(), **(environment or {})}
        )

        needs_bucket = isinstance(capacity, AsyncCapacity) or capacity.data_capture_percent is not None
        data = self._new_data_bucket() if needs_bucket else None
        #: The data bucket (async inputs/outputs, data capture, batch transform): created when the
        #: capacity needs it or by `add_batch_transform()`; else None.
        self.data_bucket: Optional[s3.Bucket] = data[0] if data else None
        #: The bucket the data bucket's server access logs go to, with the data bucket; else None.
        self.data_access_log_bucket: Optional[s3.Bucket] = data[1] if data else None
        topics = self._async_topics() if isinstance(capacity, AsyncCapacity) else None
        #: The async success topic (async endpoints); else None.
        self.success_topic: Optional[sns.Topic] = topics[0] if topics else None
        #: The async error topic (async endpoints); else None.
        self.error_topic: Optional[sns.Topic] = topics[1] if topics else None
        #: The endpoint configuration.
        self.endpoint_config = self._endpoint_config()

        #: Where the alarms notify.
        self.topic: sns.ITopic = alarm_topic or encrypted_alarm_topic(self, removal_policy)
        # Unique per account and region: the stack's name, then this construct's path in it.
        stack = Stack.of(self)
        path = self.node.path[len(stack.node.path) + 1 :] if stack.node.path else self.node.path
        self._alarm_name_prefix = f"{stack.stack_name}-{path.replace('/', '-')}"
        rollback = capacity.traffic_shifting is not None
        #: The endpoint.
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            deployment_config=self._deployment_config() if rollback else None,
        )
        #: The endpoint's name (CloudFormation chooses it).
        self.endpoint_name: str = self.endpoint.attr_endpoint_name
        #: The endpoint's ARN.
        self.endpoint_arn: str = self.endpoint.ref
        #: The retention of the endpoint's log group, which SageMaker creates and names after it.
        self.endpoint_log_retention = expire_service_log_group(
            self,
            "LogRetention",
            log_group_name=f"/aws/sagemaker/Endpoints/{self.endpoint_name}",
            retention=log_retention,
            removal_policy=removal_policy,
        )
        #: The alarms by name: model_latency, invocation_5xx, overhead_latency (+ async_failures), and
        #: the service alarms (service_p99_latency, service_error_rate, drift_*).
        self.alarms = self._create_alarms(
            model_latency_alarm_threshold or Duration.seconds(1),
            overhead_latency_alarm_threshold or capacity.default_overhead_latency,
            invocation_5xx_alarm_threshold,
            named=rollback,
        )
        self.alarms.update(add_service_alarms(AlarmSet(self, self.topic), self.service_metrics, monitoring))
        scaling = capacity.add_autoscaling(self, self.endpoint_name)
        #: Instance-count autoscaling (real time and async, when min and max differ); else None.
        self.scalable_target: Optional[appscaling.ScalableTarget] = scaling[0]
        #: The alarm that scales an async endpoint out from zero instances (it notifies no one;
        #: its action is the scaling step); else None.
        self.wake_alarm: Optional[cloudwatch.Alarm] = scaling[1]

    # -- public API ------------------------------------------------------------------------

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` invoke this endpoint: InvokeEndpoint, and for async endpoints
        InvokeEndpointAsync plus writing inputs and reading answers in the data bucket."""
        actions = ["sagemaker:InvokeEndpoint"]
        if self.mode is EndpointMode.ASYNC and self.data_bucket is not None:
            actions.append("sagemaker:InvokeEndpointAsync")
            bucket = self.data_bucket
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
        return backlog_without_capacity_metric(self.endpoint_name, **options)

    def add_batch_transform(
        self,
        construct_id: str = "BatchTransform",
        *,
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        max_concurrent_transforms: int = 2,
        timeout: Optional[Duration] = None,
        start_on_upload: bool = True,
    ) -> BatchTransform:
        """A Step Functions state machine that runs a batch transform with this endpoint's model
        over `s3://<data bucket>/batch-input/` (one text per line) into
        `batch-output/<execution name>/`, creating the data bucket if there is none yet. Each
        new file under batch-input/ starts a run over it (`start_on_upload`, default True); failed
        runs raise an alarm to the endpoint's topic. See `BatchTransform`."""
        if self.data_bucket is None:
            self.data_bucket, self.data_access_log_bucket = self._new_data_bucket()
        return BatchTransform(
            self,
            construct_id,
            model_name=self.model.attr_model_name,
            role=self.role,
            bucket=self.data_bucket,
            encryption_key=self.key,
            instance_type=instance_type,
            instance_count=instance_count,
            max_concurrent_transforms=max_concurrent_transforms,
            timeout=timeout,
            log_retention=self._log_retention,
            removal_policy=self._removal_policy,
            start_on_upload=start_on_upload,
            alarm_topic=self.topic,
        )

    # -- building blocks -------------------------------------------------------------------

    def _new_data_bucket(self) -> tuple[s3.Bucket, s3.Bucket]:
        return new_data_bucket(
            self, key=self.key, expiration=self._data_expiration, removal_policy=self._removal_policy
        )

    def _grant_data(self, action: str, prefix: str, reason: str) -> None:
        assert self.data_bucket is not None
        grant_prefix(self.role, self.data_bucket, self.key, action=action, prefix=prefix, reason=reason)

    def _model(
        self,
        image: ModelImage,
        model_data: Optional[ModelData],
        placement: Optional[Placement],
        isolation: bool,
        environment: Mapping[str, str],
    ) -> sagemaker.CfnModel:
        env = {"PLATFORM": "sagemaker", **self.capacity.environment(), **environment}
        container: dict[str, Any] = {"image": image.image_uri(self.image_target), "environment": env}
        if model_data is not None:
            data = model_data.bind(self, self.role)
            if data.compressed:
                container["model_data_url"] = data.uri
            else:
                container["model_data_source"] = sagemaker.CfnModel.ModelDataSourceProperty(
                    s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                        s3_uri=data.uri, s3_data_type="S3Prefix", compression_type="None"
                    )
                )
        vpc_config = None
        if placement is not None:
            assert self.security_group is not None and self._subnets is not None
            vpc_config = sagemaker.CfnModel.VpcConfigProperty(
                security_group_ids=[self.security_group.security_group_id], subnets=self._subnets.subnet_ids
            )
        model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(**container),
            enable_network_isolation=isolation,
            vpc_config=vpc_config,
        )
        # SageMaker checks the role when it creates the model: its policy must exist by then.
        model.node.add_dependency(self.role)
        if not isolation:
            skip_checkov(
                model,
                CKV_AWS_370="network_isolation=False was asked for explicitly."
                if self.capacity.supports_vpc
                else "Serverless endpoints do not support network isolation.",
            )
        return model

    def _async_topics(self) -> tuple[sns.Topic, sns.Topic]:
        self._grant_data("s3:GetObject", "async-inputs/", "Clients upload each async input under its own key.")
        self._grant_data("s3:PutObject", "async-outputs/", "SageMaker names each answer after its inference id.")
        self._grant_data("s3:PutObject", "async-failures/", "SageMaker names each failure after its inference id.")
        success = sns.Topic(self, "SuccessTopic", master_key=self.key, enforce_ssl=True)
        error = sns.Topic(self, "ErrorTopic", master_key=self.key, enforce_ssl=True)
        self.role.add_to_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=[success.topic_arn, error.topic_arn]))
        return success, error

    def _endpoint_config(self) -> sagemaker.CfnEndpointConfig:
        capacity = self.capacity
        variant: dict[str, Any] = {
            "variant_name": VARIANT_NAME,
            "model_name": self.model.attr_model_name,
            "initial_variant_weight": 1.0,
            **capacity.variant(),
        }
        props: dict[str, Any] = {}
        volume_key = capacity.instance_type is not None and not has_instance_storage(capacity.instance_type)
        if volume_key:
            props["kms_key_id"] = self.key.key_arn
        if capacity.data_capture_percent is not None:
            props["data_capture_config"] = self._data_capture(capacity.data_capture_percent)
        if isinstance(capacity, AsyncCapacity):
            props["async_inference_config"] = self._async_config(capacity)
        config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[sagemaker.CfnEndpointConfig.ProductionVariantProperty(**variant)],
            **props,
        )
        if volume_key:
            self.key.grant(self.role, "kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey")
        else:
            skip_checkov(
                config,
                CKV_AWS_98=f"{capacity.instance_type} stores on NVMe instance storage, which the hardware "
                "encrypts; SageMaker rejects a KmsKeyId for it."
                if capacity.instance_type is not None
                else "Serverless endpoints have no customer storage volume: SageMaker rejects a KmsKeyId for them.",
            )
        config.node.add_dependency(self.role)
        return config

    def _data_capture(self, percent: int) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty:
        bucket = self.data_bucket
        assert bucket is not None
        self._grant_data("s3:PutObject", "data-capture/", "Captured requests land under per-date keys SageMaker chooses.")
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

    def _async_config(self, capacity: AsyncCapacity) -> sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty:
        assert self.data_bucket is not None and self.success_topic is not None and self.error_topic is not None
        return sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
            client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                max_concurrent_invocations_per_instance=capacity.max_concurrent_invocations_per_instance
            ),
            output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                s3_output_path=self.data_bucket.s3_url_for_object("async-outputs"),
                s3_failure_path=self.data_bucket.s3_url_for_object("async-failures"),
                kms_key_id=self.key.key_arn,
                notification_config=sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                    success_topic=self.success_topic.topic_arn,
                    error_topic=self.error_topic.topic_arn,
                ),
            ),
        )

    def _deployment_config(self) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
        shifting = self.capacity.traffic_shifting
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
                    for name in _ROLLBACK_ALARMS
                ]
            ),
        )

    def _alarm_name(self, name: str) -> str:
        return f"{self._alarm_name_prefix}-{name}"

    def _create_alarms(
        self, model_latency: Duration, overhead_latency: Duration, errors_5xx: int, *, named: bool
    ) -> dict[str, cloudwatch.Alarm]:
        def name(alarm: str) -> Optional[str]:
            return self._alarm_name(alarm) if named and alarm in _ROLLBACK_ALARMS else None

        five_minutes, one_minute = Duration.minutes(5), Duration.minutes(1)
        alarms = AlarmSet(self, self.topic)
        alarms.add(
            "model_latency",
            "ModelLatencyAlarm",
            alarm_name=name("ModelLatency"),
            description="The model's p99 latency on SageMaker is high",
            metric=self.metric_model_latency(period=five_minutes),
            threshold=model_latency.to_milliseconds() * 1000,  # the metric is in microseconds
            evaluation=SUSTAINED,
        )
        alarms.add(
            "invocation_5xx",
            "Invocation5xxAlarm",
            alarm_name=name("Invocation5xx"),
            description="The SageMaker endpoint answers 5xx",
            metric=self.metric_invocation_5xx_errors(period=one_minute),
            threshold=errors_5xx,
            evaluation=SPIKE,
        )
        alarms.add(
            "overhead_latency",
            "OverheadLatencyAlarm",
            description="SageMaker's p99 overhead latency is high",
            metric=self.metric_overhead_latency(period=five_minutes),
            threshold=overhead_latency.to_milliseconds() * 1000,
            evaluation=SUSTAINED,
        )
        if self.mode is EndpointMode.ASYNC:
            alarms.add(
                "async_failures",
                "AsyncFailuresAlarm",
                description="Async requests fail (model errors, S3 download or upload failures)",
                metric=cloudwatch.Metric(
                    namespace="AWS/SageMaker",
                    metric_name="InvocationFailures",
                    dimensions_map={"EndpointName": self.endpoint_name},
                    statistic="Sum",
                    period=one_minute,
                ),
                threshold=errors_5xx,
                evaluation=SPIKE,
            )
        return alarms.alarms


__all__ = ["SageMakerEndpoint"]
