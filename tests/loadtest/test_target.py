"""Where the load test sends its requests: a flag, or a stack output read with a (stubbed) CloudFormation client."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from loadtest.target import TargetError, resolve_url, stack_names

FUNCTION_URL = "https://abcdefghijklmnop.lambda-url.us-east-1.on.aws/"


def described(name: str, outputs: dict[str, str]) -> dict:
    return {"Stacks": [{"StackName": name, "CreationTime": "2026-01-01T00:00:00Z", "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]}]}


@pytest.fixture
def cloudformation():
    client = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_a_url_flag_wins_and_loses_its_trailing_slash():
    assert resolve_url(url="http://127.0.0.1:8080/", stack="MlInference-Fargate") == "http://127.0.0.1:8080"


def test_a_stack_id_reads_the_url_output_of_the_stage_stack(cloudformation):
    client, stubber = cloudformation
    stubber.add_response("describe_stacks", described("MlInference-Fargate-prod", {"Url": "http://alb.example.com",
                                                                                  "ClusterName": "c"}),
                         {"StackName": "MlInference-Fargate-prod"})
    assert resolve_url(stack="MlInference-Fargate", stage="prod", cloudformation=client) == "http://alb.example.com"


def test_a_full_stack_name_is_used_as_it_is_and_a_function_url_is_returned(cloudformation):
    client, stubber = cloudformation
    stubber.add_response("describe_stacks", described("MlInference-Lambda-dev", {"Url": FUNCTION_URL}),
                         {"StackName": "MlInference-Lambda-dev"})
    assert resolve_url(stack="MlInference-Lambda-dev", cloudformation=client) == FUNCTION_URL.rstrip("/")


def test_a_stack_without_a_stage_suffix_is_tried_as_named_after_the_stage_name(cloudformation):
    client, stubber = cloudformation
    stubber.add_client_error("describe_stacks", "ValidationError", "Stack with id my-stack-dev does not exist",
                             expected_params={"StackName": "my-stack-dev"})
    stubber.add_response("describe_stacks", described("my-stack", {"Endpoint": "https://x.example.com"}),
                         {"StackName": "my-stack"})
    assert resolve_url(stack="my-stack", output_key="Endpoint", cloudformation=client) == "https://x.example.com"


def test_fails_when_no_stack_exists(cloudformation):
    client, stubber = cloudformation
    for name in ("MlInference-Fargate-dev", "MlInference-Fargate"):
        stubber.add_client_error("describe_stacks", "ValidationError", f"Stack with id {name} does not exist",
                                 expected_params={"StackName": name})
    with pytest.raises(TargetError, match="no stack named MlInference-Fargate-dev or MlInference-Fargate: deploy it"):
        resolve_url(stack="MlInference-Fargate", cloudformation=client)


def test_fails_when_the_stack_has_no_such_output(cloudformation):
    client, stubber = cloudformation
    stubber.add_response("describe_stacks", described("MlInference-Network-dev", {"VpcId": "vpc-1"}),
                         {"StackName": "MlInference-Network-dev"})
    with pytest.raises(TargetError, match=r"has no output 'Url' \(outputs: VpcId\)"):
        resolve_url(stack="MlInference-Network", cloudformation=client)


def test_fails_when_access_is_denied(cloudformation):
    client, stubber = cloudformation
    stubber.add_client_error("describe_stacks", "AccessDenied", "not authorized to perform: cloudformation:DescribeStacks")
    with pytest.raises(TargetError, match="cannot read stack MlInference-Lambda-dev: .*not authorized"):
        resolve_url(stack="MlInference-Lambda", cloudformation=client)


def test_fails_without_a_target_or_with_a_bad_url():
    with pytest.raises(TargetError, match="give the target: --host URL, or --stack NAME"):
        resolve_url()
    with pytest.raises(TargetError, match="not an http"):
        resolve_url(url="ftp://example.com")


def test_stack_names_append_the_stage_only_to_an_id():
    assert stack_names("MlInference-Lambda", "staging") == ["MlInference-Lambda-staging", "MlInference-Lambda"]
    assert stack_names("MlInference-Lambda-prod", "dev") == ["MlInference-Lambda-prod"]


def test_a_sagemaker_stack_is_loaded_through_the_runtime_api(cloudformation):
    from loadtest.target import resolve_target, sagemaker_endpoint, signing_scope

    client, stubber = cloudformation
    stubber.add_response("describe_stacks", described("MlInference-SageMaker-prod", {"EndpointName": "Endpoint-Ab12",
                                                                                      "Mode": "real-time"}),
                         {"StackName": "MlInference-SageMaker-prod"})
    target = resolve_target(stack="MlInference-SageMaker", stage="prod", cloudformation=client)
    assert target.host == "https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/Endpoint-Ab12"
    assert target.async_input_uri is None
    assert signing_scope(target.host) == ("sagemaker", "us-east-1")
    assert sagemaker_endpoint(target.host) == ("Endpoint-Ab12", "us-east-1")
    assert sagemaker_endpoint("http://alb.example.com") is None


def test_an_async_sagemaker_stack_carries_its_input_prefix(cloudformation):
    from loadtest.target import resolve_target

    client, stubber = cloudformation
    outputs = {"EndpointName": "Endpoint-Cd34", "Mode": "async", "AsyncInputUri": "s3://bucket/async-inputs/"}
    stubber.add_response("describe_stacks", described("MlInference-SageMaker-staging", outputs),
                         {"StackName": "MlInference-SageMaker-staging"})
    target = resolve_target(stack="MlInference-SageMaker", stage="staging", cloudformation=client)
    assert target.async_input_uri == "s3://bucket/async-inputs/"
    assert target.host.endswith("/endpoints/Endpoint-Cd34")


def test_an_eks_stack_gives_its_ingress_url(cloudformation):
    client, stubber = cloudformation
    url = "http://k8s-inferenc-inferenc-0123456789-1234567890.us-east-1.elb.amazonaws.com"
    stubber.add_response("describe_stacks", described("MlInference-Eks-dev", {"Url": url, "ClusterName": "c"}),
                         {"StackName": "MlInference-Eks-dev"})
    assert resolve_url(stack="MlInference-Eks", cloudformation=client) == url
