"""`ml-inference smoke` against AWS, with botocore's Stubber: SageMaker real-time (InvokeEndpoint),
async (S3 input, InvokeEndpointAsync, S3 answer), and --stack reading a stack's outputs."""

from __future__ import annotations

import argparse
import io
import json

import boto3
import pytest
from botocore.credentials import Credentials
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from ml_inference_cli import smoke
from ml_inference_cli.endpoints import HttpEndpoint, SageMakerEndpoint, Unreachable
from ml_inference_cli.smoke import TEXTS, SmokeFailure, SmokeOptions, run_checks
from tests.smoke.conftest import fake_answer

ENDPOINT = "Endpoint-AbCdEf123456"
BUCKET = "mlinference-sagemaker-staging-endpointdata-1a2b3c"
ERROR_BODY = json.dumps({"error": "empty_text", "detail": "text is empty or whitespace"})


def client(name: str):
    return boto3.client(name, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")


def body(payload) -> dict:
    data = json.dumps(payload).encode()
    return {"Body": StreamingBody(io.BytesIO(data), len(data)), "ContentType": "application/json"}


@pytest.fixture
def stubbed():
    clients = {name: client(name) for name in ("sagemaker-runtime", "sagemaker", "s3", "cloudformation")}
    stubbers = {name: Stubber(c) for name, c in clients.items()}
    for stubber in stubbers.values():
        stubber.activate()
    yield clients, stubbers
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


def realtime(clients) -> SageMakerEndpoint:
    return SageMakerEndpoint(ENDPOINT, "real-time", runtime=clients["sagemaker-runtime"], sagemaker=clients["sagemaker"])


def expect_in_service(stubbers, status="InService"):
    stubbers["sagemaker"].add_response(
        "describe_endpoint",
        {"EndpointName": ENDPOINT, "EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{ENDPOINT.lower()}",
         "EndpointConfigName": "config", "EndpointStatus": status, "CreationTime": "2026-01-01T00:00:00Z",
         "LastModifiedTime": "2026-01-01T00:00:00Z"},
        {"EndpointName": ENDPOINT},
    )


def invoke_params(payload) -> dict:
    return {"EndpointName": ENDPOINT, "ContentType": "application/json", "Accept": "application/json",
            "Body": json.dumps(payload).encode()}


def model_error(stubbers, status: int, message: str, payload) -> None:
    stubbers["sagemaker-runtime"].add_client_error(
        "invoke_endpoint", service_error_code="ModelError", service_message="Received client error from primary",
        http_status_code=424, expected_params=invoke_params(payload),
        modeled_fields={"OriginalStatusCode": status, "OriginalMessage": message,
                        "LogStreamArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/x"},
    )


def expect_realtime_run(stubbers, *, requests=20) -> None:
    runtime = stubbers["sagemaker-runtime"]
    expect_in_service(stubbers)
    for text in TEXTS:
        runtime.add_response("invoke_endpoint", body(fake_answer(text)), invoke_params({"text": text}))
    runtime.add_response("invoke_endpoint", body({"predictions": [fake_answer(t) for t in TEXTS]}),
                         invoke_params({"texts": list(TEXTS)}))
    model_error(stubbers, 422, ERROR_BODY, {"text": ""})
    for index in range(requests):
        text = TEXTS[index % len(TEXTS)]
        runtime.add_response("invoke_endpoint", body(fake_answer(text)), invoke_params({"text": text}))


def test_a_realtime_endpoint_passes_through_invoke_endpoint(stubbed):
    clients, stubbers = stubbed
    expect_realtime_run(stubbers)
    lines = []
    run_checks(realtime(clients), SmokeOptions(), report=lines.append)
    assert lines[0].startswith("ok  ready: endpoint InService")
    assert lines[3] == "ok  bad input: an empty text answered HTTP 422 'empty_text'"


def test_a_model_error_5xx_fails(stubbed):
    clients, stubbers = stubbed
    expect_in_service(stubbers)
    model_error(stubbers, 500, '{"error": "internal_error", "detail": "boom"}', {"text": TEXTS[0]})
    with pytest.raises(SmokeFailure, match=r"^/predict answered HTTP 500: \{\"error\": \"internal_error\""):
        run_checks(realtime(clients), SmokeOptions())


def test_a_failed_endpoint_fails_at_once(stubbed):
    clients, stubbers = stubbed
    expect_in_service(stubbers, status="Failed")
    with pytest.raises(SmokeFailure, match="^not ready: the endpoint is Failed$"):
        run_checks(realtime(clients), SmokeOptions(wait_s=600))


def test_throttling_is_no_answer(stubbed):
    clients, stubbers = stubbed
    expect_in_service(stubbers)
    stubbers["sagemaker-runtime"].add_client_error("invoke_endpoint", service_error_code="ThrottlingException",
                                                   service_message="Rate exceeded", http_status_code=400)
    with pytest.raises(Unreachable, match=f"InvokeEndpoint {ENDPOINT}: ThrottlingException: Rate exceeded"):
        run_checks(realtime(clients), SmokeOptions())


def asynchronous(clients, **kwargs) -> SageMakerEndpoint:
    return SageMakerEndpoint(ENDPOINT, "async", runtime=clients["sagemaker-runtime"], sagemaker=clients["sagemaker"],
                             s3=clients["s3"], async_input_uri=f"s3://{BUCKET}/async-inputs/", poll_seconds=0.01, **kwargs)


def expect_queued(stubbers, payload, index: int) -> tuple[str, str]:
    """The upload and the InvokeEndpointAsync of one request; returns its output and failure keys."""
    stubbers["s3"].add_response("put_object", {}, {"Bucket": BUCKET, "Key": ANY, "Body": json.dumps(payload).encode(),
                                                   "ContentType": "application/json"})
    output, failed = f"async-outputs/{index}.out", f"async-failures/{index}-error.out"
    stubbers["sagemaker-runtime"].add_response(
        "invoke_endpoint_async",
        {"InferenceId": str(index), "OutputLocation": f"s3://{BUCKET}/{output}", "FailureLocation": f"s3://{BUCKET}/{failed}"},
        {"EndpointName": ENDPOINT, "ContentType": "application/json", "Accept": "application/json", "InputLocation": ANY},
    )
    return output, failed


def expect_missing(stubbers, key: str) -> None:
    stubbers["s3"].add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404,
                                    expected_params={"Bucket": BUCKET, "Key": key})


