"""EksInference: the inference server on Amazon EKS (Auto Mode) behind an ALB Ingress."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from . import _eks_manifests as k8s
from ._alarms import encrypted_alarm_topic, notify_on_state_changes
from .model_image import ModelImage
from .network import SharedNetwork

#: The newest Kubernetes version that both aws-cdk-lib knows and a kubectl layer package ships.
DEFAULT_KUBERNETES_VERSION = eks.KubernetesVersion.V1_36
#: Every control-plane log type: API, audit, authenticator, controller manager, scheduler.
ALL_CLUSTER_LOGGING = (
    eks.ClusterLoggingTypes.API,
    eks.ClusterLoggingTypes.AUDIT,
    eks.ClusterLoggingTypes.AUTHENTICATOR,
    eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
    eks.ClusterLoggingTypes.SCHEDULER,
)
CONTAINER_INSIGHTS_NAMESPACE = "ContainerInsights"
_GPU_NODE_POOL = "inference-gpu"
_GPU_FAMILIES = ("g4dn", "g5", "g5g", "g6", "g6e", "g6f", "gr6", "p3", "p4d", "p4de", "p5", "p5e", "p5en")


class EksInference(Construct):
    """The ModelImage `server` target on Amazon EKS, exposed through an ALB Ingress.

    By default it creates an EKS Auto Mode cluster in the network's private subnets: a private
    API endpoint, every control-plane log type, Kubernetes secrets encrypted with a rotating
    KMS key, and access entries for the admin roles given. Pass `cluster` instead to deploy
    onto an existing Auto Mode cluster that has a kubectl provider.

    The Kubernetes objects are built from the props as Python data (see `manifests`) and
    applied with `add_manifest`: a Namespace (Pod Security "restricted"); a ServiceAccount
    mapped to an IAM role with EKS Pod Identity; a Deployment of the `server` image (non-root,
    read-only root filesystem, startup/readiness/liveness probes on /health, rolling updates
    that never drop below the current count, spread across zones); a Service; an Ingress with
    Auto Mode's ALB IngressClass and IngressClassParams; a HorizontalPodAutoscaler on CPU and
    memory that scales up at once and down after a stabilisation window; a
    PodDisruptionBudget. The metrics-server add-on feeds the HPA; the CloudWatch Observability
    add-on (Container Insights) feeds the alarms and `metric_*()` helpers. With `gpu_count`, an
    Auto Mode NodePool of GPU instances (g5 by default) takes the pods, which request
    `nvidia.com/gpu`; Auto Mode's GPU AMIs bring the NVIDIA driver and device plugin.

    Minimal use::

        EksInference(stack, "Service", image=image, network=network)
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        image: ModelImage,
        network: Optional[SharedNetwork] = None,
        vpc: Optional[ec2.IVpc] = None,
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
        gpu_count: int = 0,
        gpu_instance_families: Sequence[str] = ("g5",),
        internal: bool = False,
        certificate: Optional[acm.ICertificate] = None,
        metrics_server: bool = True,
        container_insights: bool = True,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        alarm_topic: Optional[sns.ITopic] = None,
        cpu_alarm_threshold_percent: int = 90,
        restart_alarm_threshold: int = 3,
    ) -> None:
        """
        :param image: the ModelImage to run (its `server` target).
        :param network: the SharedNetwork to create the cluster in. Either this, `vpc` or
            `cluster`.
        :param vpc: a VPC to create the cluster in, instead of `network` (control plane and
            nodes go in its private subnets).
        :param cluster: an existing EKS Auto Mode cluster with a kubectl provider (import one
            with `Cluster.from_cluster_attributes(kubectl_provider=...)`) to deploy onto.
            Default: a new Auto Mode cluster.
        :param version: the Kubernetes version of a new cluster. Default:
            `DEFAULT_KUBERNETES_VERSION` (1.36), the newest with a kubectl layer package.
        :param kubectl_layer: the Lambda layer with kubectl and helm for a new cluster's
            kubectl provider. Default: `aws-cdk.lambda-layer-kubectl-vNN` for `version`
            (installed separately; the default version's package is a dependency).
        :param endpoint_public_cidrs: CIDR blocks allowed to reach the cluster's API endpoint
            from the internet. Default: none, a private endpoint only (reach it from the VPC,
            a VPN or a bastion).
        :param admin_roles: IAM roles given cluster-admin access entries (for `kubectl`).
            Default: none.
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
        :param gpu_count: NVIDIA GPUs per pod; above 0 adds a GPU NodePool and schedules the
            pods there. The image must then carry a CUDA-enabled runtime (the default image is
            CPU-only). Default: 0.
        :param gpu_instance_families: EC2 instance families of the GPU NodePool. Default:
            `("g5",)`.
        :param internal: an internal load balancer in the private subnets. Default: false,
            internet-facing in the public subnets.
        :param certificate: an ACM certificate: HTTPS on 443 and HTTP redirected to it.
            Default: none, plain HTTP on 80.
        :param metrics_server: install the metrics-server EKS add-on that the HPA reads.
            Default: true (turn it off on a cluster that already runs one).
        :param container_insights: install the Amazon CloudWatch Observability add-on with a
            Pod Identity role, and create the alarms. Default: true.
        :param removal_policy: what `cdk destroy` does with the secrets key and the alarm
            topic's key. Default: RETAIN.
        :param alarm_topic: where alarms notify (with `container_insights` only). Default: a new
            KMS-encrypted topic.
        :param cpu_alarm_threshold_percent: pod CPU, in percent of the limit, that raises the
            saturation alarm. Default: 90.
        :param restart_alarm_threshold: container restarts in 5 minutes that raise the
            alarm. Default: 3.
        """
        super().__init__(scope, construct_id)
        _validate(
            network=network,
            vpc=vpc,
            cluster=cluster,
            version=version,
            kubectl_layer=kubectl_layer,
            endpoint_public_cidrs=endpoint_public_cidrs,
            namespace=namespace,
            name=name,
            cpu_request_millicores=cpu_request_millicores,
            cpu_limit_millicores=cpu_limit_millicores,
            memory_request_mib=memory_request_mib,
            memory_limit_mib=memory_limit_mib,
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            cpu_target_percent=cpu_target_percent,
            memory_target_percent=memory_target_percent,
            max_unavailable=max_unavailable,
            gpu_count=gpu_count,
            gpu_instance_families=gpu_instance_families,
            image=image,
            cpu_alarm_threshold_percent=cpu_alarm_threshold_percent,
            restart_alarm_threshold=restart_alarm_threshold,
        )
        #: The KMS key that encrypts Kubernetes secrets (None on an existing cluster).
        self.secrets_key: Optional[kms.Key] = None
        if cluster is None:
            if network is not None:
                vpc = network.vpc
            subnets = network.private_subnets if network is not None else _private_subnets(vpc)
            cluster = self._create_cluster(
                vpc=vpc,
                subnets=subnets,
                version=version or DEFAULT_KUBERNETES_VERSION,
                kubectl_layer=kubectl_layer,
                endpoint_public_cidrs=endpoint_public_cidrs,
                removal_policy=removal_policy,
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

        #: The IngressClass (and IngressClassParams) name: cluster-scoped, so it carries the namespace.
        self.ingress_class_name = f"{namespace}-alb"
        subnet_ids = _load_balancer_subnet_ids(self.cluster, internal)
        #: What the Deployment, Service, HPA and PDB are built from.
        self.workload = k8s.WorkloadSpec(
            name=name,
            namespace=namespace,
            image_uri=image.image_uri("server"),
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
            environment=dict(environment or {}),
            gpu_count=gpu_count,
            gpu_node_pool=_GPU_NODE_POOL if gpu_count else None,
            max_unavailable=max_unavailable,
        )
        #: The Kubernetes objects applied to the cluster, by kind (plain dicts; tokens unresolved).
        self.manifests: dict[str, dict[str, Any]] = {
            "Namespace": k8s.namespace(namespace),
            "ServiceAccount": k8s.service_account(name, namespace),
            "Deployment": k8s.deployment(self.workload),
            "Service": k8s.service(self.workload),
            "HorizontalPodAutoscaler": k8s.horizontal_pod_autoscaler(self.workload),
            "PodDisruptionBudget": k8s.pod_disruption_budget(self.workload),
            "IngressClassParams": k8s.ingress_class_params(
                self.ingress_class_name,
                internal=internal,
                subnet_ids=subnet_ids,
                certificate_arn=certificate.certificate_arn if certificate is not None else None,
            ),
            "IngressClass": k8s.ingress_class(self.ingress_class_name),
            "Ingress": k8s.ingress(
                self.workload, ingress_class_name=self.ingress_class_name, https=certificate is not None
            ),
        }
        if gpu_count:
            self.manifests["NodePool"] = k8s.gpu_node_pool(
                _GPU_NODE_POOL,
                instance_families=gpu_instance_families,
                max_gpus=gpu_count * max_replicas,
                architecture="arm64" if image.is_arm64 else "amd64",
            )
        self._apply_manifests()

        #: The EKS add-ons this construct installed, by name.
        self.addons: dict[str, eks.Addon] = {}
        if metrics_server:
            self.addons["metrics-server"] = eks.Addon(
                self, "MetricsServer", cluster=self.cluster, addon_name="metrics-server"
            )
            # The HPA reads metrics-server; without it the HPA reports <unknown> and never scales.
            self.kubernetes_resources["Workload"].node.add_dependency(self.addons["metrics-server"])

        self.container_insights = container_insights
        #: Where the alarms notify (None without Container Insights).
        self.topic: Optional[sns.ITopic] = None
        #: The alarms by name: running_pods, container_restarts, cpu_saturation, memory_saturation.
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        if container_insights:
            self._install_container_insights()
            self.topic = alarm_topic or encrypted_alarm_topic(self, removal_policy)
            self.alarms = self._create_alarms(min_replicas, cpu_alarm_threshold_percent, restart_alarm_threshold)

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

    def _create_cluster(
        self,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        version: eks.KubernetesVersion,
        kubectl_layer: Optional[lambda_.ILayerVersion],
        endpoint_public_cidrs: Sequence[str],
        removal_policy: RemovalPolicy,
    ) -> eks.Cluster:
        self.secrets_key = kms.Key(
            self,
            "SecretsKey",
            description="Encrypts the inference cluster's Kubernetes secrets",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        endpoint = (
            eks.EndpointAccess.PUBLIC_AND_PRIVATE.only_from(*endpoint_public_cidrs)
            if endpoint_public_cidrs
            else eks.EndpointAccess.PRIVATE
        )
        cluster = eks.Cluster(
            self,
            "Cluster",
            version=version,
            vpc=vpc,
            vpc_subnets=[subnets],
            endpoint_access=endpoint,
            secrets_encryption_key=self.secrets_key,
            cluster_logging=list(ALL_CLUSTER_LOGGING),
            default_capacity_type=eks.DefaultCapacityType.AUTOMODE,
            compute=eks.ComputeConfig(node_pools=["system", "general-purpose"]),
            kubectl_provider_options=eks.KubectlProviderOptions(
                kubectl_layer=kubectl_layer or _default_kubectl_layer(self, version)
            ),
            # Our stack prints its own command, with the region; access entries replace masters roles.
            output_config_command=False,
            # CloudFormation's role creates the cluster and needs no admin entry afterwards;
            # people get theirs from admin_roles, the kubectl provider its own.
            bootstrap_cluster_creator_admin_permissions=False,
        )
        _acknowledge_cluster(cluster)
        return cluster

    def _apply_manifests(self) -> None:
        m = self.manifests
        #: The KubernetesManifest constructs by group: Namespace, Identity, Workload, Ingress, NodePool.
        self.kubernetes_resources: dict[str, eks.KubernetesManifest] = {}
        self.kubernetes_resources["Namespace"] = self.cluster.add_manifest("Namespace", m["Namespace"])
        groups = {
            "Identity": [m["ServiceAccount"]],
            "Ingress": [m["IngressClassParams"], m["IngressClass"], m["Ingress"]],
            "Workload": [m["Deployment"], m["Service"], m["HorizontalPodAutoscaler"], m["PodDisruptionBudget"]],
        }
        if "NodePool" in m:
            self.kubernetes_resources["NodePool"] = self.cluster.add_manifest("NodePool", m["NodePool"])
        for group, objects in groups.items():
            resource = self.cluster.add_manifest(group, *objects)
            resource.node.add_dependency(self.kubernetes_resources["Namespace"])
            self.kubernetes_resources[group] = resource
        workload = self.kubernetes_resources["Workload"]
        workload.node.add_dependency(self.kubernetes_resources["Identity"], self.pod_identity)
        if "NodePool" in self.kubernetes_resources:
            workload.node.add_dependency(self.kubernetes_resources["NodePool"])

    def _install_container_insights(self) -> None:
        #: The role of the CloudWatch agent (Pod Identity), or None without Container Insights.
        self.cloudwatch_agent_role = iam.Role(
            self,
            "CloudWatchAgentRole",
            assumed_by=iam.SessionTagsPrincipal(iam.ServicePrincipal("pods.eks.amazonaws.com")),
            description="Assumed by the CloudWatch agent of Container Insights through EKS Pod Identity",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchAgentServerPolicy")],
        )
        Validations.of(self.cloudwatch_agent_role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/CloudWatchAgentServerPolicy]",
                reason="The CloudWatch Observability add-on documents this AWS managed policy as its agent's "
                "permissions; AWS keeps it in step with what the agent publishes.",
            )
        )
        association = eks.CfnPodIdentityAssociation(
            self,
            "CloudWatchAgentPodIdentity",
            cluster_name=self.cluster.cluster_name,
            namespace="amazon-cloudwatch",
            service_account="cloudwatch-agent",
            role_arn=self.cloudwatch_agent_role.role_arn,
        )
        addon = eks.Addon(self, "ContainerInsights", cluster=self.cluster, addon_name="amazon-cloudwatch-observability")
        addon.node.add_dependency(association)
        self.addons["amazon-cloudwatch-observability"] = addon

    def _create_alarms(
        self, min_replicas: int, cpu_threshold: int, restart_threshold: int
    ) -> dict[str, cloudwatch.Alarm]:
        one_minute, five_minutes = Duration.minutes(1), Duration.minutes(5)
        alarms = {
            "running_pods": cloudwatch.Alarm(
                self,
                "RunningPodsAlarm",
                alarm_description="Fewer inference pods run than the HPA's minimum",
                metric=self.metric_running_pods(period=one_minute),
                threshold=min_replicas,
                evaluation_periods=5,
                datapoints_to_alarm=3,
                comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
            ),
            "container_restarts": cloudwatch.Alarm(
                self,
                "ContainerRestartsAlarm",
                alarm_description="Inference containers restart (failed liveness probes, OOM kills)",
                metric=self.metric_container_restarts(period=five_minutes),
                threshold=restart_threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            "cpu_saturation": cloudwatch.Alarm(
                self,
                "CpuSaturationAlarm",
                alarm_description="Inference pods run near their CPU limit: the HPA is at its maximum or too slow",
                metric=self.metric_cpu_utilization(period=five_minutes),
                threshold=cpu_threshold,
                evaluation_periods=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            "memory_saturation": cloudwatch.Alarm(
                self,
                "MemorySaturationAlarm",
                alarm_description="Inference pods run near their memory limit: OOM kills follow",
                metric=self.metric_memory_utilization(period=five_minutes),
                threshold=90,
                evaluation_periods=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        }
        notify_on_state_changes(self.topic, alarms.values())
        return alarms


def _private_subnets(vpc: Optional[ec2.IVpc]) -> ec2.SubnetSelection:
    if vpc is not None and not vpc.private_subnets and vpc.isolated_subnets:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)


def _load_balancer_subnet_ids(cluster: eks.ICluster, internal: bool) -> list[str]:
    """The subnets the ALB goes in; empty (Auto Mode then finds them by tag) when unknown."""
    try:
        vpc = cluster.vpc
    except Exception:  # an imported cluster without a VPC
        return []
    if vpc is None:
        return []
    subnets = (vpc.private_subnets or vpc.isolated_subnets) if internal else vpc.public_subnets
    return [subnet.subnet_id for subnet in subnets]


def _default_kubectl_layer(scope: Construct, version: eks.KubernetesVersion) -> lambda_.ILayerVersion:
    minor = version.version.split(".")[1]
    module_name = f"aws_cdk.lambda_layer_kubectl_v{minor}"
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ValueError(
            f"no kubectl layer for Kubernetes {version.version}: pip install "
            f"aws-cdk.lambda-layer-kubectl-v{minor}, or pass kubectl_layer"
        ) from None
    return getattr(module, f"KubectlV{minor}Layer")(scope, "KubectlLayer")


def _acknowledge(construct: Optional[IConstruct], reasons: Mapping[str, str]) -> None:
    if construct is None:
        return
    for rule_id, reason in reasons.items():
        Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def _managed(policy: str) -> str:
    return f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{policy}]"


def _acknowledge_cluster(cluster: eks.Cluster) -> None:
    """Acknowledge what the EKS L2 itself creates, each on the construct that holds it."""
    _acknowledge(
        cluster.role,
        {
            _managed(policy): "EKS requires this AWS managed policy on the cluster role "
            f"({'Auto Mode' if policy != 'AmazonEKSClusterPolicy' else 'the control plane'} "
            "manages compute, storage, load balancing and networking with it); a copy would drift from AWS's updates."
            for policy in (
                "AmazonEKSClusterPolicy",
                "AmazonEKSComputePolicy",
                "AmazonEKSBlockStoragePolicy",
                "AmazonEKSLoadBalancingPolicy",
                "AmazonEKSNetworkingPolicy",
            )
        },
    )
    _acknowledge(
        cluster.node.try_find_child("ClusternodePoolRole"),
        {
            _managed(
                "AmazonEKSWorkerNodePolicy"
            ): "The Auto Mode node role needs the worker node policy that EKS documents.",
            _managed("AmazonEC2ContainerRegistryReadOnly"): "Nodes pull the inference image (and Auto Mode's own) "
            "from ECR; this managed policy is the read-only pull permission EKS documents.",
        },
    )
    provider = cluster.node.try_find_child("KubectlProvider")
    if provider is None:
        return
    handler = provider.node.try_find_child("Handler")
    stack = Stack.of(cluster)
    lambda_managed = {
        _managed("service-role/AWSLambdaBasicExecutionRole"): "The CDK's kubectl provider writes its logs with "
        "the basic Lambda execution policy.",
        _managed("service-role/AWSLambdaVPCAccessExecutionRole"): "The kubectl provider runs in the VPC to "
        "reach the private API endpoint; Lambda needs this policy to attach its network interfaces.",
    }
    if handler is not None:
        handler_reasons = {
            **lambda_managed,
            _managed("AmazonEC2ContainerRegistryReadOnly"): "The kubectl provider's handler may pull Helm charts "
            "from ECR (an aws_eks_v2 default we do not use but cannot remove).",
        }
        condition = handler.node.try_find_child("HasEcrPublic")
        if condition is not None:
            logical_id = stack.resolve(stack.get_logical_id(condition))  # type: ignore[arg-type]
            public_ecr = (
                '{"Fn::If":["' + logical_id + '",{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},'
                '":iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly"]]},{"Ref":"AWS::NoValue"}]}'
            )
            handler_reasons[f"AwsSolutions-IAM4[Policy::{public_ecr}]"] = (
                "Attached only when a Helm chart comes from ECR Public (none here); aws_eks_v2 adds the condition."
            )
        _acknowledge(handler.node.try_find_child("ServiceRole"), handler_reasons)
        function = handler.node.try_find_child("Resource")
        _acknowledge(
            function,
            {
                "AwsSolutions-L1": "The CDK's kubectl provider pins its own Lambda runtime to match the kubectl "
                "layer; upgrading aws-cdk-lib upgrades it."
            },
        )
        framework = provider.node.try_find_child("Provider")
        on_event = framework.node.try_find_child("framework-onEvent") if framework is not None else None
        on_event_role = on_event.node.try_find_child("ServiceRole") if on_event is not None else None
        if on_event_role is not None and function is not None:
            handler_id = stack.resolve(stack.get_logical_id(function))  # type: ignore[arg-type]
            _acknowledge(on_event_role, lambda_managed)
            _acknowledge(
                on_event_role.node.try_find_child("DefaultPolicy"),
                {
                    f"AwsSolutions-IAM5[Resource::<{handler_id}.Arn>:*]": "The custom resource framework invokes "
                    "every version of the kubectl handler it fronts (the :* is the version qualifier).",
                },
            )


def _validate(
    *,
    network: Optional[SharedNetwork],
    vpc: Optional[ec2.IVpc],
    cluster: Optional[eks.ICluster],
    version: Optional[eks.KubernetesVersion],
    kubectl_layer: Optional[lambda_.ILayerVersion],
    endpoint_public_cidrs: Sequence[str],
    namespace: str,
    name: str,
    cpu_request_millicores: int,
    cpu_limit_millicores: int,
    memory_request_mib: int,
    memory_limit_mib: int,
    min_replicas: int,
    max_replicas: int,
    cpu_target_percent: int,
    memory_target_percent: int,
    max_unavailable: int,
    gpu_count: int,
    gpu_instance_families: Sequence[str],
    image: ModelImage,
    cpu_alarm_threshold_percent: int,
    restart_alarm_threshold: int,
) -> None:
    placements = [p for p in (network, vpc, cluster) if p is not None]
    if len(placements) != 1:
        raise ValueError("give exactly one of network, vpc or cluster: where the pods run")
    if cluster is not None:
        if version is not None or kubectl_layer is not None or endpoint_public_cidrs:
            raise ValueError(
                "version, kubectl_layer and endpoint_public_cidrs configure a new cluster: "
                "set them on the existing cluster instead"
            )
        if cluster.kubectl_provider is None:
            raise ValueError(
                "the existing cluster has no kubectl provider: import it with "
                "Cluster.from_cluster_attributes(kubectl_provider=...) so manifests can be applied"
            )
    for cidr in endpoint_public_cidrs:
        if cidr in ("0.0.0.0/0", "::/0"):
            raise ValueError(
                "endpoint_public_cidrs must not open the API endpoint to the whole internet: name your networks"
            )
    for label, value in (("namespace", namespace), ("name", name)):
        if not k8s.is_dns_label(value):
            raise ValueError(
                f"{label} {value!r} is not a Kubernetes name: use lowercase letters, digits and '-', at most 63"
            )
    if namespace.startswith("kube-"):
        raise ValueError(f"namespace {namespace!r} is reserved for Kubernetes: pick another")
    if cpu_request_millicores < 100 or memory_request_mib < 128:
        raise ValueError("requests must be at least 100 millicores and 128 MiB: the model does not load in less")
    if cpu_limit_millicores < cpu_request_millicores:
        raise ValueError(
            f"cpu_limit_millicores ({cpu_limit_millicores}) must be at least cpu_request_millicores ({cpu_request_millicores})"
        )
    if memory_limit_mib < memory_request_mib:
        raise ValueError(
            f"memory_limit_mib ({memory_limit_mib}) must be at least memory_request_mib ({memory_request_mib})"
        )
    if min_replicas < 1:
        raise ValueError("min_replicas must be at least 1: an Ingress with no pods answers 503")
    if max_replicas < min_replicas:
        raise ValueError(f"max_replicas ({max_replicas}) must be at least min_replicas ({min_replicas})")
    for label, percent in (
        ("cpu_target_percent", cpu_target_percent),
        ("memory_target_percent", memory_target_percent),
    ):
        if not 10 <= percent <= 95:
            raise ValueError(f"{label} must be between 10 and 95, got {percent}")
    if max_unavailable < 1:
        raise ValueError("max_unavailable must be at least 1, or no node could ever be drained")
    if min_replicas > 1 and max_unavailable >= min_replicas:
        raise ValueError(
            f"max_unavailable ({max_unavailable}) must be below min_replicas ({min_replicas}): a drain would take every pod"
        )
    if gpu_count < 0 or gpu_count > 8:
        raise ValueError(f"gpu_count must be between 0 and 8 (GPUs per pod), got {gpu_count}")
    if gpu_count:
        if image.is_arm64 and not set(gpu_instance_families) <= {"g5g"}:
            raise ValueError("an arm64 image runs on Graviton GPU instances only: use gpu_instance_families=('g5g',)")
        unknown = [family for family in gpu_instance_families if family not in _GPU_FAMILIES]
        if not gpu_instance_families or unknown:
            raise ValueError(
                f"gpu_instance_families must name NVIDIA GPU families ({', '.join(_GPU_FAMILIES)}), got {list(gpu_instance_families)}"
            )
    if not 1 <= cpu_alarm_threshold_percent <= 100:
        raise ValueError(f"cpu_alarm_threshold_percent must be between 1 and 100, got {cpu_alarm_threshold_percent}")
    if restart_alarm_threshold < 1:
        raise ValueError("restart_alarm_threshold must be at least 1")


__all__ = ["EksInference", "DEFAULT_KUBERNETES_VERSION", "ALL_CLUSTER_LOGGING"]
