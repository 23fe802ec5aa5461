"""CloudWatch Embedded Metric Format (EMF) records: one JSON log line carrying several metrics.

Written here rather than with Powertools' metrics: its records have one metric directive, so
every metric of a line shares every dimension set, while one request's line here holds
``Requests`` by [Service, Platform] and [Service, Platform, StatusClass] next to
``RequestLatency`` by [Service, Platform] only; and its ``Metrics`` class keeps its metric set
in shared state, which concurrent requests of one server would mix. The format:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Limits of the format: dimensions in one set, metrics in one directive, values in one metric.
MAX_DIMENSIONS = 30
MAX_METRICS = 100
MAX_VALUES = 100
UNITS = frozenset({"Milliseconds", "Count", "None", "Seconds", "Percent", "Bytes"})


@dataclass(frozen=True)
class Metric:
    """One metric of a record: a value (or up to 100 values) and the dimension sets it is kept by."""

    name: str
    unit: str
    value: float | Sequence[float]
    dimension_sets: tuple[tuple[str, ...], ...]


def record(namespace: str, metrics: Sequence[Metric], fields: Mapping[str, object],
           timestamp_ms: int | None = None) -> dict:
    """The EMF object for ``metrics``: ``fields`` holds every dimension's value and any other
    property (searchable in CloudWatch Logs, not a dimension). One directive per distinct
    group of dimension sets. Raises ValueError for what CloudWatch would reject or drop."""
    if not metrics:
        raise ValueError("an EMF record needs at least one metric")
    directives: dict[tuple[tuple[str, ...], ...], list[dict]] = {}
    values: dict[str, object] = {}
    for metric in metrics:
        if metric.unit not in UNITS:
            raise ValueError(f"unit {metric.unit!r} of {metric.name} is not a CloudWatch unit this service uses")
        if metric.name in values or metric.name in fields:
            raise ValueError(f"{metric.name} appears twice in one record")
        for dimensions in metric.dimension_sets:
            if len(dimensions) > MAX_DIMENSIONS:
                raise ValueError(f"{metric.name}: more than {MAX_DIMENSIONS} dimensions in one set")
            missing = [name for name in dimensions if not isinstance(fields.get(name), str) or not fields[name]]
            if missing:
                raise ValueError(f"{metric.name}: dimensions without a string value: {missing}")
        value = metric.value
        if isinstance(value, (list, tuple)):
            if not 0 < len(value) <= MAX_VALUES:
                raise ValueError(f"{metric.name}: 1 to {MAX_VALUES} values per record, not {len(value)}")
            value = [float(v) for v in value]
        else:
            value = float(value)  # type: ignore[arg-type]
        values[metric.name] = value
        directives.setdefault(metric.dimension_sets, []).append({"Name": metric.name, "Unit": metric.unit})
    cloudwatch_metrics = []
    for dimension_sets, definitions in directives.items():
        for start in range(0, len(definitions), MAX_METRICS):
            cloudwatch_metrics.append({"Namespace": namespace, "Dimensions": [list(d) for d in dimension_sets],
                                       "Metrics": definitions[start:start + MAX_METRICS]})
    timestamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    return {"_aws": {"Timestamp": timestamp, "CloudWatchMetrics": cloudwatch_metrics}, **fields, **values}


def line(emf_record: dict) -> str:
    """The record as one compact JSON line, as CloudWatch Logs reads it."""
    return json.dumps(emf_record, separators=(",", ":"), allow_nan=False)


def chunks(values: Sequence[float], size: int = MAX_VALUES) -> list[Sequence[float]]:
    """``values`` in pieces a record can hold."""
    return [values[start:start + size] for start in range(0, len(values), size)] or [values]
