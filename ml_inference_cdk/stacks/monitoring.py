"""The stage's observability settings as the constructs' props (one place for every target stack)."""

from __future__ import annotations

from typing import Optional

from aws_cdk import Duration

from ..config import StageConfig
from ..constructs._service_metrics import DriftCheck, ServiceMonitoring
from ..constructs._tracing import TraceCollector


def service_monitoring(config: StageConfig) -> ServiceMonitoring:
    """The service alarms' thresholds and the drift check of `config`'s stage."""
    return ServiceMonitoring(
        p99_latency=Duration.millis(config.alarm_p99_latency_ms),
        error_rate_percent=config.alarm_error_rate_percent,
        drift=DriftCheck(
            labels=config.model_labels,
            label_share_percent=config.drift_label_share_percent,
            min_mean_confidence=config.drift_min_mean_confidence,
            min_predictions=config.drift_min_predictions,
            period=Duration.minutes(config.drift_period_minutes),
        ),
    )


def trace_collector(config: StageConfig) -> Optional[TraceCollector]:
    """The tracing sidecar of Fargate and EKS in `config`'s stage, or None where tracing is off."""
    return TraceCollector() if config.tracing else None


__all__ = ["service_monitoring", "trace_collector"]
