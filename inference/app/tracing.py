"""OpenTelemetry tracing of the FastAPI app, for the server targets (Fargate, EKS).

Off by default. On with ``TRACING=otlp`` (or the standard ``OTEL_TRACES_EXPORTER=otlp``;
``OTEL_SDK_DISABLED=true`` turns it off whatever else says): one server span per request
(probes and scrapes excluded), with the request id and the model version as attributes, sent
over OTLP/HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (default ``http://localhost:4318``: the AWS
Distro for OpenTelemetry collector beside the task or on the node, which exports to X-Ray).
Trace ids are X-Ray's (epoch seconds first), and an ``X-Amzn-Trace-Id`` header from the load
balancer continues its trace. The other ``OTEL_*`` variables of the SDK apply as usual
(``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``,
``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_PROPAGATORS``). Lambda stays on X-Ray's own tracing.

Nothing of the SDK is imported while tracing is off: no cost on the cold start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

#: Not traced: load balancer and orchestrator probes, Prometheus scrapes (regexes on the URL).
EXCLUDED_URLS = "/health$,/ping$,/metrics$"
#: The span attributes this service adds.
REQUEST_ID_ATTRIBUTE = "request_id"
MODEL_VERSION_ATTRIBUTE = "model_version"


def tracing_enabled(settings: Settings, environ: Mapping[str, str] = os.environ) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if settings.tracing is not None:
        return settings.tracing == "otlp"
    return environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "otlp"


class Tracing:
    """The app's tracing: ``annotate`` marks the current request's span (a no-op when off)."""

    def __init__(self, provider: Any = None) -> None:
        self.provider = provider

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def annotate(self, request_id: str, model_version: str | None) -> str | None:
        """Put the request id and model version on the current span; its X-Ray trace id, for the log."""
        if self.provider is None:
            return None
        from opentelemetry import trace

        span = trace.get_current_span()
        if not span.is_recording():
            return None
        span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
        if model_version:
            span.set_attribute(MODEL_VERSION_ATTRIBUTE, model_version)
        trace_id = f"{span.get_span_context().trace_id:032x}"
        return f"1-{trace_id[:8]}-{trace_id[8:]}"

    def shutdown(self) -> None:
        """Send what is buffered (server shutdown)."""
        if self.provider is not None:
            self.provider.shutdown()


def setup_tracing(app: FastAPI, settings: Settings, exporter: Any = None) -> Tracing:
    """Instrument ``app`` when tracing is on; ``exporter`` (a SpanExporter, e.g. in-memory for
    tests) turns it on and replaces OTLP."""
    if exporter is None and not tracing_enabled(settings):
        return Tracing()
    from opentelemetry import propagate, trace
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.propagators.aws import AwsXRayPropagator
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override these.
    resource = Resource.create({"service.name": settings.metrics_service, "ml_inference.platform": settings.platform})
    provider = TracerProvider(resource=resource, id_generator=AwsXRayIdGenerator())
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    if not os.environ.get("OTEL_PROPAGATORS"):
        # W3C from other services, X-Ray's header from an ALB or API Gateway.
        propagate.set_global_textmap(CompositePropagator(
            [TraceContextTextMapPropagator(), W3CBaggagePropagator(), AwsXRayPropagator()]))
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)  # once per process: for any span code adds later
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, exclude_spans=["receive", "send"],
        excluded_urls=os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", EXCLUDED_URLS))
    return Tracing(provider)
