"""What a SageMaker endpoint's execution role needs besides its model and data: the endpoint
log groups SageMaker writes, and network interfaces in the VPC (with their security group)."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from .._checks import iam5_resource_finding
from .._iam import acknowledge_grant


def grant_endpoint_logs(scope: Construct, role: iam.Role) -> None:
    """The endpoint's role writes SageMaker's endpoint log groups."""
    # CloudFormation names the endpoint (the endpoint keeps no physical name, so it is never
    # replaced by a rename) after this policy must exist, and the endpoint writes its first
    # logs while it is being created: its log group cannot be named here.
    endpoint_logs = Stack.of(scope).format_arn(
        service="logs",
        resource="log-group",
        resource_name="/aws/sagemaker/Endpoints/*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[endpoint_logs],
        )
    )
    acknowledge_grant(
        role,
        iam5_resource_finding(scope, endpoint_logs),
        "SageMaker names the endpoint's log group after the endpoint, whose name CloudFormation generates "
        "once this policy exists; the endpoint logs while it is being created.",
    )


def network_security_group(scope: Construct, vpc: ec2.IVpc, role: iam.Role, subnets: ec2.SelectedSubnets) -> ec2.SecurityGroup:
    """The model's network interfaces' security group (HTTPS out only), and the grants to place them."""
    security_group = ec2.SecurityGroup(
        scope,
        "SecurityGroup",
        vpc=vpc,
        description="SageMaker model network interfaces: no inbound, HTTPS out only",
        allow_all_outbound=False,
    )
    # Model data comes from S3 and images from ECR, both over HTTPS (endpoints or NAT).
    security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs")
    _grant_network_interfaces(scope, vpc, security_group, role, subnets)
    return security_group


def _grant_network_interfaces(scope: Construct, vpc: ec2.IVpc, security_group: ec2.SecurityGroup, role: iam.Role,
                              subnets: ec2.SelectedSubnets) -> None:
    """What SageMaker needs to place the model in the VPC: interfaces in these subnets with this
    security group, and changes to interfaces of this VPC only."""
    stack = Stack.of(scope)

    def ec2_arn(resource: str, name: str) -> str:
        return stack.format_arn(service="ec2", resource=resource, resource_name=name)

    role.add_to_policy(
        iam.PolicyStatement(
            actions=["ec2:CreateNetworkInterface"],
            resources=[ec2_arn("subnet", subnet_id) for subnet_id in subnets.subnet_ids]
            + [ec2_arn("security-group", security_group.security_group_id)],
        )
    )
    interfaces = ec2_arn("network-interface", "*")
    role.add_to_policy(
        iam.PolicyStatement(
            actions=[
                "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            resources=[interfaces],
            conditions={"ArnEquals": {"ec2:Vpc": ec2_arn("vpc", vpc.vpc_id)}},
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=[
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeVpcs",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
            ],
            resources=["*"],
        )
    )
    acknowledge_grant(
        role,
        iam5_resource_finding(scope, interfaces),
        "SageMaker creates the model's network interfaces at run time, so their ids are unknown here; the "
        "ec2:Vpc condition holds every one of them to this VPC.",
    )


__all__ = ["grant_endpoint_logs", "network_security_group"]
