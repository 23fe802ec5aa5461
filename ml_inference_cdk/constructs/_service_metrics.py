"""The service's own metrics (EMF, the same on every target): what a construct tells the container,
what its `metric_*` helpers read, and what its service alarms watch.

The container (inference/app) writes CloudWatch Embedded Metric Format lines to stdout: namespace
`METRICS_NAMESPACE`, dimensions `Service` (`METRICS_SERVICE`) and `Platform` (`PLATFORM`), plus
`StatusClass` on `Requests` and `Label` on `Predictions` and `Confidence`. Each construct sets a
`Service` value of its own (its stack's name, then its path), so two deployments in one account
never mix their metrics.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

DEFAULT_METRICS_NAMESPACE = "MLInference"
#: The labels of the default model (distilbert-base-uncased-finetuned-sst-2-english).
DEFAULT_LABELS = ("NEGATIVE", "POSITIVE")
#: The environment variables a construct owns: alarms and dashboards read what they say.
RESERVED_ENVIRONMENT = ("METRICS_NAMESPACE", "METRICS_SERVICE")
# A CloudWatch alarm on metric math may use at most 10 metrics: the labels, and room for none else.
_MAX_LABELS = 10
_NAMESPACE = re.compile(r"^[^:][^:]{0,254}$")


@dataclasses.dataclass(frozen=True)
class DriftCheck:
    """A first-line drift signal from the service's answers: the share of each label, and the
    mean confidence, over `period`.

    A label whose share of the predictions leaves `label_share_percent` (low, high), or a mean
    confidence below `min_mean_confidence`, in two of three periods raises an alarm. Periods with
    fewer than `min_predictions` predictions are not judged (too few to mean anything).
    `labels=()` keeps the confidence alarm only; `min_mean_confidence=None` drops it.
    """

    labels: Sequence[str] = DEFAULT_LABELS
    label_share_percent: tuple[float, float] = (10.0, 90.0)
    min_mean_confidence: Optional[float] = 0.7
    min_predictions: int = 50
    period: Duration = dataclasses.field(default_factory=lambda: Duration.hours(1))

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))
        if len(set(self.labels)) != len(self.labels) or any(not label for label in self.labels):
            raise ValueError(f"drift labels must be distinct, non-empty names, got {list(self.labels)}")
        if len(self.labels) > _MAX_LABELS:
            raise ValueError(f"a drift check watches at most {_MAX_LABELS} labels (CloudWatch's metric math limit)")
        ids = [alarm_id_part(label) for label in self.labels]
        if len(set(ids)) != len(ids) or not all(ids):
            raise ValueError(f"drift labels must differ in their letters and digits, got {list(self.labels)}")
        low, high = self.label_share_percent
        if not 0 <= low < high <= 100:
            raise ValueError(f"label_share_percent must be (low, high) with 0 <= low < high <= 100, got {(low, high)}")
        if self.min_mean_confidence is not None and not 0 < self.min_mean_confidence < 1:
            raise ValueError(f"min_mean_confidence must be between 0 and 1, got {self.min_mean_confidence}")
        if self.min_predictions < 1:
            raise ValueError(f"min_predictions must be at least 1, got {self.min_predictions}")
        seconds = self.period.to_seconds()
        if seconds % 60 or not 5 * 60 <= seconds <= 24 * 3600:
            raise ValueError("the drift period must be whole minutes between 5 minutes and one day")


@dataclasses.dataclass(frozen=True)
class ServiceMonitoring:
    """The service's metrics and the alarms every target raises on them.

    `p99_latency`: the p99 RequestLatency (what the service measured, per request) that raises the
    latency alarm. `error_rate_percent`: the share of requests answered 5xx that raises the error
    alarm. `drift`: the drift check (None: no drift alarms).
    """

    namespace: str = DEFAULT_METRICS_NAMESPACE
    p99_latency: Duration = dataclasses.field(default_factory=lambda: Duration.seconds(1))
    error_rate_percent: float = 5.0
    drift: Optional[DriftCheck] = dataclasses.field(default_factory=DriftCheck)

    def __post_init__(self) -> None:
        if not _NAMESPACE.match(self.namespace) or self.namespace.startswith("AWS/"):
            raise ValueError(f"namespace {self.namespace!r} is not a custom CloudWatch namespace: 1-255 characters, no ':', not AWS/")
        if not 0 < self.error_rate_percent <= 100:
            raise ValueError(f"error_rate_percent must be above 0 and at most 100, got {self.error_rate_percent}")
        if self.p99_latency.to_milliseconds() < 1:
            raise ValueError("p99_latency must be at least 1 millisecond")


class ServiceMetrics:
    """The EMF metrics of one deployment: `namespace`, and the `Service` and `Platform` dimensions."""

    def __init__(self, *, namespace: str, service: str, platform: str, labels: Sequence[str] = DEFAULT_LABELS) -> None:
        #: The CloudWatch namespace.
        self.namespace = namespace
        #: The `Service` dimension: this deployment's own.
        self.service = service
        #: The `Platform` dimension (lambda, fargate, eks, sagemaker).
        self.platform = platform
        #: The labels the label-share metrics cover.
        self.labels = tuple(labels)

    @classmethod
    def of(cls, construct: Construct, *, platform: str, monitoring: ServiceMonitoring) -> "ServiceMetrics":
        """The metrics of `construct`: its Service is its stack's name, then its path in the stack."""
        drift = monitoring.drift
        return cls(
            namespace=monitoring.namespace,
            service=service_name(construct),
            platform=platform,
            labels=drift.labels if drift is not None else DEFAULT_LABELS,
        )

    def environment(self) -> dict[str, str]:
        """What the container needs to emit these metrics (PLATFORM is the construct's own)."""
        return {"METRICS_NAMESPACE": self.namespace, "METRICS_SERVICE": self.service}

    def metric(self, metric_name: str, *, dimensions: Optional[Mapping[str, str]] = None, **options: Any) -> cloudwatch.Metric:
        """Any of the service's metrics, with the extra `dimensions` (StatusClass, Label) given."""
        return cloudwatch.Metric(
            namespace=self.namespace,
            metric_name=metric_name,
            dimensions_map={"Service": self.service, "Platform": self.platform, **(dimensions or {})},
            **options,
        )

    def request_latency(self, **options: Any) -> cloudwatch.Metric:
        """Time to answer a request, in ms, as the service measured it (p99 by default)."""
        return self.metric("RequestLatency", **{"statistic": "p99", **options})

    def requests(self, status_class: Optional[str] = None, **options: Any) -> cloudwatch.Metric:
        """Requests answered (sum), all or of one status class ("2xx", "4xx", "5xx")."""
        dimensions = {"StatusClass": status_class} if status_class else None
        return self.metric("Requests", dimensions=dimensions, **{"statistic": "Sum", **options})

    def error_rate(self, *, period: Optional[Duration] = None, id_prefix: Optional[str] = None, label: Optional[str] = None) -> cloudwatch.MathExpression:
        """Percent of requests answered 5xx; 0 in periods without requests."""
        period = period or Duration.minutes(5)
        ids = self._ids(id_prefix, "requests", "errors")
        return cloudwatch.MathExpression(
            expression=_percent(f"FILL({ids['errors']}, 0)", ids["requests"]),
            using_metrics={ids["requests"]: self.requests(period=period), ids["errors"]: self.requests("5xx", period=period)},
            label=label or "5xx error rate (%)",
            period=period,
        )

    def predictions(self, label: str, **options: Any) -> cloudwatch.Metric:
        """Predictions of `label` (sum)."""
        return self.metric("Predictions", dimensions={"Label": label}, **{"statistic": "Sum", **options})

    def mean_confidence(self, label: Optional[str] = None, **options: Any) -> cloudwatch.Metric:
        """Mean confidence of the predictions (of one label, if given)."""
        dimensions = {"Label": label} if label else None
        return self.metric("Confidence", dimensions=dimensions, **{"statistic": "Average", **options})

    def label_share(self, label: str, *, period: Optional[Duration] = None, id_prefix: Optional[str] = None) -> cloudwatch.MathExpression:
        """Percent of the predictions (of the watched labels) that were `label`; 0 without any."""
        share, _ = self._label_share(label, period or Duration.hours(1), id_prefix)
        return share

    def label_share_out_of_band(self, label: str, check: DriftCheck, *, id_prefix: Optional[str] = None) -> cloudwatch.MathExpression:
        """1 in a period with at least `check.min_predictions` predictions where `label`'s share is
        outside `check.label_share_percent`, else 0."""
        low, high = check.label_share_percent
        share, total = self._label_share(label, check.period, id_prefix)
        ids = self._ids(id_prefix, "share", "total")
        return cloudwatch.MathExpression(
            expression=f"IF({ids['total']} >= {check.min_predictions} AND "
            f"({ids['share']} < {low:g} OR {ids['share']} > {high:g}), 1, 0)",
            using_metrics={ids["share"]: share, ids["total"]: total},
            label=f"{label} share outside {low:g}-{high:g}%",
            period=check.period,
        )

    def guarded_mean_confidence(self, check: DriftCheck, *, id_prefix: Optional[str] = None) -> cloudwatch.MathExpression:
        """Mean confidence in periods with at least `check.min_predictions` samples, else 1."""
        ids = self._ids(id_prefix, "confidence", "samples")
        return cloudwatch.MathExpression(
            expression=f"IF({ids['samples']} >= {check.min_predictions}, {ids['confidence']}, 1)",
            using_metrics={
                ids["confidence"]: self.mean_confidence(period=check.period),
                ids["samples"]: self.metric("Confidence", statistic="SampleCount", period=check.period),
            },
            label="Mean confidence",
            period=check.period,
        )

    def _label_share(
        self, label: str, period: Duration, id_prefix: Optional[str]
    ) -> tuple[cloudwatch.MathExpression, cloudwatch.MathExpression]:
        """`label`'s share in percent, and the total of the watched labels' predictions."""
        if label not in self.labels:
            raise ValueError(f"label {label!r} is not one of the watched labels {list(self.labels)}")
        ids = self._ids(id_prefix, "total", *(f"count{index}" for index in range(len(self.labels))))
        counts = {ids[f"count{index}"]: self.predictions(name, period=period) for index, name in enumerate(self.labels)}
        total = cloudwatch.MathExpression(
            expression=" + ".join(f"FILL({metric_id}, 0)" for metric_id in counts),
            using_metrics=counts,
            label="Predictions",
            period=period,
        )
        count_id = ids[f"count{self.labels.index(label)}"]
        share = cloudwatch.MathExpression(
            expression=_percent(f"FILL({count_id}, 0)", ids["total"]),
            using_metrics={count_id: counts[count_id], ids["total"]: total},
            label=f"{label} share (%)",
            period=period,
        )
        return share, total

    def _ids(self, id_prefix: Optional[str], *names: str) -> dict[str, str]:
        # Ids must be unique in a graph that shows several deployments: prefix them per deployment.
        prefix = id_prefix if id_prefix is not None else re.sub(r"[^a-z0-9]", "", self.platform.lower()) or "svc"
        return {name: f"{prefix}_{name}" for name in names}