def expect_async(stubbers, payload, *, answer=None, failure=None, misses=0, index=0) -> None:
    """One async request: queued, `misses` polls that find nothing, then the answer (or the failure)."""
    output, failed = expect_queued(stubbers, payload, index)
    for _ in range(misses):
        expect_missing(stubbers, output)
        expect_missing(stubbers, failed)
    if answer is not None:
        stubbers["s3"].add_response("get_object", body(answer), {"Bucket": BUCKET, "Key": output})
    else:
        expect_missing(stubbers, output)
        stubbers["s3"].add_response("get_object", {"Body": StreamingBody(io.BytesIO(failure.encode()), len(failure))},
                                    {"Bucket": BUCKET, "Key": failed})


def test_an_async_endpoint_passes_through_s3_and_invoke_endpoint_async(stubbed):
    clients, stubbers = stubbed
    expect_in_service(stubbers)
    for index, text in enumerate(TEXTS):  # the first waits a little: the endpoint scales out from zero
        expect_async(stubbers, {"text": text}, answer=fake_answer(text), misses=3 if index == 0 else 0, index=index)
    expect_async(stubbers, {"texts": list(TEXTS)}, answer={"predictions": [fake_answer(t) for t in TEXTS]}, index=3)
    expect_async(stubbers, {"text": ""}, failure=ERROR_BODY, index=4)
    for index in range(5):
        text = TEXTS[index % len(TEXTS)]
        expect_async(stubbers, {"text": text}, answer=fake_answer(text), index=5 + index)
    lines = []
    run_checks(asynchronous(clients), SmokeOptions(requests=5, p95_bound_s=15), report=lines.append)
    assert lines[3] == "ok  bad input: an empty text answered an async failure 'empty_text'"


def test_an_async_answer_that_never_comes_times_out(stubbed):
    clients, stubbers = stubbed
    expect_in_service(stubbers)
    output, failed = expect_queued(stubbers, {"text": TEXTS[0]}, index=0)
    expect_missing(stubbers, output)
    expect_missing(stubbers, failed)
    with pytest.raises(Unreachable, match=rf"InvokeEndpointAsync {ENDPOINT}: no answer in s3://{BUCKET}/{output} within 0.001 s"):
        run_checks(asynchronous(clients, async_timeout=0.001), SmokeOptions())


