"""OpenTelemetry tracing: off by default; when on, a request emits a server span with the request id
and the model version, X-Ray-compatible ids, and an incoming X-Ray header continues its trace."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from inference.app.dev_model import UNTRAINED_VERSION
from inference.app.main import create_app
from inference.app.settings import Settings
from inference.app.tracing import tracing_enabled


@pytest.fixture
def traced(settings, classifier):
    exporter = InMemorySpanExporter()
    app = create_app(settings, loader=lambda _: classifier, load_on_startup=False, span_exporter=exporter)
    app.state.service.load()
    with TestClient(app) as client:
        yield client, exporter


def server_spans(exporter: InMemorySpanExporter) -> list:
    return [span for span in exporter.get_finished_spans() if span.kind.name == "SERVER"]


def test_a_request_emits_a_span_with_the_request_id_and_model_version(traced, log_lines):
    client, exporter = traced
    response = client.post("/predict", json={"text": "trace me"}, headers={"x-request-id": "trace-req-1"})
    assert response.status_code == 200
    (span,) = server_spans(exporter)
    assert span.name == "POST /predict"
    assert span.attributes["request_id"] == "trace-req-1"
    assert span.attributes["model_version"] == UNTRAINED_VERSION
    assert 200 in (span.attributes.get("http.response.status_code"), span.attributes.get("http.status_code"))
    # X-Ray trace ids start with the epoch seconds; the request log line names the trace.
    trace_id = f"{span.context.trace_id:032x}"
    assert abs(int(trace_id[:8], 16) - time.time()) < 600
    line = next(line for line in log_lines() if line["message"] == "request")
    assert line["trace_id"] == f"1-{trace_id[:8]}-{trace_id[8:]}"
    assert span.resource.attributes["service.name"] == "ml-inference"


def test_probes_and_scrapes_are_not_traced(traced):
    client, exporter = traced
    for path in ("/health", "/ping", "/metrics"):
        assert client.get(path).status_code == 200
    assert server_spans(exporter) == []


def test_an_x_ray_header_from_the_load_balancer_continues_its_trace(traced):
    client, exporter = traced
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    client.post("/predict", json={"text": "from the ALB"}, headers={"x-amzn-trace-id": header})
    (span,) = server_spans(exporter)
    assert f"{span.context.trace_id:032x}" == "5759e988bd862e3fe1be46a994272793"
    assert f"{span.parent.span_id:016x}" == "53995c3f42cd8ad8"


def test_tracing_is_off_by_default_and_follows_the_documented_switches(settings):
    app = create_app(settings, load_on_startup=False)
    assert not app.state.tracing.enabled
    assert not tracing_enabled(Settings(), {})
    assert tracing_enabled(Settings(tracing="otlp"), {})
    assert tracing_enabled(Settings(), {"OTEL_TRACES_EXPORTER": "otlp"})
    assert not tracing_enabled(Settings(tracing="off"), {"OTEL_TRACES_EXPORTER": "otlp"})
    assert not tracing_enabled(Settings(tracing="otlp"), {"OTEL_SDK_DISABLED": "true"})


def test_tracing_on_exports_over_otlp_http_to_the_collector(settings, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector.local:4318")
    app = create_app(settings.model_copy(update={"tracing": "otlp"}), load_on_startup=False)
    tracing = app.state.tracing
    assert tracing.enabled
    (processor,) = tracing.provider._active_span_processor._span_processors
    exporter = processor.span_exporter
    assert type(exporter).__module__ == "opentelemetry.exporter.otlp.proto.http.trace_exporter"
    assert exporter._endpoint == "http://collector.local:4318/v1/traces"
    tracing.shutdown()