class ServiceMetricsMixin:
    """`metric_service(...)` and friends for a construct that sets `self.service_metrics`."""

    service_metrics: ServiceMetrics

    def metric_service(self, metric_name: str, **options: Any) -> cloudwatch.Metric:
        """Any of the service's own (EMF) metrics of this deployment (e.g. "ColdStart", "QueueWait";
        `dimensions={"StatusClass": "5xx"}` or `{"Label": ...}` where the metric has them)."""
        return self.service_metrics.metric(metric_name, **options)

    def metric_request_latency(self, **options: Any) -> cloudwatch.Metric:
        """Request latency in ms as the service measured it (p99 by default)."""
        return self.service_metrics.request_latency(**options)

    def metric_error_rate(self, **options: Any) -> cloudwatch.MathExpression:
        """Percent of requests the service answered 5xx (metric math over Requests)."""
        return self.service_metrics.error_rate(**options)

    def metric_label_share(self, label: str, **options: Any) -> cloudwatch.MathExpression:
        """Percent of the predictions that were `label` (metric math over Predictions per Label)."""
        return self.service_metrics.label_share(label, **options)

    def metric_mean_confidence(self, **options: Any) -> cloudwatch.Metric:
        """Mean confidence of the predictions."""
        return self.service_metrics.mean_confidence(**options)


