"""Builders shared by the SageMaker construct tests."""

from __future__ import annotations

import aws_cdk as cdk

from ml_inference_cdk import ModelImage, SharedNetwork
from ml_inference_cdk.constructs.sagemaker import EndpointCapacity, SageMakerEndpoint
from tests.cdk.support import new_stack

REGION = cdk.Environment(region="us-east-1")


def build(*, network: bool = True, **props):
    app, stack = new_stack(env=REGION)
    image = ModelImage(stack, "Image")
    capacity = props.get("capacity") or EndpointCapacity.real_time()
    if network and capacity.supports_vpc and "vpc" not in props:
        props["vpc"] = SharedNetwork(stack, "Network").vpc
    endpoint = SageMakerEndpoint(stack, "Endpoint", image=image, **props)
    return stack, endpoint


def logical_id(construct) -> str:
    resource = construct if isinstance(construct, cdk.CfnResource) else construct.node.default_child
    return cdk.Stack.of(construct).get_logical_id(resource)


def role_statements(template, role) -> list[dict]:
    role_id = logical_id(role)
    statements = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements
