"""FargateInference: the inference server on ECS Fargate behind an Application Load Balancer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from ._alarms import (
    SHORTFALL,
    SPIKE,
    SUSTAINED,
    SUSTAINED_AT_LEAST,
    AlarmSet,
    add_service_alarms,
    check_thresholds,
    encrypted_alarm_topic,
)
from ._buckets import access_log_bucket, log_load_balancer_access
from ._checks import skip_checkov
from ._exposure import DOCS_DISABLED, NOT_FOUND_BODY, max_body_bytes, private_path_patterns
from ._iam import acknowledge_grant
from ._load_balancer import load_balancer_security_group, resolve_exposure
from ._logs import expire_service_log_group
from ._placement import resolve_placement
from ._service_metrics import ServiceMetrics, ServiceMetricsMixin, ServiceMonitoring, check_environment
from ._tracing import TraceCollector, add_ecs_collector, app_tracing_environment
from ._waf import DEFAULT_RATE_LIMIT, check_rate_limit, load_balancer_firewall
from .load_balancer_auth import LoadBalancerAuth
from .model_image import ModelImage

CONTAINER_PORT = 8080
# Fargate's valid task sizes: CPU units -> allowed memory (MiB).
_FARGATE_SIZES: dict[int, range] = {
    256: range(512, 2048 + 1, 512),
    512: range(1024, 4096 + 1, 1024),
    1024: range(2048, 8192 + 1, 1024),
    2048: range(4096, 16384 + 1, 1024),
    4096: range(8192, 30720 + 1, 1024),
    8192: range(16384, 61440 + 1, 4096),
    16384: range(32768, 122880 + 1, 8192),
}


class FargateInference(ServiceMetricsMixin, Construct):
    """The ModelImage `server` target on ECS Fargate behind an Application Load Balancer.

    Tasks run in private subnets without public IPs; only the load balancer's security group
    reaches them, on port 8080, and they reach out only to HTTPS (AWS APIs) and DNS. With a
    certificate the ALB is internet-facing on HTTPS (TLS 1.2+, HTTP redirected), behind an AWS
    WAF web ACL (rate limit per client IP, body size, AWS managed rules), and answers 404 for
    /metrics and the API docs; optionally users sign in first (`auth`). Without one it is
    internal: plain HTTP from inside the VPC only, everything reachable. It drops invalid
    headers and writes access logs to an encrypted bucket that expires them. The service
    scales between `min_tasks` and `max_tasks` on CPU and on requests per target, rolls back failed
    deployments (circuit breaker; with `rollback_on_alarms`, also when its 5xx or latency alarm
    fires), and raises alarms on 5xx, p99 latency, unhealthy hosts and fewer running tasks than
    the minimum, and on the service's own metrics (p99 request latency, 5xx error rate, drift).
    With `tracing`, an OpenTelemetry collector sidecar sends the app's spans to X-Ray.

    Minimal use::

        network = SharedNetwork(stack, "Network")
        FargateInference(stack, "Service", image=image, vpc=network.vpc)
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        image: ModelImage,
        vpc: Optional[ec2.IVpc] = None,
        vpc_subnets: Optional[ec2.SubnetSelection] = None,
        cluster: Optional[ecs.ICluster] = None,
        cpu: int = 2048,
        memory_mib: int = 4096,
        environment: Optional[Mapping[str, str]] = None,
        min_tasks: int = 1,
        max_tasks: int = 10,
        cpu_target_percent: int = 70,
        requests_per_target_per_minute: int = 1000,
        scale_in_cooldown: Optional[Duration] = None,
        scale_out_cooldown: Optional[Duration] = None,
        spot_weight: int = 0,
        on_demand_base: int = 0,
        internal: Optional[bool] = None,
        certificate: Optional[acm.ICertificate] = None,
        auth: Optional[LoadBalancerAuth] = None,
        rate_limit: int = DEFAULT_RATE_LIMIT,
        rate_limit_window: Optional[Duration] = None,
        deletion_protection: bool = False,
        health_check_grace_period: Optional[Duration] = None,
        deregistration_delay: Optional[Duration] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.TWO_WEEKS,
        access_log_expiration: Optional[Duration] = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        alarm_topic: Optional[sns.ITopic] = None,
        http_5xx_alarm_threshold: int = 5,
        p99_latency_alarm_threshold: Optional[Duration] = None,
        monitoring: Optional[ServiceMonitoring] = None,
        tracing: Optional[TraceCollector] = None,
        rollback_on_alarms: bool = False,
    ) -> None:
        """
        :param image: the ModelImage to run (its `server` target).
        :param vpc: the VPC to run in (e.g. `SharedNetwork(...).vpc`). Either this or `cluster`.
        :param vpc_subnets: the subnets the tasks run in. Default: the VPC's private subnets.
        :param cluster: an existing ECS cluster, instead of `vpc` (its VPC is used; for Fargate
            Spot it needs the FARGATE_SPOT capacity provider). Default: a new cluster in `vpc`
            with Container Insights.
        :param cpu: task CPU units. Default: 2048 (2 vCPU).
        :param memory_mib: task memory. Default: 4096.
        :param environment: extra environment variables for the container (the service's
            settings, e.g. LOG_LEVEL). Default: none.
        :param min_tasks: tasks always running. Default: 1.
        :param max_tasks: most tasks autoscaling may run. Default: 10.
        :param cpu_target_percent: average CPU that target tracking keeps. Default: 70.
        :param requests_per_target_per_minute: ALB requests per task per minute that target
            tracking keeps. Default: 1000 (about 17 requests/s per task).
        :param scale_in_cooldown: wait after a scale-in. Default: 5 minutes.
        :param scale_out_cooldown: wait after a scale-out. Default: 60 seconds.
        :param spot_weight: weight of FARGATE_SPOT in the capacity provider strategy (0: no
            Spot). Default: 0.
        :param on_demand_base: tasks always on regular FARGATE before Spot takes a share.
            Default: 0.
        :param internal: an internal load balancer in the private subnets, reachable from the
            VPC only. Default: internet-facing in the public subnets when `certificate` is
            given, else internal (synth warns). An internet-facing one needs a certificate.
        :param certificate: an ACM certificate: HTTPS on 443 (TLS 1.2+) and HTTP redirected
            to it. Default: none, plain HTTP on 80 (internal load balancers only).
        :param auth: users sign in before requests reach the tasks: `LoadBalancerAuth.cognito(...)`
            or `.oidc(...)` (needs `certificate`). Default: none.
        :param rate_limit: requests one client IP may send per `rate_limit_window` before the web
            ACL blocks it (internet-facing only; WAF's minimum is 10). Default: 2000.
        :param rate_limit_window: the window `rate_limit` counts in: 1, 2, 5 or 10 minutes.
            Default: 5 minutes.
        :param deletion_protection: the load balancer refuses deletion until this is turned
            off. Default: false.
        :param health_check_grace_period: time after a task starts before failed health checks
            count. The model loads in seconds; the grace covers the image pull. Default: 60 s.
        :param deregistration_delay: how long a draining task finishes its requests.
            Default: 30 seconds (requests take well under a second).
        :param log_retention: how long container logs, Container Insights' performance logs
            and the web ACL's logs are kept. Default: two weeks.
        :param access_log_expiration: how long ALB access logs are kept. Default: 90 days.
        :param removal_policy: what `cdk destroy` does with the log groups, the access log
            bucket and the alarm topic's key. Default: RETAIN.
        :param alarm_topic: where alarms notify. Default: a new KMS-encrypted topic.
        :param http_5xx_alarm_threshold: 5xx answers per minute (ALB and targets) that raise
            the alarm. Default: 5.
        :param p99_latency_alarm_threshold: p99 target response time that raises the alarm.
            Default: 1 second.
        :param monitoring: the service's own (EMF) metrics and the alarms on them: namespace, p99
            request latency, error rate, drift check. Default: `ServiceMonitoring()`.
        :param tracing: an OpenTelemetry collector sidecar that sends the app's spans to X-Ray
            (`TraceCollector()`: the ADOT collector from Amazon ECR Public). Default: none, no
            tracing.
        :param rollback_on_alarms: roll a deployment back when the 5xx or the p99 latency alarm
            fires during it (ECS deployment alarms); the circuit breaker still catches tasks that
            never get healthy. Default: false (the circuit breaker only).
        """
        super().__init__(scope, construct_id)
        check_environment(environment or {})
        monitoring = monitoring or ServiceMonitoring()
        _check_props(
            cpu=cpu,
            memory_mib=memory_mib,
            min_tasks=min_tasks,
            max_tasks=max_tasks,
            cpu_target_percent=cpu_target_percent,
            spot_weight=spot_weight,
            on_demand_base=on_demand_base,
        )
        check_thresholds(
            requests_per_target_per_minute=requests_per_target_per_minute,
            http_5xx_alarm_threshold=http_5xx_alarm_threshold,
        )
        placement = resolve_placement(
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            existing_vpc=cluster.vpc if cluster is not None else None,
            existing="cluster",
            required=True,
            what="the tasks",
        )
        assert placement is not None
        internal = resolve_exposure(self, internal=internal, certificate=certificate, auth=auth)
        window = rate_limit_window or Duration.minutes(5)
        check_rate_limit(rate_limit, window)
        environment = {**({} if internal else DOCS_DISABLED), **(environment or {})}

        #: The retention of a new cluster's Container Insights performance logs; else None.
        self.container_insights_log_retention: Optional[logs.LogRetention] = None
        if cluster is None:
            cluster, self.container_insights_log_retention = self._create_cluster(
                placement.vpc, spot_weight > 0, log_retention, removal_policy
            )
        #: The ECS cluster.
        self.cluster: ecs.ICluster = cluster
        #: The container log group.
        self.log_group = logs.LogGroup(self, "LogGroup", retention=log_retention, removal_policy=removal_policy)
        #: The task definition: read-only root filesystem, a writable /tmp, port 8080.
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=cpu,
            memory_limit_mib=memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=image.cpu_architecture,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
            volumes=[ecs.Volume(name="tmp")],
        )
        #: The service's own (EMF) metrics of this deployment.
        self.service_metrics = ServiceMetrics.of(self, platform="fargate", monitoring=monitoring)
        env = {**self.service_metrics.environment(), **(environment or {})}
        if tracing is not None:
            env = {**app_tracing_environment(self.service_metrics.service), **env}
        #: The inference container.
        self.container = self._add_container(image, env)
        #: The OpenTelemetry collector sidecar, with `tracing`; else None.
        self.collector_container: Optional[ecs.ContainerDefinition] = (
            add_ecs_collector(self.task_definition, tracing, log_group=self.log_group) if tracing is not None else None
        )
        #: The tasks' security group: in from the load balancer, out to HTTPS and DNS only.
        self.task_security_group = _task_security_group(self, self.cluster.vpc)
        #: The Fargate service: private subnets, no public IP, circuit breaker with rollback.
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=min_tasks,
            assign_public_ip=False,
            vpc_subnets=placement.subnets,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            min_healthy_percent=100,
            max_healthy_percent=200,
            health_check_grace_period=health_check_grace_period or Duration.seconds(60),
            capacity_provider_strategies=_capacity_providers(spot_weight, on_demand_base),
            security_groups=[self.task_security_group],
        )
        if self.container_insights_log_retention is not None:
            # Container Insights writes once tasks run: its log group has its retention by then.
            self.service.node.add_dependency(self.container_insights_log_retention)

        #: The ALB access log bucket: SSE-S3 (the only encryption ALB log delivery supports).
        self.access_log_bucket = access_log_bucket(
            self,
            "AccessLogs",
            source="the load balancer's access logs",
            expiration=access_log_expiration or Duration.days(90),
            removal_policy=removal_policy,
        )
        #: The load balancer's security group: its listener ports, from the internet or the VPC.
        self.load_balancer_security_group = load_balancer_security_group(
            self, self.cluster.vpc, internal=internal, https=certificate is not None
        )
        #: Whether the load balancer is internal (reachable from the VPC only).
        self.internal = internal
        #: The Application Load Balancer.
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=self.cluster.vpc,
            internet_facing=not internal,
            security_group=self.load_balancer_security_group,
            # Internet-facing in the public subnets; internal ones default to the private subnets.
            vpc_subnets=None if internal else ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            drop_invalid_header_fields=True,
            deletion_protection=deletion_protection,
        )
        log_load_balancer_access(self.load_balancer, self.access_log_bucket, prefix="alb")
        #: The ACM certificate of the HTTPS listener, or None (plain HTTP).
        self.certificate = certificate
        #: The listener that forwards to the tasks (HTTPS with a certificate, else HTTP).
        self.listener = self._add_listener(certificate)
        #: The target group: health checks on /health.
        self.target_group = elbv2.ApplicationTargetGroup(
            # Where listener.add_targets("Inference") put it: the same logical id as before.
            self.listener,
            "InferenceGroup",
            vpc=self.cluster.vpc,
            port=CONTAINER_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[self.service],
            health_check=elbv2.HealthCheck(
                path="/health",
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
                healthy_http_codes="200",
            ),
            deregistration_delay=deregistration_delay or Duration.seconds(30),
        )
        #: How users sign in before reaching the tasks, or None.
        self.auth = auth
        forward = elbv2.ListenerAction.forward([self.target_group])
        self.listener.add_action("Inference", action=auth.action(forward) if auth is not None else forward)
        #: The AWS WAF web ACL of an internet-facing load balancer; else None.
        self.web_acl: Optional[wafv2.CfnWebACL] = None
        #: The web ACL's log group (blocked and counted requests); else None.
        self.web_acl_log_group: Optional[logs.LogGroup] = None
        if not internal:
            self._guard_internet_facing(max_body_bytes(environment), rate_limit, window, log_retention, removal_policy)
        #: The URL clients call: https://<load balancer DNS name> with a certificate, else http://.
        self.url = f"{'https' if certificate is not None else 'http'}://{self.load_balancer.load_balancer_dns_name}"

        #: Task count autoscaling: target tracking on CPU and on requests per target.
        self.scaling = self.service.auto_scale_task_count(min_capacity=min_tasks, max_capacity=max_tasks)
        cooldowns = {
            "scale_in_cooldown": scale_in_cooldown or Duration.minutes(5),
            "scale_out_cooldown": scale_out_cooldown or Duration.seconds(60),
        }
        self.scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=cpu_target_percent, **cooldowns)
        self.scaling.scale_on_request_count(
            "Requests",
            requests_per_target=requests_per_target_per_minute,
            target_group=self.target_group,
            **cooldowns,
        )

        #: Tasks always running (the autoscaling minimum, and the running-tasks alarm's threshold).
        self.min_tasks = min_tasks
        #: Where the alarms notify.
        self.topic: sns.ITopic = alarm_topic or encrypted_alarm_topic(self, removal_policy)
        #: The alarms by name: http_5xx, p99_latency, unhealthy_hosts, running_tasks, and the service
        #: alarms (service_p99_latency, service_error_rate, drift_*).
        self.alarms = self._create_alarms(http_5xx_alarm_threshold, p99_latency_alarm_threshold or Duration.seconds(1))
        self.alarms.update(add_service_alarms(AlarmSet(self, self.topic), self.service_metrics, monitoring))
        if rollback_on_alarms:
            # Both alarms watch the load balancer and target group, never the service: no cycle.
            self.service.enable_deployment_alarms(
                [self.alarms["http_5xx"].alarm_name, self.alarms["p99_latency"].alarm_name],
                behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM,
            )

    def metric(self, metric_name: str, **options: Any) -> cloudwatch.Metric:
        """Any AWS/ECS metric of the service (e.g. "CPUUtilization")."""
        return self.service.metric(metric_name, **options)

    def metric_cpu_utilization(self, **options: Any) -> cloudwatch.Metric:
        """Average CPU of the service's tasks, in percent."""
        return self.service.metric_cpu_utilization(**options)

    def metric_memory_utilization(self, **options: Any) -> cloudwatch.Metric:
        """Average memory of the service's tasks, in percent."""
        return self.service.metric_memory_utilization(**options)

    def metric_request_count(self, **options: Any) -> cloudwatch.Metric:
        """Requests the load balancer sent to the tasks."""
        return self.target_group.metrics.request_count(**options)

    def metric_target_response_time(self, **options: Any) -> cloudwatch.Metric:
        """Time from the load balancer sending a request to a task's answer (p99 by default)."""
        return self.target_group.metrics.target_response_time(**{"statistic": "p99", **options})

    def metric_http_5xx(self, **options: Any) -> cloudwatch.IMetric:
        """5xx answers per period, from the load balancer itself and from the tasks."""
        period = options.pop("period", Duration.minutes(1))
        return cloudwatch.MathExpression(
            expression="FILL(elb, 0) + FILL(target, 0)",
            using_metrics={
                "elb": self.load_balancer.metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=period, **options),
                "target": self.target_group.metrics.http_code_target(
                    elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=period, **options
                ),
            },
            label="HTTP 5xx",
            period=period,
        )

    def metric_unhealthy_hosts(self, **options: Any) -> cloudwatch.Metric:
        """Tasks the target group considers unhealthy (maximum per period)."""
        return self.target_group.metrics.unhealthy_host_count(**{"statistic": "Maximum", **options})

    def metric_running_tasks(self, **options: Any) -> cloudwatch.Metric:
        """Running tasks of the service (Container Insights)."""
        return cloudwatch.Metric(
            namespace="ECS/ContainerInsights",
            metric_name="RunningTaskCount",
            dimensions_map={"ClusterName": self.cluster.cluster_name, "ServiceName": self.service.service_name},
            **{"statistic": "Minimum", **options},
        )

    def _create_cluster(
        self, vpc: ec2.IVpc, spot: bool, log_retention: logs.RetentionDays, removal_policy: RemovalPolicy
    ) -> tuple[ecs.Cluster, logs.LogRetention]:
        cluster = ecs.Cluster(self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        if spot:
            cluster.enable_fargate_capacity_providers()
        retention = expire_service_log_group(
            cluster,
            "PerformanceLogRetention",
            log_group_name=f"/aws/ecs/containerinsights/{cluster.cluster_name}/performance",
            retention=log_retention,
            removal_policy=removal_policy,
        )
        return cluster, retention

    def _guard_internet_facing(
        self,
        body_limit: int,
        rate_limit: int,
        window: Duration,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        """The private paths answer 404 here, and the web ACL sits in front."""
        self.listener.add_action(
            "PrivatePaths",
            priority=1,
            conditions=[elbv2.ListenerCondition.path_patterns(private_path_patterns())],
            action=elbv2.ListenerAction.fixed_response(404, content_type="application/json", message_body=NOT_FOUND_BODY),
        )
        firewall = load_balancer_firewall(
            self,
            "Firewall",
            rate_limit=rate_limit,
            rate_limit_window=window,
            max_body_bytes=body_limit,
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self.web_acl, self.web_acl_log_group = firewall.web_acl, firewall.log_group
        wafv2.CfnWebACLAssociation(
            self,
            "FirewallAssociation",
            resource_arn=self.load_balancer.load_balancer_arn,
            web_acl_arn=firewall.web_acl.attr_arn,
        )

    def _add_container(self, image: ModelImage, environment: Mapping[str, str]) -> ecs.ContainerDefinition:
        container = self.task_definition.add_container(
            "Inference",
            image=image.ecs_image(),
            port_mappings=[ecs.PortMapping(container_port=CONTAINER_PORT, name="http")],
            environment={"PLATFORM": "fargate", "MODEL_DIR": "/opt/ml/model", "PORT": str(CONTAINER_PORT), **environment},
            logging=ecs.LogDrivers.aws_logs(stream_prefix="inference", log_group=self.log_group),
            readonly_root_filesystem=True,
            health_check=ecs.HealthCheck(
                command=["CMD", "python", "-m", "inference.app.healthcheck"],
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(60),
            ),
            stop_timeout=Duration.seconds(30),
        )
        container.add_mount_points(ecs.MountPoint(container_path="/tmp", source_volume="tmp", read_only=False))
        Validations.of(self.task_definition).acknowledge(
            Acknowledgment(
                id="AwsSolutions-ECS2",
                reason="The environment holds only non-secret settings (platform name, model path, port, "
                "service limits, metric and tracing settings, the collector's configuration); nothing "
                "secret is passed to the containers.",
            )
        )
        if self.task_definition.execution_role is not None:
            acknowledge_grant(
                self.task_definition.execution_role,
                "AwsSolutions-IAM5[Resource::*]",
                "ecr:GetAuthorizationToken supports no resource-level permissions; the image pull itself is "
                "scoped to the asset repository.",
            )
        return container

    def _add_listener(self, certificate: Optional[acm.ICertificate]) -> elbv2.ApplicationListener:
        if certificate is not None:
            listener = self.load_balancer.add_listener(
                "Https",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_certificate_manager(certificate)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                open=False,
            )
            self.load_balancer.add_redirect(source_port=80, target_port=443)
            return listener
        listener = self.load_balancer.add_listener("Http", port=80, protocol=elbv2.ApplicationProtocol.HTTP, open=False)
        skip_checkov(
            listener,
            CKV_AWS_2="An internal load balancer without a certificate: plain HTTP inside the VPC only "
            "(FargateInference(certificate=...) switches to HTTPS with a redirect).",
            CKV_AWS_103="TLS applies with a certificate only; see CKV_AWS_2.",
        )
        return listener

    def _create_alarms(self, http_5xx_threshold: int, p99_threshold: Duration) -> dict[str, cloudwatch.Alarm]:
        one_minute = Duration.minutes(1)
        alarms = AlarmSet(self, self.topic)
        alarms.add(
            "http_5xx",
            "Http5xxAlarm",
            description="The inference service answers 5xx",
            metric=self.metric_http_5xx(period=one_minute, statistic="Sum"),
            threshold=http_5xx_threshold,
            evaluation=SPIKE,
        )
        alarms.add(
            "p99_latency",
            "P99LatencyAlarm",
            description="The inference service's p99 response time is high",
            metric=self.metric_target_response_time(period=Duration.minutes(5)),
            threshold=p99_threshold.to_seconds(),
            evaluation=SUSTAINED,
        )
        alarms.add(
            "unhealthy_hosts",
            "UnhealthyHostsAlarm",
            description="Inference tasks fail their health checks",
            metric=self.metric_unhealthy_hosts(period=one_minute),
            threshold=1,
            evaluation=SUSTAINED_AT_LEAST,
        )
        alarms.add(
            "running_tasks",
            "RunningTasksAlarm",
            description="Fewer inference tasks run than the minimum",
            metric=self.metric_running_tasks(period=one_minute),
            threshold=self.min_tasks,
            evaluation=SHORTFALL,
        )
        return alarms.alarms


def _task_security_group(scope: Construct, vpc: ec2.IVpc) -> ec2.SecurityGroup:
    security_group = ec2.SecurityGroup(
        scope,
        "TaskSecurityGroup",
        vpc=vpc,
        description="Inference tasks: 8080 from the load balancer; HTTPS and DNS out",
        allow_all_outbound=False,
    )
    # Image layers (S3), ECR, CloudWatch Logs and any AWS API, through endpoints or NAT.
    security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs")
    for port in (ec2.Port.udp(53), ec2.Port.tcp(53)):
        security_group.add_egress_rule(ec2.Peer.ipv4(vpc.vpc_cidr_block), port, "DNS to the VPC resolver")
    return security_group


def _capacity_providers(spot_weight: int, on_demand_base: int) -> Optional[list[ecs.CapacityProviderStrategy]]:
    if spot_weight == 0:
        return None
    return [
        ecs.CapacityProviderStrategy(capacity_provider="FARGATE", base=on_demand_base, weight=1),
        ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT", weight=spot_weight),
    ]


def _check_props(
    *,
    cpu: int,
    memory_mib: int,
    min_tasks: int,
    max_tasks: int,
    cpu_target_percent: int,
    spot_weight: int,
    on_demand_base: int,
) -> None:
    """The checks that relate the task size, the task counts and the capacity strategy."""
    if cpu not in _FARGATE_SIZES:
        raise ValueError(f"cpu must be one of {', '.join(map(str, _FARGATE_SIZES))} (Fargate task sizes), got {cpu}")
    if memory_mib not in _FARGATE_SIZES[cpu]:
        allowed = _FARGATE_SIZES[cpu]
        raise ValueError(
            f"memory_mib {memory_mib} is not valid with cpu {cpu}: use {allowed.start}-{allowed.stop - 1} "
            f"in steps of {allowed.step}"
        )
    if min_tasks < 1:
        raise ValueError("min_tasks must be at least 1: a load balancer with no tasks answers 503")
    if max_tasks < min_tasks:
        raise ValueError(f"max_tasks ({max_tasks}) must be at least min_tasks ({min_tasks})")
    if not 10 <= cpu_target_percent <= 90:
        raise ValueError(f"cpu_target_percent must be between 10 and 90, got {cpu_target_percent}")
    if spot_weight < 0 or on_demand_base < 0:
        raise ValueError("spot_weight and on_demand_base must not be negative")
    if on_demand_base and not spot_weight:
        raise ValueError("on_demand_base applies to a Spot strategy: set spot_weight too")


__all__ = ["FargateInference", "CONTAINER_PORT"]
