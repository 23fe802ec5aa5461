"""The Lambda handler with real-shaped events: HTTP API v2, Function URL, REST API v1, ALB."""

from __future__ import annotations

import base64
import copy
import importlib
import json
import sys
from pathlib import Path

import pytest

from inference.app.dev_model import UNTRAINED_VERSION

EVENTS = Path(__file__).resolve().parents[2] / "inference" / "events"
EVENT_FILES = ["apigw-http-v2.json", "function-url.json", "apigw-rest-v1.json", "alb.json"]


@pytest.fixture(scope="module")
def lambda_module(tiny_model_dir):
    """inference.app.lambda_handler imported as Lambda's init does: MODEL_DIR from the environment."""
    mp = pytest.MonkeyPatch()
    mp.setenv("MODEL_DIR", str(tiny_model_dir))
    mp.setenv("PLATFORM", "lambda")
    mp.setenv("EMF_METRICS", "false")
    sys.modules.pop("inference.app.lambda_handler", None)
    try:
        yield importlib.import_module("inference.app.lambda_handler")
    finally:
        mp.undo()


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def with_request(event: dict, *, path: str, body: bytes, content_type: str = "application/json",
                 method: str = "POST") -> dict:
    """The sample event with another path, method, body and content type, in that event kind's shape."""
    event = copy.deepcopy(event)
    event["body"] = base64.b64encode(body).decode()
    event["isBase64Encoded"] = True
    if "rawPath" in event:  # payload format 2.0: HTTP API and Function URL
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["requestContext"]["http"]["method"] = method
        event["headers"]["content-type"] = content_type
    else:  # REST API v1 and ALB
        event["path"] = path
        event["httpMethod"] = method
        for name in list(event["headers"]):
            if name.lower() == "content-type":
                event["headers"][name] = content_type
        if "multiValueHeaders" in event:
            event["multiValueHeaders"]["Content-Type"] = [content_type]
    return event


def invoke(module, event: dict, request_id: str = "lambda-req-1") -> tuple[int, dict, dict]:
    response = module.handler(event, module.LocalContext(request_id))
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return response["statusCode"], {k.lower(): v for k, v in response.get("headers", {}).items()}, json.loads(body)


def test_the_model_loads_at_import_during_init(lambda_module):
    service = lambda_module.handler.app.state.service
    assert service.ready
    assert service.model_version == UNTRAINED_VERSION
    assert lambda_module.handler.app.state.settings.platform == "lambda"


@pytest.mark.parametrize("event_file", EVENT_FILES)
def test_sample_events_are_answered(lambda_module, classifier, event_file):
    event = load_event(event_file)
    status, headers, body = invoke(lambda_module, event)
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert headers["x-request-id"] == "lambda-req-1"  # the Lambda request id, when the client sends none
    raw = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
    payload = json.loads(raw)
    texts = [payload["text"]] if "text" in payload else payload["texts"]
    answers = [body] if "text" in payload else body["predictions"]
    for text, answer in zip(texts, answers, strict=True):
        expected = classifier.predict([text])[0]
        assert answer["label"] == expected.label
        assert answer["confidence"] == pytest.approx(expected.confidence, abs=1e-5)
        assert answer["model_version"] == UNTRAINED_VERSION


