"""EksInference: the inference server on Amazon EKS (Auto Mode) behind an ALB Ingress."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from .._alarms import SATURATED, SHORTFALL, SPIKE, AlarmSet, add_service_alarms, check_thresholds, encrypted_alarm_topic
from .._exposure import DOCS_DISABLED, max_body_bytes
from .._load_balancer import resolve_exposure
from .._placement import resolve_placement
from .._service_metrics import ServiceMetrics, ServiceMetricsMixin, ServiceMonitoring, check_environment
from .._tracing import TraceCollector, app_tracing_environment, grant_put_traces
from .._waf import DEFAULT_RATE_LIMIT, check_rate_limit, load_balancer_firewall
from ..model_image import ModelImage
from . import manifests as k8s
from . import addons as eks_addons
from .cluster import DEFAULT_KUBERNETES_VERSION, load_balancer_subnet_ids, new_cluster
from .props import check_cluster_props, check_gpu_props, check_workload_props

CONTAINER_INSIGHTS_NAMESPACE = "ContainerInsights"
_GPU_NODE_POOL = "inference-gpu"


class EksInference(ServiceMetricsMixin, Construct):
    """The ModelImage `server` target on Amazon EKS, exposed through an ALB Ingress.

    By default it creates an EKS Auto Mode cluster in the network's private subnets: a private
    API endpoint, every control-plane log type, Kubernetes secrets encrypted with a rotating
    KMS key, and access entries for the admin roles given. Pass `cluster` instead to deploy
    onto an existing Auto Mode cluster that has a kubectl provider.

    With a certificate the Ingress's ALB is internet-facing on HTTPS (TLS 1.2+, HTTP redirected)
    behind an AWS WAF web ACL, and answers 404 for /metrics and the API docs; without one it is
    internal. Every log group the cluster and its add-ons write gets `log_retention`.

    The Kubernetes objects are built from the props as Python data (see `manifests`) and
    applied with `add_manifest`: a Namespace (Pod Security "restricted"); a ServiceAccount
    mapped to an IAM role with EKS Pod Identity; a Deployment of the `server` image (non-root,
    read-only root filesystem, startup/readiness/liveness probes on /health, rolling updates
    that never drop below the current count and fail after `progress_deadline`, spread across
    zones); a Service; an Ingress with Auto Mode's ALB IngressClass and IngressClassParams, whose
    load balancer address the stack reads back (`url`); a HorizontalPodAutoscaler on CPU and
    memory that scales up at once and down after a stabilisation window; a
    PodDisruptionBudget. The metrics-server add-on feeds the HPA; the CloudWatch Observability
    add-on (Container Insights) feeds the alarms and `metric_*()` helpers. With `gpu_count`, an
    Auto Mode NodePool of GPU instances (g5 by default) takes the pods, which request
    `nvidia.com/gpu` and run the image's `server-gpu` target (CUDA PyTorch); Auto Mode's GPU AMIs
    bring the NVIDIA driver and device plugin.

    The service's own (EMF) metrics reach CloudWatch through the add-on's Fluent Bit, which sends
    the workload's EMF lines to a log group of their own; the service alarms (p99 request latency,
    5xx error rate, drift) watch them, since Auto Mode's load balancer is not in the template. With
    `tracing`, an OpenTelemetry collector sidecar in each pod sends spans to X-Ray.

    Minimal use::

        network = SharedNetwork(stack, "Network")
        EksInference(stack, "Service", image=image, vpc=network.vpc)
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        image: ModelImage,
        vpc: Optional[ec2.IVpc] = None,
        vpc_subnets: Optional[ec2.SubnetSelection] = None,
        cluster: Optional[eks.ICluster] = None,
        version: Optional[eks.KubernetesVersion] = None,
        kubectl_layer: Optional[lambda_.ILayerVersion] = None,
        endpoint_public_cidrs: Sequence[str] = (),
        admin_roles: Sequence[iam.IRole] = (),
        namespace: str = "inference",
        name: str = "inference",
        cpu_request_millicores: int = 1000,
        cpu_limit_millicores: int = 2000,
        memory_request_mib: int = 2048,
        memory_limit_mib: int = 4096,
        environment: Optional[Mapping[str, str]] = None,
        min_replicas: int = 2,
        max_replicas: int = 10,
        cpu_target_percent: int = 70,
        memory_target_percent: int = 80,
        scale_down_stabilization: Optional[Duration] = None,
        max_unavailable: int = 1,
        progress_deadline: Optional[Duration] = None,
        gpu_count: int = 0,
        gpu_instance_families: Sequence[str] = ("g5",),
        internal: Optional[bool] = None,
        certificate: Optional[acm.ICertificate] = None,
        rate_limit: int = DEFAULT_RATE_LIMIT,
        rate_limit_window: Optional[Duration] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.TWO_WEEKS,
        metrics_server: bool = True,
        container_insights: bool = True,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        alarm_topic: Optional[sns.ITopic] = None,
        cpu_alarm_threshold_percent: int = 90,
        restart_alarm_threshold: int = 3,
        monitoring: Optional[ServiceMonitoring] = None,
        tracing: Optional[TraceCollector] = None,
    ) -> None:
        """
        :param image: the ModelImage to run (its `server` target).
        :param vpc: the VPC to create the cluster in (e.g. `SharedNetwork(...).vpc`). Either
            this or `cluster`.
        :param vpc_subnets: the subnets of a new cluster's control plane and nodes. Default:
            the VPC's private subnets.
        :param cluster: an existing EKS Auto Mode cluster with a kubectl provider (import one
            with `Cluster.from_cluster_attributes(kubectl_provider=...)`) to deploy onto.
            Default: a new Auto Mode cluster.
        :param version: the Kubernetes version of a new cluster. Default:
            `DEFAULT_KUBERNETES_VERSION` (1.36), the newest with a kubectl layer package.
        :param kubectl_layer: the Lambda layer with kubectl and helm for a new cluster's
            kubectl provider. Default: `aws-cdk.lambda-layer-kubectl-vNN` for `version`
            (installed separately; the default version's package is a dependency).
        :param endpoint_public_cidrs: CIDR blocks allowed to reach the cluster's API endpoint
            from the internet; together at most a /16 of public addresses (see
            `endpoint_access`). Default: none, a private endpoint only (reach it from the VPC,
            a VPN or a bastion).
        :param admin_roles: IAM roles given cluster-admin access entries (for `kubectl`).
            Default: none: only the kubectl provider's role, which CloudFormation uses to apply
            the manifests, administers the cluster (synth warns).
        :param namespace: the Kubernetes namespace of the workload. Default: `inference`.
        :param name: the name of the Deployment, Service, Ingress, HPA, PDB and service
            account. Default: `inference`.
        :param cpu_request_millicores: CPU each pod requests. Default: 1000 (1 vCPU).
        :param cpu_limit_millicores: CPU each pod may use. Default: 2000.
        :param memory_request_mib: memory each pod requests. Default: 2048 (2Gi).
        :param memory_limit_mib: memory each pod may use. Default: 4096 (4Gi).
        :param environment: extra environment variables for the container. Default: none.
        :param min_replicas: pods always running (the HPA's minimum). Default: 2, one per zone.
        :param max_replicas: most pods the HPA may run. Default: 10.
        :param cpu_target_percent: average CPU (of the request) the HPA keeps. Default: 70.
        :param memory_target_percent: average memory (of the request) the HPA keeps.
            Default: 80.
        :param scale_down_stabilization: how long the HPA waits before scaling down.
            Default: 5 minutes.
        :param max_unavailable: pods a voluntary disruption (node drain, consolidation) may
            take at once (the PodDisruptionBudget). Default: 1.
        :param progress_deadline: how long a rollout may make no progress before Kubernetes marks
            it failed (`progressDeadlineSeconds`; the old pods keep serving). Default: 10 minutes.
        :param gpu_count: NVIDIA GPUs per pod; above 0 adds a GPU NodePool and schedules the
            pods there. The image must then carry a CUDA-enabled runtime (the default image is
            CPU-only). Default: 0.
        :param gpu_instance_families: EC2 instance families of the GPU NodePool. Default:
            `("g5",)`.
        :param internal: an internal load balancer in the private subnets, reachable from the
            VPC only. Default: internet-facing in the public subnets when `certificate` is
            given, else internal (synth warns). An internet-facing one needs a certificate.
        :param certificate: an ACM certificate: HTTPS on 443 (TLS 1.2+) and HTTP redirected
            to it. Default: none, plain HTTP on 80 (internal load balancers only).
        :param rate_limit: requests one client IP may send per `rate_limit_window` before the web
            ACL blocks it (internet-facing only; WAF's minimum is 10). Default: 2000.
        :param rate_limit_window: the window `rate_limit` counts in: 1, 2, 5 or 10 minutes.
            Default: 5 minutes.
        :param log_retention: how long the control plane's, the kubectl provider's, Container
            Insights', the EMF metric lines' and the web ACL's logs are kept. Default: two weeks.
        :param metrics_server: install the metrics-server EKS add-on that the HPA reads.
            Default: true (turn it off on a cluster that already runs one).
        :param container_insights: install the Amazon CloudWatch Observability add-on with a
            Pod Identity role, and create the alarms. Default: true.
        :param removal_policy: what `cdk destroy` does with the secrets key, the alarm topic's
            key and the log groups. Default: RETAIN.
        :param alarm_topic: where alarms notify (with `container_insights` only). Default: a new
            KMS-encrypted topic.
        :param cpu_alarm_threshold_percent: pod CPU, in percent of the limit, that raises the
            saturation alarm. Default: 90.
        :param restart_alarm_threshold: container restarts in 5 minutes that raise the
            alarm. Default: 3.
        :param monitoring: the service's own (EMF) metrics and the alarms on them: namespace, p99
            request latency, error rate, drift check (with `container_insights`, whose Fluent Bit
            ships them). Default: `ServiceMonitoring()`.
        :param tracing: an OpenTelemetry collector sidecar in each pod that sends spans to X-Ray
            with the pod role (`TraceCollector()`: the ADOT collector from Amazon ECR Public).
            Default: none, no tracing.
        """
        super().__init__(scope, construct_id)
        if cluster is not None and (vpc is not None or vpc_subnets is not None):
            raise ValueError("give vpc or cluster, not both: vpc and vpc_subnets place a new cluster")
        check_cluster_props(cluster, version, kubectl_layer, endpoint_public_cidrs)
        check_workload_props(
            namespace=namespace,
            name=name,
            cpu_millicores=(cpu_request_millicores, cpu_limit_millicores),
            memory_mib=(memory_request_mib, memory_limit_mib),
            replicas=(min_replicas, max_replicas),
            target_percents=(cpu_target_percent, memory_target_percent),
            max_unavailable=max_unavailable,
        )
        check_gpu_props(gpu_count, gpu_instance_families, image)
        if progress_deadline is not None and progress_deadline.to_seconds() < 180:
            raise ValueError("progress_deadline must be at least 3 minutes: the startup probe gives a pod that long to start")
        if not 1 <= cpu_alarm_threshold_percent <= 100:
            raise ValueError(f"cpu_alarm_threshold_percent must be between 1 and 100, got {cpu_alarm_threshold_percent}")
        check_thresholds(restart_alarm_threshold=restart_alarm_threshold)
        check_environment(environment or {})
        monitoring = monitoring or ServiceMonitoring()
        internal = resolve_exposure(self, internal=internal, certificate=certificate, auth=None)
        window = rate_limit_window or Duration.minutes(5)
        check_rate_limit(rate_limit, window)
        environment = {**({} if internal else DOCS_DISABLED), **(environment or {})}

        #: The KMS key that encrypts Kubernetes secrets (None on an existing cluster).
        self.secrets_key: Optional[kms.Key] = None
        #: The retention of a new cluster's control-plane log group (None on an existing cluster).
        self.control_plane_log_retention: Optional[logs.LogRetention] = None
        if cluster is None:
            placement = resolve_placement(vpc=vpc, vpc_subnets=vpc_subnets, existing="cluster", required=True,
                                          what="the cluster's nodes")
            assert placement is not None
            cluster, self.secrets_key, self.control_plane_log_retention = new_cluster(
                self,
                vpc=placement.vpc,
                subnets=placement.subnets,
                version=version or DEFAULT_KUBERNETES_VERSION,
                kubectl_layer=kubectl_layer,
                endpoint_public_cidrs=endpoint_public_cidrs,
                log_retention=log_retention,
                removal_policy=removal_policy,
            )
            if not admin_roles:
                Annotations.of(self).add_warning_v2(
                    "ml-inference:noClusterAdmins",
                    "no admin_roles: only the kubectl provider's role, which CloudFormation applies the manifests "
                    "with, administers the cluster; pass admin_roles (eks_admin_role_arns) to use kubectl",
                )
        #: The EKS cluster.
        self.cluster: eks.ICluster = cluster
        #: The admin roles' access entries (cluster-admin policy, cluster scope).
        self.admin_access_entries = [
            eks.AccessEntry(
                self,
                f"Admin{index}",
                cluster=self.cluster,
                principal=role.role_arn,
                access_policies=[
                    eks.AccessPolicy.from_access_policy_name(
                        "AmazonEKSClusterAdminPolicy", access_scope_type=eks.AccessScopeType.CLUSTER
                    )
                ],
            )
            for index, role in enumerate(admin_roles)
        ]
        provider_role = self.cluster.kubectl_provider.role if self.cluster.kubectl_provider is not None else None
        #: Every IAM role with cluster-admin access this construct knows of: the kubectl provider's
        #: (CloudFormation applies the manifests with it), then `admin_roles`.
        self.cluster_admin_role_arns: list[str] = [
            *([provider_role.role_arn] if provider_role is not None else []),
            *(role.role_arn for role in admin_roles),
        ]

        #: The Kubernetes namespace of the workload.
        self.namespace = namespace
        #: The Kubernetes service account the pods run as.
        self.service_account = name
        #: The IAM role the pods assume through EKS Pod Identity: grant it what the app uses.
        self.service_account_role = iam.Role(
            self,
            "PodRole",
            assumed_by=iam.SessionTagsPrincipal(iam.ServicePrincipal("pods.eks.amazonaws.com")),
            description="Assumed by the inference pods through EKS Pod Identity",
        )
        #: The Pod Identity association of the service account with `service_account_role`.
        self.pod_identity = eks.CfnPodIdentityAssociation(
            self,
            "PodIdentity",
            cluster_name=self.cluster.cluster_name,
            namespace=namespace,
            service_account=name,
            role_arn=self.service_account_role.role_arn,
        )

        #: The service's own (EMF) metrics of this deployment.
        self.service_metrics = ServiceMetrics.of(self, platform="eks", monitoring=monitoring)
        env = {**self.service_metrics.environment(), **(environment or {})}
        if tracing is not None:
            env = {**app_tracing_environment(self.service_metrics.service), **env}
            grant_put_traces(self.service_account_role)
        #: The tracing sidecar of each pod, or None.
        self.tracing = tracing
        #: The image target the pods run: `server-gpu` (CUDA PyTorch) with `gpu_count`, else `server`.
        self.image_target = "server-gpu" if gpu_count else "server"
        #: The image the pods run.
        self.image_uri = image.image_uri(self.image_target)
        #: The IngressClass (and IngressClassParams) name: cluster-scoped, so it carries the namespace.
        self.ingress_class_name = f"{namespace}-alb"
        #: Whether the Ingress's load balancer is internal (reachable from the VPC only).
        self.internal = internal
        #: The AWS WAF web ACL of an internet-facing Ingress (associated by annotation); else None.
        self.web_acl: Optional[wafv2.CfnWebACL] = None
        #: The web ACL's log group (blocked and counted requests); else None.
        self.web_acl_log_group: Optional[logs.LogGroup] = None
        if not internal:
            firewall = load_balancer_firewall(
                self,
                "Firewall",
                rate_limit=rate_limit,
                rate_limit_window=window,
                max_body_bytes=max_body_bytes(environment),
                log_retention=log_retention,
                removal_policy=removal_policy,
            )
            self.web_acl, self.web_acl_log_group = firewall.web_acl, firewall.log_group
        #: What the Deployment, Service, HPA and PDB are built from.
        self.workload = k8s.WorkloadSpec(
            name=name,
            namespace=namespace,
            image_uri=self.image_uri,
            service_account=name,
            cpu_request_millicores=cpu_request_millicores,
            cpu_limit_millicores=cpu_limit_millicores,
            memory_request_mib=memory_request_mib,
            memory_limit_mib=memory_limit_mib,
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            cpu_target_percent=cpu_target_percent,
            memory_target_percent=memory_target_percent,
            scale_down_stabilization_seconds=int((scale_down_stabilization or Duration.minutes(5)).to_seconds()),
            environment=env,
            gpu_count=gpu_count,
            gpu_node_pool=_GPU_NODE_POOL if gpu_count else None,
            max_unavailable=max_unavailable,
            **_collector_spec(tracing, Stack.of(self).region),
            progress_deadline_seconds=int((progress_deadline or Duration.minutes(10)).to_seconds()),
        )
        #: The Kubernetes objects applied to the cluster, by kind (plain dicts; tokens unresolved).
        self.manifests: dict[str, dict[str, Any]] = k8s.all_manifests(
            self.workload,
            ingress_class_name=self.ingress_class_name,
            internal=internal,
            subnet_ids=load_balancer_subnet_ids(self.cluster, internal),
            certificate_arn=certificate.certificate_arn if certificate is not None else None,
            gpu_instance_families=gpu_instance_families,
            architecture="arm64" if image.is_arm64 else "amd64",
            web_acl_arn=self.web_acl.attr_arn if self.web_acl is not None else None,
        )
        #: The KubernetesManifest constructs by group: Namespace, Identity, Workload, Ingress, NodePool.
        self.kubernetes_resources: dict[str, eks.KubernetesManifest] = self._apply_manifests()
        if tracing is not None:
            # The sidecar sends spans as soon as a pod starts: the role's X-Ray policy first.
            self.kubernetes_resources["Workload"].node.add_dependency(self.service_account_role)
        #: The URL clients call: the Ingress's load balancer, read from the cluster once Auto Mode
        #: has provisioned it (https:// with a certificate, else http://).
        self.url = f"{'https' if certificate is not None else 'http'}://{self._ingress_hostname(name, namespace)}"

        #: The EKS add-ons this construct installed, by name.
        self.addons: dict[str, eks.Addon] = {}
        if metrics_server:
            addon = eks_addons.metrics_server(self, self.cluster)
            self.addons[eks_addons.METRICS_SERVER_ADDON] = addon
            # The HPA reads metrics-server; without it the HPA reports <unknown> and never scales.
            self.kubernetes_resources["Workload"].node.add_dependency(addon)

        #: Whether Container Insights (the CloudWatch Observability add-on) is installed.
        self.container_insights = container_insights
        #: The role of the CloudWatch agent (Pod Identity), or None without Container Insights.
        self.cloudwatch_agent_role: Optional[iam.Role] = None
        #: Where the alarms notify (None without Container Insights).
        self.topic: Optional[sns.ITopic] = None
        #: The log group the EMF lines go to, for CloudWatch to read (None without Container Insights).
        self.metrics_log_group: Optional[logs.LogGroup] = None
        #: The alarms by name: running_pods, container_restarts, cpu_saturation, memory_saturation,
        #: and the service alarms (service_p99_latency, service_error_rate, drift_*) (empty without
        #: Container Insights, whose metrics and Fluent Bit they need).
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        #: The retention of the log groups Container Insights writes (empty without it).
        self.container_insights_log_retention: list[logs.LogRetention] = []
        if container_insights:
            self.metrics_log_group = logs.LogGroup(
                self, "MetricsLogGroup", retention=log_retention, removal_policy=removal_policy
            )
            emf = eks_addons.emf_pipeline(
                namespace=namespace, name=name, container=k8s.CONTAINER_NAME,
                log_group_name=self.metrics_log_group.log_group_name,
            )
            addon, self.cloudwatch_agent_role, self.container_insights_log_retention = eks_addons.container_insights(
                self,
                self.cluster,
                log_retention=log_retention,
                removal_policy=removal_policy,
                extra_fluent_bit_files={f"emf-{namespace}-{name}.conf": emf},
            )
            self.addons[eks_addons.CONTAINER_INSIGHTS_ADDON] = addon
            self.topic = alarm_topic or encrypted_alarm_topic(self, removal_policy)
            self.alarms = self._create_alarms(self.topic, min_replicas, cpu_alarm_threshold_percent,
                                              restart_alarm_threshold)
            self.alarms.update(add_service_alarms(AlarmSet(self, self.topic), self.service_metrics, monitoring))

    @property
    def cluster_name(self) -> str:
        """The EKS cluster's name."""
        return self.cluster.cluster_name

    def update_kubeconfig_command(self) -> str:
        """The `aws eks update-kubeconfig` command for this cluster."""
        region = Stack.of(self).region
        return f"aws eks update-kubeconfig --name {self.cluster.cluster_name} --region {region}"

    def ingress_address_command(self) -> str:
        """The kubectl command that prints the load balancer's DNS name once it is provisioned."""
        return (
            f"kubectl get ingress {self.workload.name} --namespace {self.namespace} "
            "--output jsonpath='{.status.loadBalancer.ingress[0].hostname}'"
        )

    # -- metrics (Container Insights) -------------------------------------------------------

    def metric(self, metric_name: str, **options: Any) -> cloudwatch.Metric:
        """Any Container Insights metric of the Service's pods (e.g. "pod_cpu_utilization")."""
        return self._metric(metric_name, {"Service": self.workload.name}, options)

    def _metric(self, metric_name: str, dimensions: Mapping[str, str], options: Mapping[str, Any]) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=CONTAINER_INSIGHTS_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={"ClusterName": self.cluster.cluster_name, "Namespace": self.namespace, **dimensions},
            **options,
        )

    def metric_running_pods(self, **options: Any) -> cloudwatch.Metric:
        """Running pods behind the Service (Container Insights; minimum per period by default)."""
        return self._metric(
            "service_number_of_running_pods", {"Service": self.workload.name}, {"statistic": "Minimum", **options}
        )

    def metric_cpu_utilization(self, **options: Any) -> cloudwatch.Metric:
        """Pods' CPU in percent of their limit, for the Service (Container Insights)."""
        return self._metric(
            "pod_cpu_utilization_over_pod_limit", {"Service": self.workload.name}, {"statistic": "Average", **options}
        )

    def metric_memory_utilization(self, **options: Any) -> cloudwatch.Metric:
        """Pods' memory in percent of their limit, for the Service (Container Insights)."""
        return self._metric(
            "pod_memory_utilization_over_pod_limit",
            {"Service": self.workload.name},
            {"statistic": "Average", **options},
        )

    def metric_container_restarts(self, **options: Any) -> cloudwatch.Metric:
        """Container restarts of the Deployment's pods (Container Insights groups pods by workload)."""
        return self._metric(
            "pod_number_of_container_restarts", {"PodName": self.workload.name}, {"statistic": "Sum", **options}
        )

    def metric_network_rx_bytes(self, **options: Any) -> cloudwatch.Metric:
        """Bytes per second the pods receive (Container Insights)."""
        return self._metric(
            "pod_network_rx_bytes", {"Service": self.workload.name}, {"statistic": "Average", **options}
        )

    # -- building blocks --------------------------------------------------------------------

    def _ingress_hostname(self, name: str, namespace: str) -> str:
        hostname = eks.KubernetesObjectValue(
            self,
            "IngressHostname",
            cluster=self.cluster,
            object_type="ingress",
            object_name=name,
            object_namespace=namespace,
            json_path=".status.loadBalancer.ingress[0].hostname",
            # Auto Mode provisions the ALB in 2-5 minutes; the value is polled until then.
            timeout=Duration.minutes(10),
        )
        hostname.node.add_dependency(self.kubernetes_resources["Ingress"])
        return hostname.value

    def _apply_manifests(self) -> dict[str, eks.KubernetesManifest]:
        m = self.manifests
        resources = {"Namespace": self.cluster.add_manifest("Namespace", m["Namespace"])}
        groups = {
            "Identity": [m["ServiceAccount"]],
            "Ingress": [m["IngressClassParams"], m["IngressClass"], m["Ingress"]],
            "Workload": [m["Deployment"], m["Service"], m["HorizontalPodAutoscaler"], m["PodDisruptionBudget"]],
        }
        if "NodePool" in m:
            resources["NodePool"] = self.cluster.add_manifest("NodePool", m["NodePool"])
        for group, objects in groups.items():
            resource = self.cluster.add_manifest(group, *objects)
            resource.node.add_dependency(resources["Namespace"])
            resources[group] = resource
        workload = resources["Workload"]
        workload.node.add_dependency(resources["Identity"], self.pod_identity)
        if "NodePool" in resources:
            workload.node.add_dependency(resources["NodePool"])
        return resources

    def _create_alarms(
        self, topic: sns.ITopic, min_replicas: int, cpu_threshold: int, restart_threshold: int
    ) -> dict[str, cloudwatch.Alarm]:
        one_minute, five_minutes = Duration.minutes(1), Duration.minutes(5)
        alarms = AlarmSet(self, topic)
        alarms.add(
            "running_pods",
            "RunningPodsAlarm",
            description="Fewer inference pods run than the HPA's minimum",
            metric=self.metric_running_pods(period=one_minute),
            threshold=min_replicas,
            evaluation=SHORTFALL,
        )
        alarms.add(
            "container_restarts",
            "ContainerRestartsAlarm",
            description="Inference containers restart (failed liveness probes, OOM kills)",
            metric=self.metric_container_restarts(period=five_minutes),
            threshold=restart_threshold,
            evaluation=SPIKE,
        )
        alarms.add(
            "cpu_saturation",
            "CpuSaturationAlarm",
            description="Inference pods run near their CPU limit: the HPA is at its maximum or too slow",
            metric=self.metric_cpu_utilization(period=five_minutes),
            threshold=cpu_threshold,
            evaluation=SATURATED,
        )
        alarms.add(
            "memory_saturation",
            "MemorySaturationAlarm",
            description="Inference pods run near their memory limit: OOM kills follow",
            metric=self.metric_memory_utilization(period=five_minutes),
            threshold=90,
            evaluation=SATURATED,
        )
        return alarms.alarms


def _collector_spec(tracing: Optional[TraceCollector], region: str) -> dict[str, Any]:
    """The WorkloadSpec fields of the tracing sidecar (none without tracing)."""
    if tracing is None:
        return {}
    return {
        "collector_image": tracing.image,
        "collector_config": tracing.config_content(region),
        "collector_cpu_millicores": tracing.cpu_millicores,
        "collector_memory_mib": tracing.memory_limit_mib,
    }


__all__ = ["EksInference", "CONTAINER_INSIGHTS_NAMESPACE"]