def _percent(numerator: str, denominator: str) -> str:
    """100 * numerator / denominator, where a zero denominator gives 0 rather than a division by zero."""
    return f"100 * {numerator} / ({denominator} + IF({denominator} > 0, 0, 1))"


def service_name(construct: Construct) -> str:
    """`<stack name>-<construct path in the stack>`: unique per account and region."""
    stack = Stack.of(construct)
    path = construct.node.path[len(stack.node.path) + 1 :] if stack.node.path else construct.node.path
    return f"{stack.stack_name}-{path.replace('/', '-')}"


def check_environment(environment: Mapping[str, str]) -> None:
    """Refuse environment variables that would make the container's metrics disagree with the alarms."""
    for key in RESERVED_ENVIRONMENT:
        if key in environment:
            raise ValueError(f"environment variable {key} is set by the construct: use monitoring=ServiceMonitoring(...)")


def alarm_id_part(label: str) -> str:
    """A label as part of a construct id: its letters and digits, capitalised ("POSITIVE" -> "Positive")."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", label) if part)


__all__ = [
    "DEFAULT_LABELS",
    "DEFAULT_METRICS_NAMESPACE",
    "DriftCheck",
    "ServiceMetrics",
    "ServiceMetricsMixin",
    "ServiceMonitoring",
    "check_environment",
    "service_name",
]
