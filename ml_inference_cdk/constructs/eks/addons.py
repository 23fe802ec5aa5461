"""The EKS add-ons EksInference installs: metrics-server for the HPA, CloudWatch Observability
(Container Insights) for the alarms and metrics, and the service's EMF metrics through its Fluent Bit."""

from __future__ import annotations

from typing import Optional

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

CONTAINER_INSIGHTS_ADDON = "amazon-cloudwatch-observability"
METRICS_SERVER_ADDON = "metrics-server"


def metrics_server(scope: Construct, cluster: eks.ICluster) -> eks.Addon:
    """The metrics-server add-on: the HPA reads pod CPU and memory from it."""
    return eks.Addon(scope, "MetricsServer", cluster=cluster, addon_name=METRICS_SERVER_ADDON)


def emf_pipeline(*, namespace: str, name: str, container: str, log_group_name: str) -> str:
    """A Fluent Bit pipeline that sends the workload's EMF lines, as written, to `log_group_name`.

    The add-on's own application pipeline wraps each line in Kubernetes metadata (the line lands
    under `log_processed`), where CloudWatch does not read it as EMF. This one tails only the
    workload's container logs, keeps the lines that carry `_aws` and sends just the line.
    """
    return "\n".join(
        [
            "[INPUT]",
            "    Name                tail",
            f"    Tag                 emf.{namespace}.{name}.*",
            f"    Path                /var/log/containers/{name}-*_{namespace}_{container}-*.log",
            "    multiline.parser    docker, cri",
            f"    DB                  /var/fluent-bit/state/flb_emf_{namespace}_{name}.db",
            "    Mem_Buf_Limit       10MB",
            "    Skip_Long_Lines     On",
            "    Refresh_Interval    10",
            "",
            "[FILTER]",
            "    Name                grep",
            f"    Match               emf.{namespace}.{name}.*",
            '    Regex               log "_aws"',
            "",
            "[OUTPUT]",
            "    Name                cloudwatch_logs",
            f"    Match               emf.{namespace}.{name}.*",
            "    region              ${AWS_REGION}",
            f"    log_group_name      {log_group_name}",
            "    log_stream_prefix   ${HOST_NAME}-",
            "    log_key             log",
            "    log_format          json/emf",
            "    auto_create_group   false",
            "",
        ]
    )


def container_insights(
    scope: Construct, cluster: eks.ICluster, *, extra_fluent_bit_files: Optional[dict[str, str]] = None
) -> tuple[eks.Addon, iam.Role]:
    """The CloudWatch Observability add-on, and the role its agent (and Fluent Bit) assumes through
    Pod Identity. `extra_fluent_bit_files`: Fluent Bit configuration files added to the add-on's own
    (the add-on includes every file of `containerLogs.fluentBit.config.extraFiles`)."""
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
    configuration = (
        {"containerLogs": {"fluentBit": {"config": {"extraFiles": dict(extra_fluent_bit_files)}}}}
        if extra_fluent_bit_files
        else None
    )
    addon = eks.Addon(
        scope, "ContainerInsights", cluster=cluster, addon_name=CONTAINER_INSIGHTS_ADDON, configuration_values=configuration
    )
    addon.node.add_dependency(association)
    return addon, agent_role


__all__ = ["CONTAINER_INSIGHTS_ADDON", "METRICS_SERVER_ADDON", "container_insights", "emf_pipeline", "metrics_server"]