def test_an_async_failure_for_good_input_fails(stubbed):
    clients, stubbers = stubbed
    expect_in_service(stubbers)
    expect_async(stubbers, {"text": TEXTS[0]}, failure='{"error": "internal_error", "detail": "boom"}')
    with pytest.raises(SmokeFailure, match=r'^/predict answered an async failure: \{"error": "internal_error"'):
        run_checks(asynchronous(clients), SmokeOptions())


# -- --stack: the outputs say what the target is ----------------------------------------------


class FakeSession:
    """What smoke needs of a boto3 Session: clients (stubbed here), credentials, a region."""

    region_name = "us-east-1"

    def __init__(self, clients):
        self.clients = clients

    def client(self, name, **_kwargs):
        return self.clients[name]

    def get_credentials(self):
        return Credentials("AKIDEXAMPLE", "secret", "token")


def args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    smoke.add_arguments(parser)
    return parser.parse_args(argv)


def described(name: str, outputs: dict[str, str]) -> dict:
    return {"Stacks": [{"StackName": name, "CreationTime": "2026-01-01T00:00:00Z", "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]}]}


def test_a_lambda_stack_gives_its_function_url_signed(stubbed):
    clients, stubbers = stubbed
    url = "https://abcdefghij.lambda-url.us-east-1.on.aws/"
    stubbers["cloudformation"].add_response("describe_stacks", described("MlInference-Lambda-prod", {"Url": url}),
                                            {"StackName": "MlInference-Lambda-prod"})
    endpoint = smoke.endpoint_from_args(args("--stack", "MlInference-Lambda", "--stage", "prod"), boto_session=FakeSession(clients))
    assert isinstance(endpoint, HttpEndpoint) and endpoint.url == url.rstrip("/")
    assert endpoint.signer is not None and (endpoint.signer.service, endpoint.signer.region) == ("lambda", "us-east-1")


def test_a_sagemaker_stack_gives_its_endpoint_mode_and_async_prefix(stubbed):
    clients, stubbers = stubbed
    outputs = {"EndpointName": ENDPOINT, "Mode": "async", "AsyncInputUri": f"s3://{BUCKET}/async-inputs/"}
    stubbers["cloudformation"].add_response("describe_stacks", described("MlInference-SageMaker-staging", outputs),
                                            {"StackName": "MlInference-SageMaker-staging"})
    endpoint = smoke.endpoint_from_args(args("--stack", "MlInference-SageMaker", "--stage", "staging"),
                                        boto_session=FakeSession(clients))
    assert isinstance(endpoint, SageMakerEndpoint)
    assert (endpoint.name, endpoint.mode, endpoint.async_input_uri) == (ENDPOINT, "async", f"s3://{BUCKET}/async-inputs/")
    assert smoke.options_from_args(args("--url", "x"), endpoint).p95_bound_s == 15  # async: the S3 round trip counts


def test_a_stack_without_an_endpoint_exits_2(stubbed, capsys):
    clients, stubbers = stubbed
    stubbers["cloudformation"].add_response("describe_stacks", described("MlInference-Network-dev", {"VpcId": "vpc-1"}),
                                            {"StackName": "MlInference-Network-dev"})
    code = smoke.run(args("--stack", "MlInference-Network"), boto_session=FakeSession(clients))
    err = capsys.readouterr().err
    assert code == 2 and err == ("ml-inference smoke: error: stack MlInference-Network-dev has no Url or EndpointName output "
                                 "(outputs: VpcId): smoke-test an inference stack (Lambda, Fargate, Eks, SageMaker)\n")


def test_a_missing_stack_says_to_deploy_it(stubbed, capsys):
    clients, stubbers = stubbed
    for name in ("MlInference-Fargate-dev", "MlInference-Fargate"):
        stubbers["cloudformation"].add_client_error("describe_stacks", "ValidationError", f"Stack with id {name} does not exist",
                                                    expected_params={"StackName": name})
    code = smoke.run(args("--stack", "MlInference-Fargate"), boto_session=FakeSession(clients))
    err = capsys.readouterr().err
    assert code == 2 and "no stack named MlInference-Fargate-dev or MlInference-Fargate: deploy it" in err
    assert "or pass --url URL" in err and err.count("\n") == 1
