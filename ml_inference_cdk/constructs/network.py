"""SharedNetwork: the VPC the server targets (Fargate, EKS, SageMaker) and a VPC Lambda share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from ._placement import private_subnets

#: Interface endpoints created by default: what pulling images, logging, assuming roles and
#: calling SageMaker need when the private subnets have no NAT gateway.
DEFAULT_INTERFACE_ENDPOINTS: tuple[ec2.InterfaceVpcEndpointAwsService, ...] = (
    ec2.InterfaceVpcEndpointAwsService.ECR,
    ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    ec2.InterfaceVpcEndpointAwsService.STS,
    ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME,
)


class SharedNetwork(Construct):
    """A VPC for the inference targets: public and private subnets over `max_azs` zones.

    With `nat_gateways=0` the private subnets are isolated: no route to the internet, and
    the S3 gateway endpoint plus the interface endpoints (ECR, CloudWatch Logs, STS,
    SageMaker runtime) carry everything the targets need. Flow logs go to a CloudWatch log
    group with retention.

    Pass `vpc` to use an existing VPC instead: nothing is created, and `vpc` is exposed as
    given. Targets take its `vpc` (and, if you like, its `private_subnets` as `vpc_subnets`)::

        network = SharedNetwork(stack, "Network")
        FargateInference(stack, "Service", image=image, vpc=network.vpc)
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: Optional[ec2.IVpc] = None,
        max_azs: Optional[int] = None,
        nat_gateways: Optional[int] = None,
        cidr: Optional[str] = None,
        s3_gateway_endpoint: Optional[bool] = None,
        interface_endpoints: Optional[Sequence[ec2.InterfaceVpcEndpointAwsService]] = None,
        flow_log_retention: Optional[logs.RetentionDays] = None,
        removal_policy: Optional[RemovalPolicy] = None,
    ) -> None:
        """
        :param vpc: an existing VPC to use as it is (nothing is created; the props below are
            then refused). Default: a new VPC built from the props below.
        :param max_azs: availability zones to span. Default: 2.
        :param nat_gateways: NAT gateways (1 is cheap, one per AZ is highly available, 0
            makes the private subnets isolated). Default: 1.
        :param cidr: the VPC's IPv4 range. Default: 10.0.0.0/16.
        :param s3_gateway_endpoint: add the (free) S3 gateway endpoint; ECR image layers
            come from S3. Default: true.
        :param interface_endpoints: interface endpoints to add. Default:
            `DEFAULT_INTERFACE_ENDPOINTS` (ECR api and dkr, CloudWatch Logs, STS, SageMaker
            runtime); pass `[]` for none.
        :param flow_log_retention: how long VPC flow logs are kept. Default: one month.
        :param removal_policy: what `cdk destroy` does with the flow log group. Default:
            RETAIN.
        """
        super().__init__(scope, construct_id)
        given = {
            "max_azs": max_azs,
            "nat_gateways": nat_gateways,
            "cidr": cidr,
            "s3_gateway_endpoint": s3_gateway_endpoint,
            "interface_endpoints": interface_endpoints,
            "flow_log_retention": flow_log_retention,
            "removal_policy": removal_policy,
        }
        if vpc is not None:
            configured = sorted(name for name, value in given.items() if value is not None)
            if configured:
                raise ValueError(
                    f"vpc= uses an existing VPC as it is: {', '.join(configured)} would do nothing; drop them"
                )
            #: The VPC every target is placed in.
            self.vpc: ec2.IVpc = vpc
            #: Where the targets' compute goes: the private subnets (with egress, or isolated).
            self.private_subnets: ec2.SubnetSelection = private_subnets(vpc)
            #: The flow log group, or None for an existing VPC.
            self.flow_log_group: Optional[logs.LogGroup] = None
            #: The S3 gateway endpoint, or None (switched off, or an existing VPC).
            self.s3_endpoint: Optional[ec2.GatewayVpcEndpoint] = None
            #: The security group of the interface endpoints, or None (none, or an existing VPC).
            self.endpoint_security_group: Optional[ec2.SecurityGroup] = None
            #: Interface endpoints by service short name (empty for an existing VPC).
            self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
            return

        max_azs = 2 if max_azs is None else max_azs
        nat_gateways = 1 if nat_gateways is None else nat_gateways
        cidr = cidr or "10.0.0.0/16"
        s3_gateway_endpoint = True if s3_gateway_endpoint is None else s3_gateway_endpoint
        endpoints = DEFAULT_INTERFACE_ENDPOINTS if interface_endpoints is None else tuple(interface_endpoints)
        if max_azs < 1:
            raise ValueError(f"max_azs must be at least 1, got {max_azs}")
        if nat_gateways < 0 or nat_gateways > max_azs:
            raise ValueError(f"nat_gateways must be between 0 and max_azs ({max_azs}), got {nat_gateways}")
        if nat_gateways == 0 and not (s3_gateway_endpoint and endpoints):
            raise ValueError(
                "nat_gateways=0 isolates the private subnets: keep the S3 gateway endpoint and "
                "the interface endpoints, or the targets cannot pull images"
            )
        private_type = ec2.SubnetType.PRIVATE_WITH_EGRESS if nat_gateways > 0 else ec2.SubnetType.PRIVATE_ISOLATED

        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            retention=flow_log_retention or logs.RetentionDays.ONE_MONTH,
            removal_policy=removal_policy or RemovalPolicy.RETAIN,
        )
        self.vpc = _new_vpc(self, cidr=cidr, max_azs=max_azs, nat_gateways=nat_gateways, private_type=private_type,
                            flow_log_group=self.flow_log_group)
        self.private_subnets = ec2.SubnetSelection(subnet_type=private_type)
        self.s3_endpoint = (
            self.vpc.add_gateway_endpoint(
                "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.private_subnets]
            )
            if s3_gateway_endpoint
            else None
        )
        self.endpoint_security_group = _endpoint_security_group(self, self.vpc, cidr) if endpoints else None
        self.interface_endpoints = {
            service.short_name: self.vpc.add_interface_endpoint(
                _endpoint_id(service),
                service=service,
                subnets=self.private_subnets,
                private_dns_enabled=True,
                open=False,
                security_groups=[self.endpoint_security_group],
            )
            for service in endpoints
        }


