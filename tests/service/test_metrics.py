"""The metrics contract (inference/README.md, "Metrics contract"): the EMF records dashboards and
alarms read on every target, the serializer that writes them, and Prometheus kept in step."""

from __future__ import annotations

import io
import json

import pytest
from fastapi.testclient import TestClient

from inference.app import emf
from inference.app.dev_model import UNTRAINED_VERSION, build_tiny_model
from inference.app.observability import Outcome, ServiceMetrics
from inference.app.settings import Settings
from tests.service.fakes import FakeClassifier, overload_once

SP = ["Service", "Platform"]


def emf_records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def metric_dimensions(record: dict) -> dict[str, list[list[str]]]:
    """Metric name -> its dimension sets, across the record's directives."""
    return {m["Name"]: d["Dimensions"] for d in record["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


def metric_units(record: dict) -> dict[str, str]:
    return {m["Name"]: m["Unit"] for d in record["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


# ---------------------------------------------------------------- the serializer


def test_one_record_carries_several_metrics_with_their_own_dimension_sets():
    record = emf.record("NS", [
        emf.Metric("Requests", "Count", 1, (("Service", "Platform"), ("Service", "Platform", "StatusClass"))),
        emf.Metric("RequestLatency", "Milliseconds", 12.5, (("Service", "Platform"),)),
        emf.Metric("Confidence", "None", [0.9, 0.8], (("Service", "Platform"),)),
    ], {"Service": "s", "Platform": "p", "StatusClass": "2xx", "ModelVersion": "v1"}, timestamp_ms=1000)
    assert record["_aws"] == {"Timestamp": 1000, "CloudWatchMetrics": [
        {"Namespace": "NS", "Dimensions": [SP, [*SP, "StatusClass"]], "Metrics": [{"Name": "Requests", "Unit": "Count"}]},
        {"Namespace": "NS", "Dimensions": [SP], "Metrics": [{"Name": "RequestLatency", "Unit": "Milliseconds"},
                                                            {"Name": "Confidence", "Unit": "None"}]},
    ]}
    assert (record["Requests"], record["RequestLatency"], record["Confidence"]) == (1.0, 12.5, [0.9, 0.8])
    assert record["ModelVersion"] == "v1" and record["StatusClass"] == "2xx"
    assert json.loads(emf.line(record)) == record and "\n" not in emf.line(record)


@pytest.mark.parametrize(
    ("metrics", "fields", "message"),
    [
        ([], {}, "at least one metric"),
        ([emf.Metric("A", "Count", 1, (("Service",),))], {}, "without a string value"),
        ([emf.Metric("A", "Count", 1, (("Service",),))], {"Service": ""}, "without a string value"),
        ([emf.Metric("A", "Furlongs", 1, ())], {}, "not a CloudWatch unit"),
        ([emf.Metric("A", "Count", 1, ()), emf.Metric("A", "Count", 2, ())], {}, "twice"),
        ([emf.Metric("Service", "Count", 1, ())], {"Service": "s"}, "twice"),
        ([emf.Metric("A", "None", [0.5] * 101, ())], {}, "1 to 100 values"),
        ([emf.Metric("A", "None", [], ())], {}, "1 to 100 values"),
    ],
)
def test_the_serializer_refuses_what_cloudwatch_would_reject(metrics, fields, message):
    with pytest.raises(ValueError, match=message):
        emf.record("NS", metrics, fields)


def test_values_are_cut_into_pieces_a_record_can_hold():
    assert [len(c) for c in emf.chunks([0.5] * 250)] == [100, 100, 50]
    assert emf.chunks([]) == [[]]


# ---------------------------------------------------------------- what one request emits


def test_a_prediction_request_is_one_record_per_label(make_app, capsys, tmp_path, varied_texts):
    from inference.app.backends.pytorch import TransformersClassifier

    model = TransformersClassifier(build_tiny_model(tmp_path / "three", labels=("sad", "neutral", "joyful"), seed=3))
    app = make_app(model, metrics_service="team-a-prod", platform="fargate")
    capsys.readouterr()
    texts = varied_texts(30)
    with TestClient(app) as client:
        answer = client.post("/predict/batch", json={"texts": texts}, headers={"x-request-id": "req-7"}).json()
    predictions = answer["predictions"]
    labels = list(dict.fromkeys(p["label"] for p in predictions))
    assert len(labels) >= 2, "a random 3-label model should give 30 texts more than one label"
    records = emf_records(capsys.readouterr().out)
    assert len(records) == len(labels)

    first, *others = records
    assert metric_dimensions(first) == {
        "Requests": [SP, [*SP, "StatusClass"]], "RequestLatency": [SP], "Overloaded": [SP], "InferenceTime": [SP],
        "TextsPerRequest": [SP], "QueueWait": [SP], "ColdStart": [SP], "Predictions": [[*SP, "Label"]],
        "Confidence": [SP, [*SP, "Label"]]}
    assert metric_units(first) == {
        "Requests": "Count", "RequestLatency": "Milliseconds", "Overloaded": "Count", "InferenceTime": "Milliseconds",
        "TextsPerRequest": "Count", "QueueWait": "Milliseconds", "ColdStart": "Count", "Predictions": "Count",
        "Confidence": "None"}
    assert (first["Service"], first["Platform"], first["StatusClass"]) == ("team-a-prod", "fargate", "2xx")
    assert (first["Requests"], first["Overloaded"], first["TextsPerRequest"], first["ColdStart"]) == (1, 0, 30, 1)
    assert first["RequestLatency"] >= first["InferenceTime"] > 0 and first["QueueWait"] >= 0
    for record in records:
        assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "MLInference"
        # Model version and request id are properties (searchable in the logs), never dimensions.
        assert record["ModelVersion"] == UNTRAINED_VERSION and record["RequestId"] == "req-7"
        for dimension_sets in metric_dimensions(record).values():
            assert all(d[:2] == SP and set(d) <= {*SP, "StatusClass", "Label"} for d in dimension_sets)
    for record in others:
        assert set(metric_dimensions(record)) == {"Predictions", "Confidence"}
    # Predictions per label, and every text's confidence under its label.
    assert {r["Label"]: r["Predictions"] for r in records} == {
        label: sum(p["label"] == label for p in predictions) for label in labels}
    for record in records:
        expected = [round(p["confidence"], 4) for p in predictions if p["label"] == record["Label"]]
        assert record["Confidence"] == pytest.approx(expected, abs=1e-4)


def test_cold_start_is_the_first_prediction_of_the_process_only(make_app, capsys):
    with TestClient(make_app()) as client:
        for text in ("one", "two", "three"):
            client.post("/predict", json={"text": text})
    records = emf_records(capsys.readouterr().out)
    load, *requests = records
    assert set(metric_dimensions(load)) == {"ModelLoadTime"} and load["ModelLoadTime"] > 0
    assert metric_dimensions(load)["ModelLoadTime"] == [SP] and load["ModelVersion"] == UNTRAINED_VERSION
    assert [r.get("ColdStart") for r in requests] == [1, None, None]
    assert [r["TextsPerRequest"] for r in requests] == [1, 1, 1]


@pytest.mark.parametrize(
    ("request_", "status_class", "status"),
    [
        ({"json": {"text": ""}}, "4xx", 422),
        ({"content": b"{broken", "headers": {"content-type": "application/json"}}, "4xx", 400),
        ({"content": b"x" * 2_000_000, "headers": {"content-type": "application/json"}}, "4xx", 413),
        ({"content": b"hi", "headers": {"content-type": "text/plain; charset=punycode"}}, "4xx", 415),
    ],
    ids=["empty-text", "invalid-json", "too-large", "charset"],
)
def test_refused_requests_count_by_status_class_without_predictions(client, capsys, request_, status_class, status):
    capsys.readouterr()
    assert client.post("/predict", **request_).status_code == status
    (record,) = emf_records(capsys.readouterr().out)
    assert set(metric_dimensions(record)) == {"Requests", "RequestLatency", "Overloaded"}
    assert (record["StatusClass"], record["StatusCode"], record["Endpoint"]) == (status_class, status, "/predict")


def test_probes_scrapes_and_unknown_paths_are_not_traffic(client, capsys):
    capsys.readouterr()
    for path in ("/health", "/ping", "/metrics", "/openapi.json", "/nope"):
        client.get(path)
    assert emf_records(capsys.readouterr().out) == []


def test_an_overloaded_refusal_is_counted_as_such(make_app, capsys):
    fake = FakeClassifier()
    app = make_app(fake, queue_max_texts=1)
    capsys.readouterr()
    refused, _ = overload_once(app, fake)
    assert refused.status_code == 503
    records = {r["StatusCode"]: r for r in emf_records(capsys.readouterr().out)}
    assert records[503]["Overloaded"] == 1 and records[503]["StatusClass"] == "5xx"
    assert records[503]["Endpoint"] == "/invocations" and records[200]["Overloaded"] == 0


def test_the_lambda_counts_an_unsupported_event_as_a_4xx_request():
    stream = io.StringIO()
    metrics = ServiceMetrics(Settings(platform="lambda", metrics_service="svc"), stream=stream)
    metrics.observe_unsupported_event("aws-req-1", "v3")
    (record,) = emf_records(stream.getvalue())
    assert metric_dimensions(record) == {"Requests": [SP, [*SP, "StatusClass"]]}
    assert (record["Service"], record["Platform"], record["StatusClass"], record["RequestId"]) == (
        "svc", "lambda", "4xx", "aws-req-1")


def test_lines_stay_few_on_big_batches():
    """150 texts of one label: two records (100 values at most per metric), not 150 lines."""
    metrics = ServiceMetrics(Settings(), frozenset({"/predict/batch"}))
    records = metrics.request_records("/predict/batch", 200, 0.5,
                                      outcome=Outcome(["POSITIVE"] * 150, [0.75] * 150, 40.0, 3.0))
    assert [r.get("Predictions") for r in records] == [100, 50]
    assert [len(r["Confidence"]) for r in records] == [100, 50]
    assert records[0]["TextsPerRequest"] == 150 and "Requests" not in records[1]


def test_emf_metrics_can_be_turned_off(make_app, capsys):
    with TestClient(make_app(emf_metrics=False)) as client:
        client.post("/predict", json={"text": "one"})
    assert '"_aws"' not in capsys.readouterr().out


# ---------------------------------------------------------------- Prometheus in step


def test_prometheus_counts_status_classes_labels_confidence_and_queue_wait(make_app):
    with TestClient(make_app()) as client:
        answers = client.post("/predict/batch", json={"texts": ["a b", "c d e", "f"]}).json()["predictions"]
        client.post("/predict", json={"text": ""})
        client.get("/health")
        text = client.get("/metrics").text
    assert 'inference_prediction_requests_total{status_class="2xx"} 1.0' in text
    assert 'inference_prediction_requests_total{status_class="4xx"} 1.0' in text
    for label in {a["label"] for a in answers}:
        count = sum(a["label"] == label for a in answers)
        assert f'inference_predictions_total{{label="{label}"}} {float(count)}' in text
        assert f'inference_confidence_count{{label="{label}"}} {float(count)}' in text
    assert "inference_queue_wait_seconds_count 1.0" in text
