"""SharedNetwork: subnets, NAT, endpoints, flow logs, an existing VPC, and bad props."""

from __future__ import annotations

import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Match

from ml_inference_cdk import SharedNetwork
from tests.cdk.support import new_stack, template_of


@pytest.fixture(scope="module")
def default():
    app, stack = new_stack()
    network = SharedNetwork(stack, "Network")
    return template_of(stack), network


def test_default_vpc_spans_two_zones_with_one_nat(default):
    template, network = default
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.resource_count_is("AWS::EC2::Subnet", 4)
    template.resource_count_is("AWS::EC2::NatGateway", 1)
    template.has_resource_properties("AWS::EC2::VPC", {"CidrBlock": "10.0.0.0/16"})
    assert len(network.vpc.private_subnets) == 2 and len(network.vpc.public_subnets) == 2
    assert network.private_subnets.subnet_type == ec2.SubnetType.PRIVATE_WITH_EGRESS


def test_default_endpoints(default):
    template, network = default
    template.has_resource_properties("AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Gateway", "ServiceName": Match.any_value()})
    interface = template.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}})
    services = sorted(network.interface_endpoints)
    assert services == sorted(["ecr.api", "ecr.dkr", "logs", "sts", "sagemaker.runtime"])
    assert len(interface) == 5
    for endpoint in interface.values():
        assert endpoint["Properties"]["PrivateDnsEnabled"] is True
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {"SecurityGroupIngress": [Match.object_like({"CidrIp": "10.0.0.0/16", "FromPort": 443, "ToPort": 443})]},
    )


def test_default_flow_logs_with_retention(default):
    template, network = default
    template.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"})
    template.has_resource("AWS::Logs::LogGroup", {"Properties": {"RetentionInDays": 30}, "DeletionPolicy": "Retain"})
    assert network.flow_log_group is not None


def test_default_security_group_is_locked_down(default):
    template, _ = default
    template.resource_count_is("Custom::VpcRestrictDefaultSG", 1)


def test_nat_per_zone():
    app, stack = new_stack()
    SharedNetwork(stack, "Network", nat_gateways=2)
    template_of(stack).resource_count_is("AWS::EC2::NatGateway", 2)


def test_no_nat_isolates_the_private_subnets():
    app, stack = new_stack()
    network = SharedNetwork(stack, "Network", nat_gateways=0)
    template = template_of(stack)
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    assert network.vpc.private_subnets == [] and len(network.vpc.isolated_subnets) == 2
    assert network.private_subnets.subnet_type == ec2.SubnetType.PRIVATE_ISOLATED


def test_endpoints_are_switchable():
    app, stack = new_stack()
    network = SharedNetwork(
        stack,
        "Network",
        s3_gateway_endpoint=False,
        interface_endpoints=[ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER],
    )
    template = template_of(stack)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 1)
    assert list(network.interface_endpoints) == ["ecr.dkr"] and network.s3_endpoint is None


def test_existing_vpc_is_used_as_given():
    app, stack = new_stack()
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Existing",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["eu-west-1a"],
        private_subnet_ids=["subnet-0123456789abcdef0"],
        private_subnet_route_table_ids=["rtb-0123456789abcdef0"],
    )
    network = SharedNetwork(stack, "Network", vpc=vpc)
    assert network.vpc is vpc
    ec2.SecurityGroup(stack, "Consumer", vpc=network.vpc)
    template = template_of(stack)
    template.resource_count_is("AWS::EC2::VPC", 0)
    template.resource_count_is("AWS::Logs::LogGroup", 0)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"max_azs": 0}, "max_azs must be at least 1"),
        ({"nat_gateways": 3}, "nat_gateways must be between 0 and max_azs"),
        ({"nat_gateways": -1}, "nat_gateways must be between 0 and max_azs"),
        ({"nat_gateways": 0, "interface_endpoints": []}, "cannot pull images"),
        ({"nat_gateways": 0, "s3_gateway_endpoint": False}, "cannot pull images"),
    ],
    ids=["no-azs", "nat-over-azs", "negative-nat", "isolated-without-endpoints", "isolated-without-s3"],
)
def test_fails_when_props_are_invalid(props, message):
    app, stack = new_stack()
    with pytest.raises(ValueError, match=message):
        SharedNetwork(stack, "Network", **props)
