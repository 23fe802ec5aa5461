"""The EKS add-ons EksInference installs: metrics-server for the HPA, CloudWatch Observability
(Container Insights) for the alarms and metrics."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

CONTAINER_INSIGHTS_ADDON = "amazon-cloudwatch-observability"
METRICS_SERVER_ADDON = "metrics-server"


def metrics_server(scope: Construct, cluster: eks.ICluster) -> eks.Addon:
    """The metrics-server add-on: the HPA reads pod CPU and memory from it."""
    return eks.Addon(scope, "MetricsServer", cluster=cluster, addon_name=METRICS_SERVER_ADDON)


def container_insights(scope: Construct, cluster: eks.ICluster) -> tuple[eks.Addon, iam.Role]:
    """The CloudWatch Observability add-on, and the role its agent assumes through Pod Identity."""
    agent_role = iam.Role(
        scope,
        "CloudWatchAgentRole",
        assumed_by=iam.SessionTagsPrincipal(iam.ServicePrincipal("pods.eks.amazonaws.com")),
        description="Assumed by the CloudWatch agent of Container Insights through EKS Pod Identity",
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchAgentServerPolicy")],
    )
    Validations.of(agent_role).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/CloudWatchAgentServerPolicy]",
            reason="The CloudWatch Observability add-on documents this AWS managed policy as its agent's "
            "permissions; AWS keeps it in step with what the agent publishes.",
        )
    )
    association = eks.CfnPodIdentityAssociation(
        scope,
        "CloudWatchAgentPodIdentity",
        cluster_name=cluster.cluster_name,
        namespace="amazon-cloudwatch",
        service_account="cloudwatch-agent",
        role_arn=agent_role.role_arn,
    )
    addon = eks.Addon(scope, "ContainerInsights", cluster=cluster, addon_name=CONTAINER_INSIGHTS_ADDON)
    addon.node.add_dependency(association)
    return addon, agent_role


__all__ = ["CONTAINER_INSIGHTS_ADDON", "METRICS_SERVER_ADDON", "container_insights", "metrics_server"]