@pytest.mark.parametrize("event_file", EVENT_FILES)
@pytest.mark.parametrize(
    ("path", "body", "content_type", "status", "error"),
    [
        ("/predict", b'{"text": "   "}', "application/json", 422, "empty_text"),
        ("/predict", b'{"text": 1}', "application/json", 422, "invalid_request"),
        ("/predict", b"{broken", "application/json", 400, "invalid_json"),
        ("/predict", b"text=hi", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("/predict/batch", json.dumps({"texts": ["a"] * 65}).encode(), "application/json", 422, "batch_too_large"),
        ("/predict", json.dumps({"text": "a" * 1_100_000}).encode(), "application/json", 413, "body_too_large"),
        ("/missing", b"{}", "application/json", 404, "not_found"),
    ],
)
def test_bad_input_gets_a_json_4xx(lambda_module, event_file, path, body, content_type, status, error):
    event = with_request(load_event(event_file), path=path, body=body, content_type=content_type)
    got_status, _, got_body = invoke(lambda_module, event)
    assert (got_status, got_body["error"]) == (status, error)
    assert got_body["detail"]


@pytest.mark.parametrize("event_file", EVENT_FILES)
def test_health_and_long_text_through_each_event_kind(lambda_module, event_file):
    health = with_request(load_event(event_file), path="/health", body=b"", method="GET")
    status, _, body = invoke(lambda_module, health)
    assert status == 200 and body["status"] == "ok" and body["platform"] == "lambda"
    long = with_request(load_event(event_file), path="/predict", body=json.dumps({"text": "ok " * 5000}).encode())
    status, _, body = invoke(lambda_module, long)
    assert status == 200 and body["truncated"] is True


def test_the_client_request_id_wins_and_logs_carry_the_lambda_context(lambda_module, log_lines):
    event = load_event("apigw-http-v2.json")
    event["headers"]["x-request-id"] = "from-client"
    status, headers, _ = invoke(lambda_module, event, request_id="aws-req-9")
    assert status == 200 and headers["x-request-id"] == "from-client"
    line = next(line for line in log_lines() if line["message"] == "request")
    assert line["request_id"] == "from-client"
    assert line["function_request_id"] == "aws-req-9"
    assert line["function_name"] == "ml-inference-local"
    assert line["endpoint"] == "/predict"


def test_a_model_that_cannot_load_fails_the_init(monkeypatch, tmp_path):
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "nothing-here"))
    sys.modules.pop("inference.app.lambda_handler", None)
    try:
        with pytest.raises(OSError):
            importlib.import_module("inference.app.lambda_handler")
    finally:
        sys.modules.pop("inference.app.lambda_handler", None)


def test_the_cdk_warmup_event_reaches_health(lambda_module):
    # LambdaInference's warm-up schedule sends this event: it must route to GET /health and answer 200.
    from ml_inference_cdk.constructs.lambda_inference import warmup_event

    status, _, body = invoke(lambda_module, warmup_event(), request_id="warmup")
    assert status == 200, body
    assert body["status"] == "ok"


def test_the_handler_never_batches(lambda_module, settings, classifier):
    """One request per execution environment: the batcher would only add a thread hop."""
    assert lambda_module.handler.app.state.service.batcher is None
    handler = lambda_module.create_handler(settings.model_copy(update={"platform": "fargate"}),
                                           loader=lambda _: classifier)
    assert handler.app.state.service.batcher is None
    status, _, body = invoke(lambda_module, with_request(load_event("alb.json"), path="/predict/batch",
                                                         body=b'{"texts": ["good", "bad"]}'))
    assert status == 200 and len(body["predictions"]) == 2


@pytest.mark.parametrize(
    "event",
    [
        {"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}},
        {"Records": [{"eventSource": "aws:s3", "s3": {"object": {"key": "private-name.txt"}}}]},
        {"Records": [{"eventSource": "aws:sqs", "body": "private text"}]},
        {"text": "a direct invoke with the /predict body"},
        {},
        ["a", "list"],
        "a string",
        None,
    ],
    ids=["eventbridge", "s3", "sqs", "predict-body", "empty", "list", "string", "null"],
)
def test_a_non_http_event_gets_a_clear_error_not_an_exception(lambda_module, event, log_lines):
    answer = lambda_module.handler(event, lambda_module.LocalContext("direct-1"))
    assert answer["statusCode"] == 400 and answer["error"] == "unsupported_event"
    assert "HTTP API" in answer["detail"] and "inference/events/" in answer["detail"]
    warning = next(line for line in log_lines() if line["message"] == "unsupported event")
    assert warning["level"] == "WARNING" and warning["function_request_id"] == "direct-1"
    assert "private" not in json.dumps(answer) + json.dumps(log_lines()), "event values are never echoed"


def test_a_malformed_http_event_gets_a_clear_error(lambda_module):
    event = load_event("apigw-http-v2.json")
    del event["requestContext"]["http"]
    answer = lambda_module.handler(event, lambda_module.LocalContext())
    assert answer["statusCode"] == 400 and answer["error"] == "unsupported_event"
    assert "malformed" in answer["detail"]
    # And the function still serves well-formed events afterwards.
    assert invoke(lambda_module, load_event("apigw-http-v2.json"))[0] == 200