def _new_vpc(
    scope: Construct,
    *,
    cidr: str,
    max_azs: int,
    nat_gateways: int,
    private_type: ec2.SubnetType,
    flow_log_group: logs.ILogGroup,
) -> ec2.Vpc:
    return ec2.Vpc(
        scope,
        "Vpc",
        ip_addresses=ec2.IpAddresses.cidr(cidr),
        max_azs=max_azs,
        nat_gateways=nat_gateways,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(name="Private", subnet_type=private_type, cidr_mask=20),
        ],
        restrict_default_security_group=True,
        flow_logs={
            "All": ec2.FlowLogOptions(
                destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
                traffic_type=ec2.FlowLogTrafficType.ALL,
            )
        },
    )


def _endpoint_security_group(scope: Construct, vpc: ec2.IVpc, cidr: str) -> ec2.SecurityGroup:
    group = ec2.SecurityGroup(
        scope,
        "EndpointSecurityGroup",
        vpc=vpc,
        description="HTTPS from inside the VPC to the interface endpoints",
        allow_all_outbound=False,
    )
    # The literal CIDR, not the VPC's CidrBlock attribute: checkers can read it.
    group.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), "HTTPS from the VPC")
    return group


def _endpoint_id(service: ec2.InterfaceVpcEndpointAwsService) -> str:
    # "ecr.dkr" -> "EcrDkr", "sagemaker.runtime" -> "SagemakerRuntime": stable logical IDs
    return "".join(part.capitalize() for part in service.short_name.replace("-", ".").split("."))


__all__ = ["SharedNetwork", "DEFAULT_INTERFACE_ENDPOINTS"]
