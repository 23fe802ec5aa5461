"""Structured logs (Powertools Logger), Prometheus metrics and CloudWatch EMF metrics."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import ProcessCollector

from .settings import Settings

SERVICE_NAME = "ml-inference"

# One JSON object per line on stdout; CloudWatch Logs, Fluent Bit and kubectl logs read it as is.
logger = Logger(service=SERVICE_NAME, level="INFO")

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServiceMetrics:
    """The service's metrics. Each app gets its own Prometheus registry (tests build many apps)."""

    def __init__(self, settings: Settings) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter("inference_requests", "HTTP requests answered.", ["endpoint", "status"],
                                registry=self.registry)
        self.latency = Histogram("inference_request_duration_seconds", "Time to answer a request.",
                                 ["endpoint", "status"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("inference_batch_size", "Texts per prediction request.", ["endpoint"],
                                    buckets=_BATCH_BUCKETS, registry=self.registry)
        self.model_load_seconds = Gauge("inference_model_load_seconds", "Time to load and warm up the model.",
                                        registry=self.registry)
        self.in_flight = Gauge("inference_requests_in_flight", "Requests being answered now.", registry=self.registry)
        self.model_info = Gauge("inference_model_info", "The loaded model (value is always 1).",
                                ["model_version", "platform"], registry=self.registry)
        self.forward_texts = Histogram("inference_forward_batch_texts", "Texts per forward pass of the batcher.",
                                       buckets=_BATCH_BUCKETS, registry=self.registry)
        self.forward_tokens = Histogram("inference_forward_padded_tokens", "Padded tokens per forward pass.",
                                        buckets=(16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192),
                                        registry=self.registry)
        self.padding = Counter("inference_padding_tokens", "Pad tokens computed by forward passes (waste).",
                               registry=self.registry)
        self.forward_seconds = Histogram("inference_forward_seconds", "Duration of one forward pass.",
                                         buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.queue_texts = Gauge("inference_queue_texts", "Texts accepted and not yet answered.",
                                 registry=self.registry)
        self.overloaded = Counter("inference_overloaded", "Requests refused at once because the queue was full.",
                                  ["reason"], registry=self.registry)
        self._platform = settings.platform
        self._namespace = settings.metrics_namespace
        self._emf = settings.emf_metrics
        self._cold = True

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint, str(status)).observe(seconds)

    def observe_model_loaded(self, model_version: str, seconds: float) -> None:
        self.model_load_seconds.set(seconds)
        self.model_info.labels(model_version, self._platform).set(1)
        self._emit("ModelLoadTime", MetricUnit.Milliseconds, seconds * 1000, model_version)

    def observe_forward_pass(self, texts: int, tokens: int, padded_tokens: int, seconds: float) -> None:
        self.forward_texts.observe(texts)
        self.forward_tokens.observe(padded_tokens)
        self.padding.inc(padded_tokens - tokens)
        self.forward_seconds.observe(seconds)

    def observe_inference(self, endpoint: str, batch_size: int, milliseconds: float, model_version: str) -> None:
        self.batch_size.labels(endpoint).observe(batch_size)
        if self._cold:
            # The first prediction of this process (a Lambda execution environment, a task, a pod).
            self._cold = False
            self._emit("ColdStart", MetricUnit.Count, 1, model_version)
        self._emit("InferenceTime", MetricUnit.Milliseconds, milliseconds, model_version)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def _emit(self, name: str, unit: MetricUnit, value: float, model_version: str) -> None:
        if not self._emf:
            return
        dimensions = {"Platform": self._platform, "ModelVersion": model_version}
        # single_metric prints one EMF line on exit and shares no state between threads.
        with single_metric(name=name, unit=unit, value=value, namespace=self._namespace,
                           default_dimensions=dimensions):
            pass
