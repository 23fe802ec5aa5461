"""The HTTP API: good input, every kind of bad input, errors, health, metrics, logs."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi.testclient import TestClient

from inference.app.backends import Prediction
from inference.app.dev_model import UNTRAINED_VERSION, build_tiny_model
from inference.app.main import create_app
from inference.app.observability import logger

JSON = {"content-type": "application/json"}


def assert_error(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == error
    assert body["detail"] and isinstance(body["detail"], str)
    return body


def test_predict_answers_with_label_confidence_and_version(client, classifier):
    response = client.post("/predict", json={"text": "I loved this movie!"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"label", "confidence", "model_version", "processing_time_ms", "truncated", "sentiment"}
    expected = classifier.predict(["I loved this movie!"])[0]
    assert body["label"] == expected.label
    assert body["confidence"] == pytest.approx(expected.confidence, abs=1e-5)
    assert body["model_version"] == UNTRAINED_VERSION
    assert body["processing_time_ms"] > 0
    assert body["truncated"] is False


def test_sentiment_is_a_deprecated_alias_of_label(client):
    """0.x keeps `sentiment` (same value as `label`) so existing clients keep working, marked deprecated."""
    single = client.post("/predict", json={"text": "I loved this movie!"}).json()
    batch = client.post("/predict/batch", json={"texts": ["a", "b c"]}).json()["predictions"]
    invocation = client.post("/invocations", json={"inputs": "hello"}).json()
    for answer in [single, *batch, invocation]:
        assert answer["sentiment"] == answer["label"]
    properties = client.get("/openapi.json").json()["components"]["schemas"]["PredictResponse"]["properties"]
    assert properties["sentiment"]["deprecated"] is True and "label" in properties["sentiment"]["description"]
    assert "deprecated" not in properties["label"]


def test_predictions_match_the_transformers_pipeline(client, tiny_model_dir):
    from transformers import pipeline

    reference = pipeline("text-classification", model=str(tiny_model_dir), device="cpu")
    texts = ["I loved this movie!", "Never again. Rude staff.", "okay " * 300]
    expected = reference(texts, truncation=True)
    got = client.post("/predict/batch", json={"texts": texts}).json()["predictions"]
    for answer, reference_answer in zip(got, expected, strict=True):
        assert answer["label"] == reference_answer["label"]
        assert answer["confidence"] == pytest.approx(reference_answer["score"], abs=1e-4)


@pytest.mark.parametrize("text", ["Ça a l'air très bien 👍", "日本語のテキスト", "مرحبا بالعالم", "e\u0301\u200b\u00a0tab\tnew\nline", "\x00nul"])
def test_unicode_text_is_classified(client, classifier, text):
    body = client.post("/predict", json={"text": text}).json()
    assert body["label"] == classifier.predict([text])[0].label
    assert body["truncated"] is False


def test_text_longer_than_the_model_is_truncated_not_rejected(client, classifier, tiny_model_dir):
    from transformers import AutoTokenizer

    long_text = "the quick brown fox jumps over the lazy dog " * 400  # ~17,600 characters, far over 64 tokens
    response = client.post("/predict", json={"text": long_text})
    assert response.status_code == 200
    assert response.json()["truncated"] is True
    # Truncated means: the answer is the answer for the prefix that fits in the model's 64 tokens.
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    offsets = tokenizer(long_text, truncation=True, max_length=64, return_offsets_mapping=True)["offset_mapping"]
    head = long_text[: max(end for _, end in offsets)]
    assert len(head) < 1000
    expected = classifier.predict([head])[0]
    assert expected.truncated is False
    assert response.json()["label"] == expected.label
    assert response.json()["confidence"] == pytest.approx(expected.confidence, abs=1e-5)


def test_batch_answers_in_input_order_and_equals_single_answers(client, varied_texts):
    texts = varied_texts(20)
    batch = client.post("/predict/batch", json={"texts": texts})
    assert batch.status_code == 200
    predictions = batch.json()["predictions"]
    assert len(predictions) == len(texts)
    singles = [client.post("/predict", json={"text": text}).json() for text in texts]
    assert len({round(s["confidence"], 4) for s in singles}) > 8, "texts should give distinct answers"
    for from_batch, single in zip(predictions, singles, strict=True):
        assert from_batch["label"] == single["label"]
        assert from_batch["confidence"] == pytest.approx(single["confidence"], abs=1e-4)
        assert from_batch["truncated"] == single["truncated"]


def test_labels_come_from_the_config_id2label(make_app, tmp_path, varied_texts):
    from transformers import pipeline

    from inference.app.backends.pytorch import TransformersClassifier

    labels = ("sad", "neutral", "joyful")
    model_dir = build_tiny_model(tmp_path / "three", labels=labels, seed=3)
    texts = varied_texts(30)
    with TestClient(make_app(TransformersClassifier(model_dir))) as client:
        got = [p["label"] for p in client.post("/predict/batch", json={"texts": texts}).json()["predictions"]]
    assert set(got) <= set(labels)
    assert len(set(got)) >= 2, "a random 3-label model should not give one label to 30 different texts"
    reference = pipeline("text-classification", model=str(model_dir), device="cpu")
    for label, scores in zip(got, reference(texts, top_k=None), strict=True):
        first, second = sorted(scores, key=lambda score: -score["score"])[:2]
        # Batching pads and groups texts, which moves probabilities by ~1e-7: a near-tie may go
        # either way.
        assert label == first["label"] or (first["score"] - second["score"] < 1e-4 and label == second["label"])


# ---------------------------------------------------------------- bad input: a clear 4xx


@pytest.mark.parametrize(
    ("path", "payload", "status", "error"),
    [
        ("/predict", {"text": ""}, 422, "empty_text"),
        ("/predict", {"text": " \n\t\u3000 "}, 422, "empty_text"),
        ("/predict", {"text": "x" * 20_001}, 422, "text_too_long"),
        ("/predict", {"text": 42}, 422, "invalid_request"),
        ("/predict", {"text": None}, 422, "invalid_request"),
        ("/predict", {"text": ["a list"]}, 422, "invalid_request"),
        ("/predict", {"texts": ["wrong field"]}, 422, "invalid_request"),
        ("/predict", ["not", "an", "object"], 422, "invalid_request"),
        ("/predict", "just a string", 422, "invalid_request"),
        ("/predict/batch", {"texts": []}, 422, "empty_batch"),
        ("/predict/batch", {"texts": ["ok"] * 65}, 422, "batch_too_large"),
        ("/predict/batch", {"texts": ["ok", "  "]}, 422, "empty_text"),
        ("/predict/batch", {"texts": ["ok", "y" * 20_001]}, 422, "text_too_long"),
        ("/predict/batch", {"texts": "not a list"}, 422, "invalid_request"),
        ("/predict/batch", {"texts": ["ok", 3]}, 422, "invalid_request"),
        ("/predict/batch", {"text": "wrong field"}, 422, "invalid_request"),
    ],
)
def test_bad_input_gets_a_json_4xx(client, path, payload, status, error):
    body = assert_error(client.post(path, json=payload), status, error)
    if error == "batch_too_large":
        assert "64" in body["detail"] and "MAX_BATCH_SIZE" in body["detail"]


def test_errors_name_the_offending_batch_item(client):
    body = assert_error(client.post("/predict/batch", json={"texts": ["ok", "ok", ""]}), 422, "empty_text")
    assert "texts[2]" in body["detail"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b'{"text": "unterminated', 400, "invalid_json"),
        (b"{'text': 'single quotes'}", 400, "invalid_json"),
        (b"[" * 50_000, 400, "invalid_json"),  # nested past Python's recursion limit
        (b'{"text": "caf\xe9"}', 400, "invalid_encoding"),  # latin-1, not UTF-8
        ('{"text": "hello"}'.encode("utf-16"), 400, "invalid_encoding"),
        (b'{"text": "\\ud800 lone surrogate"}', 422, "invalid_text"),
        (b"", 422, "invalid_request"),
    ],
)
def test_unparseable_bodies_get_a_json_4xx(client, body, status, error):
    assert_error(client.post("/predict", content=body, headers=JSON), status, error)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_predict_rejects_other_content_types_with_415(client, content_type):
    body = assert_error(client.post("/predict", content=b'{"text": "hi"}', headers={"content-type": content_type}),
                        415, "unsupported_media_type")
    assert "application/json" in body["detail"]


def test_json_content_type_variants_are_accepted(client):
    for content_type in ["application/json; charset=utf-8", "application/vnd.api+json"]:
        response = client.post("/predict", content=b'{"text": "hi"}', headers={"content-type": content_type})
        assert response.status_code == 200, content_type


def test_body_over_the_limit_is_rejected_with_413(client):
    huge = json.dumps({"text": "a" * 1_100_000}).encode()
    assert_error(client.post("/predict", content=huge, headers=JSON), 413, "body_too_large")


def test_body_limit_is_a_setting(make_app):
    with TestClient(make_app(max_body_bytes=100, max_text_chars=10, max_batch_size=2)) as client:
        assert_error(client.post("/predict", json={"text": "a" * 200}), 413, "body_too_large")
        assert_error(client.post("/predict", json={"text": "a" * 11}), 422, "text_too_long")
        assert_error(client.post("/predict/batch", json={"texts": ["a", "b", "c"]}), 422, "batch_too_large")
        assert client.post("/predict", json={"text": "a" * 10}).status_code == 200


def test_unknown_paths_and_methods_get_json_errors(client):
    assert_error(client.get("/nope"), 404, "not_found")
    assert_error(client.get("/predict"), 405, "method_not_allowed")
    assert_error(client.delete("/health"), 405, "method_not_allowed")


# ---------------------------------------------------------------- request ids, 500s, health


def test_request_id_is_echoed_or_generated(client):
    given = client.post("/predict", json={"text": "hi"}, headers={"x-request-id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = {client.get("/health").headers["x-request-id"] for _ in range(3)}
    assert len(generated) == 3 and all(len(i) == 32 for i in generated)
    unsafe = client.get("/health", headers={"x-request-id": "bad id\nwith newline"})
    assert unsafe.headers["x-request-id"] != "bad id\nwith newline"
    assert client.get("/nope").headers["x-request-id"]  # errors carry one too


class ExplodingClassifier:
    model_version = "exploding"
    untrained = False

    def predict(self, texts):
        if any("boom" in text for text in texts):
            raise RuntimeError("secret internal detail at /srv/inference/app/model.py")
        return [Prediction("POSITIVE", 0.9, False) for _ in texts]


def test_unexpected_exceptions_get_a_json_500_that_leaks_nothing(make_app, log_lines):
    with TestClient(make_app(ExplodingClassifier()), raise_server_exceptions=False) as client:
        response = client.post("/predict", json={"text": "boom"}, headers={"x-request-id": "req-500"})
        assert client.post("/predict", json={"text": "fine"}).status_code == 200  # and it keeps serving
    body = assert_error(response, 500, "internal_error")
    assert "req-500" in body["detail"]
    assert "secret" not in response.text and "Traceback" not in response.text and "/srv" not in response.text
    errors = [line for line in log_lines() if line["level"] == "ERROR"]
    assert errors and errors[0]["request_id"] == "req-500" and "secret internal detail" in errors[0]["exception"]


def test_health_is_503_until_the_model_is_loaded_and_warm(settings, classifier):
    release = threading.Event()
    calls = []

    class SlowToWarm:
        model_version = "slow"
        untrained = False

        def predict(self, texts):
            calls.append(list(texts))
            release.wait(30)
            return classifier.predict(texts)

    app = create_app(settings, loader=lambda _: SlowToWarm())
    with TestClient(app) as client:
        assert_error(client.get("/health"), 503, "model_not_ready")
        assert_error(client.get("/ping"), 503, "model_not_ready")
        not_ready = assert_error(client.post("/predict", json={"text": "hi"}), 503, "model_not_ready")
        assert "retry" in not_ready["detail"]
        release.set()
        assert app.state.service.wait_ready(30)
        health = client.get("/health")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "model_version": "slow", "platform": "test"}
        assert client.post("/predict", json={"text": "hi"}).status_code == 200
    assert len(calls[0]) == 1, "the warm-up ran one input before /health said ok"


def test_health_says_when_the_model_failed_to_load(settings, tmp_path, log_lines):
    app = create_app(settings.model_copy(update={"model_dir": tmp_path / "missing"}))
    with TestClient(app) as client:
        deadline = time.monotonic() + 30
        while app.state.service.load_error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not app.state.service.ready
        assert_error(client.get("/health"), 503, "model_load_failed")
        assert_error(client.post("/predict", json={"text": "hi"}), 503, "model_not_ready")
    assert any(line["message"] == "model failed to load" for line in log_lines())


# ---------------------------------------------------------------- metrics, docs, logs


def test_metrics_are_prometheus_text_by_endpoint_and_status(make_app):
    with TestClient(make_app()) as client:
        client.post("/predict", json={"text": "hello"})
        client.post("/predict/batch", json={"texts": ["a", "b", "c"]})
        client.post("/predict", json={"text": ""})
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'inference_requests_total{endpoint="/predict",status="200"} 1.0' in text
    assert 'inference_requests_total{endpoint="/predict",status="422"} 1.0' in text
    assert 'inference_request_duration_seconds_count{endpoint="/predict/batch",status="200"} 1.0' in text
    assert 'inference_batch_size_sum{endpoint="/predict/batch"} 3.0' in text
    assert 'inference_batch_size_bucket{endpoint="/predict/batch",le="4.0"} 1.0' in text
    assert "inference_requests_in_flight 1.0" in text  # the /metrics request itself
    load_seconds = next(line for line in text.splitlines() if line.startswith("inference_model_load_seconds "))
    assert float(load_seconds.split()[1]) > 0
    assert f'inference_model_info{{model_version="{UNTRAINED_VERSION}",platform="test"}} 1.0' in text


def test_openapi_docs_describe_the_api(client):
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {"/predict", "/predict/batch", "/health", "/ping", "/invocations", "/metrics"} <= set(schema["paths"])
    predict = schema["paths"]["/predict"]["post"]
    assert {"200", "400", "413", "415", "422", "503"} <= set(predict["responses"])
    error_schema = schema["components"]["schemas"]["ErrorBody"]
    assert set(error_schema["properties"]) == {"error", "detail"}


def test_one_structured_log_line_per_request_without_the_text(client, log_lines):
    secret = "my private review text 12345"
    client.post("/predict/batch", json={"texts": [secret, "another"]}, headers={"x-request-id": "log-test"})
    lines = [line for line in log_lines() if line["message"] == "request"]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "log-test"
    assert line["model_version"] == UNTRAINED_VERSION
    assert line["endpoint"] == "/predict/batch"
    assert line["status"] == 200
    assert line["batch_size"] == 2
    assert line["latency_ms"] > 0
    assert secret not in json.dumps(log_lines())


def test_debug_logging_includes_the_input_text(make_app, log_lines):
    try:
        with TestClient(make_app(log_level="DEBUG")) as client:
            client.post("/predict", json={"text": "debug me please"})
    finally:
        logger.setLevel("INFO")  # the logger is per process; other tests' apps log at INFO
    line = next(line for line in log_lines() if line["message"] == "request")
    assert line["texts"] == ["debug me please"]


def test_emf_metrics_have_namespace_dimensions_and_cold_start(make_app, capsys):
    with TestClient(make_app()) as client:
        client.post("/predict", json={"text": "one"})
        client.post("/predict", json={"text": "two"})
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    names = [metric["Name"] for record in emf for d in record["_aws"]["CloudWatchMetrics"] for metric in d["Metrics"]]
    assert names == ["ModelLoadTime", "ColdStart", "InferenceTime", "InferenceTime"]
    for record in emf:
        directive = record["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "MLInference"
        assert directive["Dimensions"] == [["Platform", "ModelVersion"]]
        assert record["Platform"] == "test" and record["ModelVersion"] == UNTRAINED_VERSION


def test_emf_metrics_can_be_turned_off(make_app, capsys):
    with TestClient(make_app(emf_metrics=False)) as client:
        client.post("/predict", json={"text": "one"})
    assert '"_aws"' not in capsys.readouterr().out
