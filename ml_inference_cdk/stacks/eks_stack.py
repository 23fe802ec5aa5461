"""MlInference-Eks: the inference server on an EKS Auto Mode cluster behind an ALB Ingress."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_iam as iam
from constructs import Construct

from ..config import StageConfig
from ..constructs.eks import EksInference
from ..constructs.model_image import ModelImage
from ..constructs.network import SharedNetwork
from .monitoring import service_monitoring, trace_collector


class EksStack(Stack):
    """A ModelImage and an EksInference (with its own cluster) on the stage's SharedNetwork."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, network: SharedNetwork, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        #: The inference image.
        self.image = ModelImage(self, "Image", model_directory=config.model_directory)
        admins = [
            iam.Role.from_role_arn(self, f"Admin{index}", arn, mutable=False)
            for index, arn in enumerate(config.eks_admin_role_arns)
        ]
        #: The cluster, the workload and its alarms.
        self.inference = EksInference(
            self,
            "Service",
            image=self.image,
            vpc=network.vpc,
            endpoint_public_cidrs=config.eks_endpoint_public_cidrs,
            admin_roles=admins,
            certificate=(
                acm.Certificate.from_certificate_arn(self, "Certificate", config.certificate_arn)
                if config.certificate_arn
                else None
            ),
            rate_limit=config.waf_rate_limit,
            log_retention=config.log_retention,
            min_replicas=config.eks_min_replicas,
            max_replicas=config.eks_max_replicas,
            gpu_count=config.eks_gpu_count,
            removal_policy=config.removal_policy,
            monitoring=service_monitoring(config),
            tracing=trace_collector(config),
        )
        CfnOutput(self, "Url", value=self.inference.url, description="Inference endpoint, the Ingress's load balancer (POST /predict)")
        CfnOutput(self, "ClusterName", value=self.inference.cluster.cluster_name, description="The EKS cluster")
        CfnOutput(
            self,
            "UpdateKubeconfigCommand",
            value=self.inference.update_kubeconfig_command(),
            description="Adds the cluster to ~/.kube/config (needs an admin role's access entry)",
        )
        CfnOutput(
            self,
            "ClusterAdminRoleArns",
            value=Fn.join(",", self.inference.cluster_admin_role_arns),
            description="Every IAM role with cluster-admin access (the kubectl provider's first)",
        )
        CfnOutput(
            self,
            "IngressAddressCommand",
            value=self.inference.ingress_address_command(),
            description="Prints the load balancer's DNS name once Auto Mode has provisioned it (POST /predict there)",
        )
