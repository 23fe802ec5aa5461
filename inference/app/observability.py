"""Structured logs (Powertools Logger), Prometheus metrics, and the CloudWatch EMF metrics that
dashboards and alarms read on every target (the contract: inference/README.md, "Metrics contract")."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from aws_lambda_powertools import Logger
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import ProcessCollector

from . import emf
from .settings import Settings

SERVICE_NAME = "ml-inference"

# One JSON object per line on stdout; CloudWatch Logs, Fluent Bit and kubectl logs read it as is.
logger = Logger(service=SERVICE_NAME, level="INFO")

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_CONFIDENCE_BUCKETS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)

# The EMF dimension sets. Every metric is kept by Service and Platform; a few also by one more
# dimension of a small, bounded set (a status class, a label of the model's id2label).
BY_SERVICE = (("Service", "Platform"),)
BY_STATUS = (("Service", "Platform"), ("Service", "Platform", "StatusClass"))
BY_LABEL = (("Service", "Platform", "Label"),)
BY_SERVICE_AND_LABEL = (("Service", "Platform"), ("Service", "Platform", "Label"))


@dataclass(frozen=True)
class Outcome:
    """What a prediction request answered: one label and confidence per text, and its times."""

    labels: Sequence[str]
    confidences: Sequence[float]
    inference_ms: float
    queue_ms: float | None = None  # None: not queued (no batcher, Lambda)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class ServiceMetrics:
    """The service's metrics. Each app gets its own Prometheus registry (tests build many apps).

    ``prediction_paths``: the endpoints whose requests the EMF metrics and the status-class
    counter count (probes, scrapes, docs and unknown paths are not traffic to alarm on).
    """

    def __init__(self, settings: Settings, prediction_paths: frozenset[str] = frozenset(),
                 stream: TextIO | None = None) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter("inference_requests", "HTTP requests answered.", ["endpoint", "status"],
                                registry=self.registry)
        self.latency = Histogram("inference_request_duration_seconds", "Time to answer a request.",
                                 ["endpoint", "status"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.prediction_requests = Counter("inference_prediction_requests", "Prediction requests answered, by "
                                           "status class (EMF Requests).", ["status_class"], registry=self.registry)
        self.batch_size = Histogram("inference_batch_size", "Texts per prediction request.", ["endpoint"],
                                    buckets=_BATCH_BUCKETS, registry=self.registry)
        self.predictions = Counter("inference_predictions", "Texts classified, by predicted label.", ["label"],
                                   registry=self.registry)
        self.confidence = Histogram("inference_confidence", "Probability of the predicted label.", ["label"],
                                    buckets=_CONFIDENCE_BUCKETS, registry=self.registry)
        self.queue_wait = Histogram("inference_queue_wait_seconds", "Time a request waited in the batcher's queue.",
                                    buckets=_LATENCY_BUCKETS, registry=self.registry)
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
        self.prediction_paths = prediction_paths
        self._platform = settings.platform
        self._namespace = settings.metrics_namespace
        self._dimensions = {"Service": settings.metrics_service, "Platform": settings.platform}
        self._emf = settings.emf_metrics
        self._stream = stream
        self._write_lock = threading.Lock()
        self._cold = True

    # ------------------------------------------------------------ observations

    def observe_request(self, endpoint: str, status: int, seconds: float, *, outcome: Outcome | None = None,
                        overloaded: bool = False, request_id: str | None = None,
                        model_version: str | None = None) -> None:
        """One answered request (the middleware calls this for every one)."""
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint, str(status)).observe(seconds)
        if endpoint not in self.prediction_paths:
            return
        self.prediction_requests.labels(status_class(status)).inc()
        if outcome is not None:
            self.batch_size.labels(endpoint).observe(len(outcome.labels))
            for label, confidence in zip(outcome.labels, outcome.confidences, strict=True):
                self.predictions.labels(label).inc()
                self.confidence.labels(label).observe(confidence)
            if outcome.queue_ms is not None:
                self.queue_wait.observe(outcome.queue_ms / 1000)
        cold = self._cold and outcome is not None
        if cold:
            self._cold = False  # the first prediction of this process (a Lambda environment, a task, a pod)
        self._write(self.request_records(endpoint, status, seconds, outcome=outcome, overloaded=overloaded,
                                         cold_start=cold, request_id=request_id, model_version=model_version))

    def observe_unsupported_event(self, request_id: str | None, model_version: str | None) -> None:
        """A Lambda event that is not an HTTP request: a 4xx request, for the same error rates."""
        self.prediction_requests.labels("4xx").inc()
        self._write([emf.record(self._namespace, [emf.Metric("Requests", "Count", 1, BY_STATUS)], {
            **self._dimensions, "StatusClass": "4xx", "Endpoint": "unsupported_event", "StatusCode": 400,
            **self._properties(request_id, model_version)})])

    def observe_model_loaded(self, model_version: str, seconds: float) -> None:
        self.model_load_seconds.set(seconds)
        self.model_info.labels(model_version, self._platform).set(1)
        self._write([emf.record(self._namespace, [emf.Metric("ModelLoadTime", "Milliseconds", seconds * 1000,
                                                             BY_SERVICE)],
                                {**self._dimensions, **self._properties(None, model_version)})])

    def observe_forward_pass(self, texts: int, tokens: int, padded_tokens: int, seconds: float) -> None:
        self.forward_texts.observe(texts)
        self.forward_tokens.observe(padded_tokens)
        self.padding.inc(padded_tokens - tokens)
        self.forward_seconds.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    # ------------------------------------------------------------ EMF

    def request_records(self, endpoint: str, status: int, seconds: float, *, outcome: Outcome | None = None,
                        overloaded: bool = False, cold_start: bool = False, request_id: str | None = None,
                        model_version: str | None = None) -> list[dict]:
        """The EMF records of one request: one, plus one per further label its texts got (and per
        100 texts of one label). The first label's predictions ride in the request's own record."""
        metrics = [
            emf.Metric("Requests", "Count", 1, BY_STATUS),
            emf.Metric("RequestLatency", "Milliseconds", seconds * 1000, BY_SERVICE),
            emf.Metric("Overloaded", "Count", 1 if overloaded else 0, BY_SERVICE),
        ]
        fields: dict[str, object] = {**self._dimensions, "StatusClass": status_class(status), "Endpoint": endpoint,
                                     "StatusCode": status, **self._properties(request_id, model_version)}
        groups: list[tuple[str, Sequence[float]]] = []
        if outcome is not None:
            metrics += [emf.Metric("InferenceTime", "Milliseconds", outcome.inference_ms, BY_SERVICE),
                        emf.Metric("TextsPerRequest", "Count", len(outcome.labels), BY_SERVICE)]
            if outcome.queue_ms is not None:
                metrics.append(emf.Metric("QueueWait", "Milliseconds", outcome.queue_ms, BY_SERVICE))
            if cold_start:
                metrics.append(emf.Metric("ColdStart", "Count", 1, BY_SERVICE))
            by_label: dict[str, list[float]] = {}
            for label, confidence in zip(outcome.labels, outcome.confidences, strict=True):
                by_label.setdefault(label, []).append(round(confidence, 4))
            groups = [(label, chunk) for label, values in by_label.items() for chunk in emf.chunks(values)]
        records = []
        for index, (label, confidences) in enumerate(groups or [(None, ())]):
            label_metrics = [] if label is None else [
                emf.Metric("Predictions", "Count", len(confidences), BY_LABEL),
                emf.Metric("Confidence", "None", list(confidences), BY_SERVICE_AND_LABEL)]
            if index == 0:
                record_fields = fields if label is None else {**fields, "Label": label}
                records.append(emf.record(self._namespace, metrics + label_metrics, record_fields))
            else:
                records.append(emf.record(self._namespace, label_metrics, {
                    **self._dimensions, "Label": label, **self._properties(request_id, model_version)}))
        return records

    def _properties(self, request_id: str | None, model_version: str | None) -> dict[str, str]:
        """Searchable in CloudWatch Logs; never dimensions (unbounded values)."""
        properties = {"ModelVersion": model_version or "unknown"}
        if request_id:
            properties["RequestId"] = request_id
        return properties

    def _write(self, records: list[dict]) -> None:
        if not self._emf:
            return
        text = "".join(emf.line(record) + "\n" for record in records)
        stream = self._stream or sys.stdout
        with self._write_lock:  # whole lines: requests end on the event loop, model loads on a thread
            stream.write(text)
            stream.flush()
