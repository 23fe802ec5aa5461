"""LambdaInference: the inference container as a Lambda function behind a URL or an HTTP API."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Optional

import jsii
from aws_cdk import Acknowledgment, Annotations, Duration, RemovalPolicy, Size, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as apigwv2_authorizers
from aws_cdk import aws_apigatewayv2_integrations as apigwv2_integrations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from ._alarms import SPIKE, SUSTAINED, AlarmSet, add_service_alarms, check_thresholds, encrypted_alarm_topic
from ._placement import resolve_placement
from ._service_metrics import ServiceMetrics, ServiceMetricsMixin, ServiceMonitoring, check_environment
from .model_image import ModelImage

ALIAS_NAME = "live"


class LambdaEndpointType(enum.Enum):
    """How clients reach the function."""

    #: A Lambda Function URL on the `live` alias (no extra service, up to 15 minutes per request).
    FUNCTION_URL = "function_url"
    #: An API Gateway HTTP API (throttling, access logs, custom domains; 30 s per request).
    HTTP_API = "http_api"
    #: No endpoint: invoke the function directly (SDK, Step Functions, another service).
    NONE = "none"


class LambdaInference(ServiceMetricsMixin, Construct):
    """The inference container (`lambda` target of a ModelImage) as a Lambda function.

    Secure by default: the endpoint takes only SigV4-signed requests (`AWS_IAM`), X-Ray
    tracing is on, logs go to a log group with retention, and the role can do only what the
    function uses. Clients call the `live` alias, which carries provisioned concurrency and,
    when `deployment_config` is given, CodeDeploy's canary or linear traffic shifting with
    rollback on this construct's alarms.

    Minimal use::

        image = ModelImage(stack, "Image")
        LambdaInference(stack, "Classifier", image=image)
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        image: ModelImage,
        description: Optional[str] = None,
        memory_mib: int = 3008,
        timeout: Optional[Duration] = None,
        architecture: Optional[lambda_.Architecture] = None,
        ephemeral_storage_mib: int = 512,
        reserved_concurrency: Optional[int] = None,
        provisioned_concurrency: int = 0,
        environment: Optional[Mapping[str, str]] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.TWO_WEEKS,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        endpoint_type: LambdaEndpointType = LambdaEndpointType.FUNCTION_URL,
        auth_type: lambda_.FunctionUrlAuthType = lambda_.FunctionUrlAuthType.AWS_IAM,
        throttle_rate_limit: int = 50,
        throttle_burst_limit: int = 100,
        vpc: Optional[ec2.IVpc] = None,
        vpc_subnets: Optional[ec2.SubnetSelection] = None,
        warmup_interval: Optional[Duration] = None,
        alarm_topic: Optional[sns.ITopic] = None,
        error_alarm_threshold: int = 5,
        throttle_alarm_threshold: int = 1,
        p99_duration_alarm_threshold: Optional[Duration] = None,
        deployment_config: Optional[codedeploy.ILambdaDeploymentConfig] = None,
        monitoring: Optional[ServiceMonitoring] = None,
    ) -> None:
        """
        :param image: the ModelImage to run (its `lambda` target).
        :param description: the function's description. Default: "Sequence classification
            inference (<the image's model version>)".
        :param memory_mib: memory, which also buys CPU (1,769 MiB = 1 vCPU). Default: 3008.
        :param timeout: the longest one invocation may run. Default: 30 seconds (the HTTP
            API's own limit).
        :param architecture: the function's architecture; it must match the image.
            Default: the image's platform (x86_64 unless the image is arm64).
        :param ephemeral_storage_mib: /tmp size, 512-10240. Default: 512.
        :param reserved_concurrency: concurrency reserved for (and capping) this function.
            Default: none, the account's unreserved pool.
        :param provisioned_concurrency: pre-initialised environments on the `live` alias
            (no cold starts for that many concurrent requests; billed while idle). Default: 0.
        :param environment: extra environment variables for the container (e.g. the
            service's limits, LOG_LEVEL). Default: none.
        :param log_retention: how long function and access logs are kept. Default: two weeks.
        :param removal_policy: what `cdk destroy` does with the log groups and the alarm
            topic's key. Default: RETAIN.
        :param endpoint_type: FUNCTION_URL, HTTP_API or NONE. Default: FUNCTION_URL.
        :param auth_type: AWS_IAM (callers sign with SigV4; see `grant_invoke`) or NONE
            (public, which adds a warning). Default: AWS_IAM.
        :param throttle_rate_limit: HTTP API steady-state requests per second. Default: 50.
        :param throttle_burst_limit: HTTP API burst. Default: 100.
        :param vpc: a VPC to place the function in (e.g. `SharedNetwork(...).vpc`).
            Default: no VPC, so the function deploys on its own.
        :param vpc_subnets: subnets within `vpc`. Default: its private subnets.
        :param warmup_interval: call /health on this schedule to keep one environment warm
            (at least 1 minute). Default: no warm-up.
        :param alarm_topic: where alarms notify. Default: a new KMS-encrypted topic.
        :param error_alarm_threshold: invocation errors per minute that raise the alarm.
            Default: 5.
        :param throttle_alarm_threshold: throttles per minute that raise the alarm. Default: 1.
        :param p99_duration_alarm_threshold: p99 duration over 5 minutes that raises the
            alarm. Default: 80% of `timeout`.
        :param deployment_config: CodeDeploy traffic shifting for the `live` alias (e.g.
            `LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES`), rolled back on the alarms.
            Default: none, new versions take all traffic at once.
        :param monitoring: the service's own (EMF) metrics and the alarms on them: namespace, p99
            request latency, error rate, drift check. These alarms do not roll deployments back.
            Default: `ServiceMonitoring()`.
        """
        super().__init__(scope, construct_id)
        check_environment(environment or {})
        monitoring = monitoring or ServiceMonitoring()
        timeout = timeout or Duration.seconds(30)
        architecture = architecture or image.lambda_architecture
        _check_props(
            memory_mib=memory_mib,
            timeout=timeout,
            endpoint_type=endpoint_type,
            ephemeral_storage_mib=ephemeral_storage_mib,
            reserved_concurrency=reserved_concurrency,
            provisioned_concurrency=provisioned_concurrency,
            environment=environment or {},
        )
        if architecture.name != image.lambda_architecture.name:
            raise ValueError(
                f"architecture {architecture.name} does not match the image platform "
                f"{image.platform.platform}: build the ModelImage for the same platform"
            )
        if throttle_rate_limit < 1 or throttle_burst_limit < 1:
            raise ValueError("throttle_rate_limit and throttle_burst_limit must be at least 1")
        if warmup_interval is not None and warmup_interval.to_seconds() < 60:
            raise ValueError("warmup_interval must be at least 1 minute")
        check_thresholds(error_alarm_threshold=error_alarm_threshold, throttle_alarm_threshold=throttle_alarm_threshold)
        placement = resolve_placement(vpc=vpc, vpc_subnets=vpc_subnets, required=False, what="the function")

        #: The image this function runs.
        self.image = image
        #: The function's log group.
        self.log_group = logs.LogGroup(self, "LogGroup", retention=log_retention, removal_policy=removal_policy)
        #: The service's own (EMF) metrics of this deployment.
        self.service_metrics = ServiceMetrics.of(self, platform="lambda", monitoring=monitoring)
        #: The execution role: ECR pull, its own log group, X-Ray, and ENIs when in a VPC.
        self.role = _execution_role(self, self.log_group, in_vpc=placement is not None)
        #: The function.
        self.function = lambda_.DockerImageFunction(
            self,
            "Function",
            code=image.lambda_code(),
            description=description or f"Sequence classification inference ({image.model_version})",
            memory_size=memory_mib,
            timeout=timeout,
            architecture=architecture,
            ephemeral_storage_size=Size.mebibytes(ephemeral_storage_mib),
            reserved_concurrent_executions=reserved_concurrency,
            environment={
                "PLATFORM": "lambda",
                "MODEL_DIR": "/opt/ml/model",
                **self.service_metrics.environment(),
                **(environment or {}),
            },
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            role=self.role,
            vpc=placement.vpc if placement else None,
            vpc_subnets=placement.subnets if placement else None,
        )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no "
                "resource-level permissions; the log permissions are scoped to this function's log group.",
            )
        )

        #: The `live` alias every client and endpoint calls.
        self.alias = lambda_.Alias(
            self,
            "Alias",
            alias_name=ALIAS_NAME,
            version=self.function.current_version,
            provisioned_concurrent_executions=provisioned_concurrency or None,
        )

        #: How callers authenticate: AWS_IAM (SigV4) or NONE.
        self.auth_type = auth_type
        #: How clients reach the function.
        self.endpoint_type = endpoint_type
        if auth_type == lambda_.FunctionUrlAuthType.NONE and endpoint_type != LambdaEndpointType.NONE:
            Annotations.of(self).add_warning_v2(
                "ml-inference-cdk:PublicEndpoint",
                "auth_type=NONE: anyone on the internet can call this endpoint and run up its bill",
            )
        #: The Function URL, with `LambdaEndpointType.FUNCTION_URL`; else None.
        self.function_url: Optional[lambda_.FunctionUrl] = (
            self.alias.add_function_url(auth_type=auth_type)
            if endpoint_type == LambdaEndpointType.FUNCTION_URL
            else None
        )
        http_api = (
            self._http_api(auth_type, throttle_rate_limit, throttle_burst_limit, log_retention, removal_policy)
            if endpoint_type == LambdaEndpointType.HTTP_API
            else None
        )
        #: The HTTP API, with `LambdaEndpointType.HTTP_API`; else None.
        self.http_api: Optional[apigwv2.HttpApi] = http_api[0] if http_api else None
        #: The HTTP API's access log group, with `LambdaEndpointType.HTTP_API`; else None.
        self.access_log_group: Optional[logs.LogGroup] = http_api[1] if http_api else None
        #: The URL clients call (the Function URL or the HTTP API's), or None without an endpoint.
        self.url: Optional[str] = (
            self.function_url.url
            if self.function_url is not None
            else self.http_api.api_endpoint if self.http_api is not None else None
        )

        #: The warm-up schedule, when `warmup_interval` is set; else None.
        self.warmup_rule: Optional[events.Rule] = (
            self._warmup_rule(warmup_interval) if warmup_interval is not None else None
        )

        #: Where the alarms notify.
        self.topic: sns.ITopic = alarm_topic or encrypted_alarm_topic(self, removal_policy)
        #: The alarms by name: errors, throttles, p99_duration, and the service alarms
        #: (service_p99_latency, service_error_rate, drift_*).
        self.alarms: dict[str, cloudwatch.Alarm] = self._create_alarms(
            error_alarm_threshold,
            throttle_alarm_threshold,
            p99_duration_alarm_threshold or Duration.millis(int(timeout.to_milliseconds() * 0.8)),
        )

        #: The CodeDeploy deployment group, when `deployment_config` is set; else None.
        self.deployment_group: Optional[codedeploy.LambdaDeploymentGroup] = (
            self._deployment_group(deployment_config) if deployment_config is not None else None
        )
        # After the deployment group: rollbacks stay on the function's own alarms.
        self.alarms.update(add_service_alarms(AlarmSet(self, self.topic), self.service_metrics, monitoring))

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` call the function: the alias, and its URL or HTTP API."""
        grant = self.alias.grant_invoke(grantee)
        if self.function_url is not None:
            grant = grant.combine(self.alias.grant_invoke_url(grantee))
        if self.http_api is not None:
            grant = grant.combine(
                iam.Grant.add_to_principal(
                    grantee=grantee,
                    actions=["execute-api:Invoke"],
                    resource_arns=[self.http_api.arn_for_execute_api()],
                )
            )
        return grant

    def metric(self, metric_name: str, **options: Any) -> cloudwatch.Metric:
        """Any AWS/Lambda metric of the `live` alias (e.g. "ConcurrentExecutions")."""
        return self.alias.metric(metric_name, **options)

    def metric_invocations(self, **options: Any) -> cloudwatch.Metric:
        """Invocations of the `live` alias (sum per period)."""
        return self.alias.metric_invocations(**options)

    def metric_errors(self, **options: Any) -> cloudwatch.Metric:
        """Invocation errors of the `live` alias (sum per period)."""
        return self.alias.metric_errors(**options)

    def metric_throttles(self, **options: Any) -> cloudwatch.Metric:
        """Throttled invocations of the `live` alias (sum per period)."""
        return self.alias.metric_throttles(**options)

    def metric_duration(self, **options: Any) -> cloudwatch.Metric:
        """Invocation duration of the `live` alias (average unless `statistic` is given)."""
        return self.alias.metric_duration(**options)

    def _http_api(
        self,
        auth_type: lambda_.FunctionUrlAuthType,
        rate_limit: int,
        burst_limit: int,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> tuple[apigwv2.HttpApi, logs.LogGroup]:
        access_log_group = logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=removal_policy)
        http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            description="Sequence classification inference",
            default_integration=apigwv2_integrations.HttpLambdaIntegration("Function", self.alias),
            default_authorizer=(
                apigwv2_authorizers.HttpIamAuthorizer()
                if auth_type == lambda_.FunctionUrlAuthType.AWS_IAM
                else None
            ),
            create_default_stage=False,
        )
        http_api.add_stage(
            "DefaultStage",
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit),
            access_log_settings=_AccessLogSettings(apigwv2.LogGroupLogDestination(access_log_group)),
        )
        if auth_type == lambda_.FunctionUrlAuthType.NONE:
            Validations.of(http_api).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-APIG4",
                    reason="auth_type=NONE was chosen explicitly for a public API (see the warning).",
                )
            )
        return http_api, access_log_group

    def _warmup_rule(self, interval: Duration) -> events.Rule:
        return events.Rule(
            self,
            "Warmup",
            description="Keeps one inference environment warm by calling /health",
            schedule=events.Schedule.rate(interval),
            targets=[
                events_targets.LambdaFunction(
                    self.alias,
                    event=events.RuleTargetInput.from_object(warmup_event()),
                    retry_attempts=0,
                    max_event_age=Duration.minutes(1),
                )
            ],
        )

    def _create_alarms(
        self, error_threshold: int, throttle_threshold: int, p99_threshold: Duration
    ) -> dict[str, cloudwatch.Alarm]:
        one_minute = Duration.minutes(1)
        alarms = AlarmSet(self, self.topic)
        alarms.add(
            "errors",
            "ErrorsAlarm",
            description="The inference function fails invocations",
            metric=self.metric_errors(period=one_minute, statistic="Sum"),
            threshold=error_threshold,
            evaluation=SPIKE,
        )
        alarms.add(
            "throttles",
            "ThrottlesAlarm",
            description="Requests to the inference function are throttled",
            metric=self.metric_throttles(period=one_minute, statistic="Sum"),
            threshold=throttle_threshold,
            evaluation=SPIKE,
        )
        alarms.add(
            "p99_duration",
            "P99DurationAlarm",
            description="The inference function's p99 duration is close to its timeout",
            metric=self.metric_duration(period=Duration.minutes(5), statistic="p99"),
            threshold=p99_threshold.to_milliseconds(),
            evaluation=SUSTAINED,
        )
        return alarms.alarms

    def _deployment_group(self, config: codedeploy.ILambdaDeploymentConfig) -> codedeploy.LambdaDeploymentGroup:
        group = codedeploy.LambdaDeploymentGroup(
            self,
            "Deployment",
            alias=self.alias,
            deployment_config=config,
            alarms=list(self.alarms.values()),
            auto_rollback=codedeploy.AutoRollbackConfig(
                failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
            ),
        )
        Validations.of(group).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]",
                reason="CodeDeploy's own AWS-maintained policy for Lambda traffic shifting; it is "
                "already limited to the actions a Lambda deployment needs.",
            )
        )
        return group


def _execution_role(scope: Construct, log_group: logs.ILogGroup, *, in_vpc: bool) -> iam.Role:
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="Execution role of the inference function",
    )
    log_group.grant_write(role)
    if in_vpc:
        role.add_managed_policy(
            iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaVPCAccessExecutionRole")
        )
        Validations.of(role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]",
                reason="Lambda needs the ENI actions of this AWS-maintained policy to run in a VPC; "
                "they take no resource-level scoping.",
            )
        )
    return role


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """HTTP API access logs to a log group, one JSON line per request."""

    def __init__(self, destination: apigwv2.IAccessLogDestination) -> None:
        self._destination = destination

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        # Only fields HTTP APIs support; never request bodies or headers.
        return apigw.AccessLogFormat.custom(
            '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
            '"requestTime":"$context.requestTime","routeKey":"$context.routeKey",'
            '"status":"$context.status","protocol":"$context.protocol",'
            '"responseLength":"$context.responseLength","latencyMs":"$context.responseLatency",'
            '"integrationLatencyMs":"$context.integrationLatency",'
            '"integrationError":"$context.integrationErrorMessage"}'
        )


def warmup_event() -> dict[str, Any]:
    """An HTTP API (payload 2.0) event for GET /health, as the warm-up schedule sends it."""
    return {
        "version": "2.0",
        "routeKey": "GET /health",
        "rawPath": "/health",
        "rawQueryString": "",
        "headers": {"host": "warmup.internal", "user-agent": "ml-inference-warmup"},
        "requestContext": {
            "http": {
                "method": "GET",
                "path": "/health",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "ml-inference-warmup",
            },
            "requestId": "warmup",
            "routeKey": "GET /health",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def _check_props(
    *,
    memory_mib: int,
    timeout: Duration,
    endpoint_type: LambdaEndpointType,
    ephemeral_storage_mib: int,
    reserved_concurrency: Optional[int],
    provisioned_concurrency: int,
    environment: Mapping[str, str],
) -> None:
    """The checks that relate sizes and limits to each other and to Lambda's ranges."""
    if not 128 <= memory_mib <= 10240:
        raise ValueError(f"memory_mib must be between 128 and 10240, got {memory_mib}")
    if not 1 <= timeout.to_seconds() <= 900:
        raise ValueError("timeout must be between 1 second and 15 minutes")
    if endpoint_type == LambdaEndpointType.HTTP_API and timeout.to_seconds() > 30:
        raise ValueError("an HTTP API waits at most 30 seconds: use a timeout of 30 seconds or less, or FUNCTION_URL")
    if not 512 <= ephemeral_storage_mib <= 10240:
        raise ValueError(f"ephemeral_storage_mib must be between 512 and 10240, got {ephemeral_storage_mib}")
    if reserved_concurrency is not None and reserved_concurrency < 1:
        raise ValueError("reserved_concurrency must be at least 1 (0 would stop the function); omit it for none")
    if provisioned_concurrency < 0:
        raise ValueError(f"provisioned_concurrency must not be negative, got {provisioned_concurrency}")
    if reserved_concurrency is not None and provisioned_concurrency > reserved_concurrency:
        raise ValueError(
            f"provisioned_concurrency ({provisioned_concurrency}) cannot exceed reserved_concurrency "
            f"({reserved_concurrency})"
        )
    for key in environment:
        if key.startswith("AWS_") or key.startswith("_"):
            raise ValueError(f"environment variable {key} is reserved by Lambda: choose another name")


__all__ = ["LambdaInference", "LambdaEndpointType", "ALIAS_NAME", "warmup_event"]
