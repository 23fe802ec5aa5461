"""A new EKS Auto Mode cluster for EksInference, and the acknowledgements for what the EKS L2 creates."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Optional

from aws_cdk import Acknowledgment, RemovalPolicy, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct

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


def new_cluster(
    scope: Construct,
    *,
    vpc: ec2.IVpc,
    subnets: ec2.SubnetSelection,
    version: eks.KubernetesVersion,
    kubectl_layer: Optional[lambda_.ILayerVersion],
    endpoint_public_cidrs: Sequence[str],
    removal_policy: RemovalPolicy,
) -> tuple[eks.Cluster, kms.Key]:
    """An Auto Mode cluster in `subnets` (private API endpoint unless CIDRs are named, every
    control-plane log, secrets encrypted with a new rotating key) and that key."""
    secrets_key = kms.Key(
        scope,
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
        scope,
        "Cluster",
        version=version,
        vpc=vpc,
        vpc_subnets=[subnets],
        endpoint_access=endpoint,
        secrets_encryption_key=secrets_key,
        cluster_logging=list(ALL_CLUSTER_LOGGING),
        default_capacity_type=eks.DefaultCapacityType.AUTOMODE,
        compute=eks.ComputeConfig(node_pools=["system", "general-purpose"]),
        kubectl_provider_options=eks.KubectlProviderOptions(
            kubectl_layer=kubectl_layer or default_kubectl_layer(scope, version)
        ),
        # Our stack prints its own command, with the region; access entries replace masters roles.
        output_config_command=False,
        # CloudFormation's role creates the cluster and needs no admin entry afterwards;
        # people get theirs from admin_roles, the kubectl provider its own.
        bootstrap_cluster_creator_admin_permissions=False,
    )
    acknowledge_cluster(cluster)
    return cluster, secrets_key


def default_kubectl_layer(scope: Construct, version: eks.KubernetesVersion) -> lambda_.ILayerVersion:
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


def acknowledge_cluster(cluster: eks.Cluster) -> None:
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




def load_balancer_subnet_ids(cluster: eks.ICluster, internal: bool) -> list[str]:
    """The subnets the ALB goes in; empty (Auto Mode then finds them by tag) when unknown."""
    try:
        vpc = cluster.vpc
    except Exception:  # an imported cluster without a VPC
        return []
    if vpc is None:
        return []
    subnets = (vpc.private_subnets or vpc.isolated_subnets) if internal else vpc.public_subnets
    return [subnet.subnet_id for subnet in subnets]


__all__ = [
    "ALL_CLUSTER_LOGGING",
    "DEFAULT_KUBERNETES_VERSION",
    "acknowledge_cluster",
    "default_kubectl_layer",
    "load_balancer_subnet_ids",
    "new_cluster",
]
