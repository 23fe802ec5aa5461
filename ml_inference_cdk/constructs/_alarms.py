"""The one alarm factory every construct uses, the service alarms every target raises on its own
(EMF) metrics, roll-ups, and the topic alarms notify by default."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from ._service_metrics import ServiceMetrics, ServiceMonitoring, alarm_id_part

_Op = cloudwatch.ComparisonOperator


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """How an alarm judges its metric: the comparison, how many periods, what missing data means."""

    comparison: cloudwatch.ComparisonOperator
    evaluation_periods: int = 1
    datapoints_to_alarm: Optional[int] = None
    treat_missing_data: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING


#: Any period at or above the threshold: errors, throttles, 5xx, restarts.
SPIKE = Evaluation(_Op.GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
#: Two of three periods above the threshold: latency percentiles.
SUSTAINED = Evaluation(_Op.GREATER_THAN_THRESHOLD, evaluation_periods=3, datapoints_to_alarm=2)
#: Two of three periods at or above the threshold: unhealthy hosts.
SUSTAINED_AT_LEAST = Evaluation(_Op.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, evaluation_periods=3, datapoints_to_alarm=2)
#: Three periods in a row above the threshold: saturation that autoscaling should have fixed.
SATURATED = Evaluation(_Op.GREATER_THAN_THRESHOLD, evaluation_periods=3)
#: Three of five periods below the threshold, and no data counts as below: too few replicas.
SHORTFALL = Evaluation(
    _Op.LESS_THAN_THRESHOLD,
    evaluation_periods=5,
    datapoints_to_alarm=3,
    treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
)
#: Two of three periods below the threshold: a quality floor (mean confidence).
SUSTAINED_BELOW = Evaluation(_Op.LESS_THAN_THRESHOLD, evaluation_periods=3, datapoints_to_alarm=2)

#: The keys of drift alarms start with this: they roll up apart from the health alarms.
DRIFT_ALARM_KEY_PREFIX = "drift_"


def new_alarm(
    scope: Construct,
    construct_id: str,
    *,
    description: str,
    metric: cloudwatch.IMetric,
    threshold: float,
    evaluation: Evaluation,
    alarm_name: Optional[str] = None,
) -> cloudwatch.Alarm:
    """An alarm on `metric` judged by `evaluation` (one of the module's presets)."""
    return cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_name=alarm_name,
        alarm_description=description,
        metric=metric,
        threshold=threshold,
        evaluation_periods=evaluation.evaluation_periods,
        datapoints_to_alarm=evaluation.datapoints_to_alarm,
        comparison_operator=evaluation.comparison,
        treat_missing_data=evaluation.treat_missing_data,
    )


class AlarmSet:
    """Builds a construct's alarms, each notifying `topic` on ALARM and OK; `alarms` holds them by key."""

    def __init__(self, scope: Construct, topic: sns.ITopic) -> None:
        self._scope = scope
        self._action = cloudwatch_actions.SnsAction(topic)
        #: The alarms by key, in the order they were added.
        self.alarms: dict[str, cloudwatch.Alarm] = {}

    def add(self, key: str, construct_id: str, **props: Any) -> cloudwatch.Alarm:
        """`new_alarm(scope, construct_id, **props)`, notifying the topic, kept as `alarms[key]`."""
        alarm = new_alarm(self._scope, construct_id, **props)
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms[key] = alarm
        return alarm


def add_service_alarms(
    alarms: AlarmSet, metrics: ServiceMetrics, monitoring: ServiceMonitoring
) -> dict[str, cloudwatch.Alarm]:
    """The alarms every target raises on the service's own metrics, the same definitions on all four:
    p99 request latency, 5xx error rate and, with `monitoring.drift`, label shares and mean confidence.
    Returns them by key (service_p99_latency, service_error_rate, drift_label_share_<label>,
    drift_mean_confidence)."""
    five_minutes = Duration.minutes(5)
    added = {
        "service_p99_latency": alarms.add(
            "service_p99_latency",
            "ServiceP99LatencyAlarm",
            description=f"The service's p99 request latency ({metrics.platform}) is high",
            metric=metrics.request_latency(period=five_minutes),
            threshold=monitoring.p99_latency.to_milliseconds(),
            evaluation=SUSTAINED,
        ),
        "service_error_rate": alarms.add(
            "service_error_rate",
            "ServiceErrorRateAlarm",
            description=f"The service answers too many requests with 5xx ({metrics.platform})",
            metric=metrics.error_rate(period=five_minutes),
            threshold=monitoring.error_rate_percent,
            evaluation=SUSTAINED,
        ),
    }
    drift = monitoring.drift
    if drift is None:
        return added
    low, high = drift.label_share_percent
    for label in drift.labels:
        key = f"{DRIFT_ALARM_KEY_PREFIX}label_share_{label}"
        added[key] = alarms.add(
            key,
            f"DriftLabelShare{alarm_id_part(label)}Alarm",
            description=f"Drift: the share of {label} answers ({metrics.platform}) left {low:g}-{high:g}%",
            metric=metrics.label_share_out_of_band(label, drift),
            threshold=1,
            evaluation=SUSTAINED_AT_LEAST,
        )
    if drift.min_mean_confidence is not None:
        key = f"{DRIFT_ALARM_KEY_PREFIX}mean_confidence"
        added[key] = alarms.add(
            key,
            "DriftMeanConfidenceAlarm",
            description=f"Drift: the model's mean confidence ({metrics.platform}) fell below {drift.min_mean_confidence:g}",
            metric=metrics.guarded_mean_confidence(drift),
            threshold=drift.min_mean_confidence,
            evaluation=SUSTAINED_BELOW,
        )
    return added


def new_rollup(
    scope: Construct, construct_id: str, *, description: str, alarms: list[cloudwatch.IAlarm], topic: sns.ITopic
) -> cloudwatch.CompositeAlarm:
    """A composite alarm in ALARM while any of `alarms` is, notifying `topic` on ALARM and OK."""
    if not alarms:
        raise ValueError("a roll-up needs at least one alarm")
    rollup = cloudwatch.CompositeAlarm(
        scope,
        construct_id,
        alarm_description=description,
        alarm_rule=cloudwatch.AlarmRule.any_of(
            *(cloudwatch.AlarmRule.from_alarm(alarm, cloudwatch.AlarmState.ALARM) for alarm in alarms)
        ),
    )
    action = cloudwatch_actions.SnsAction(topic)
    rollup.add_alarm_action(action)
    rollup.add_ok_action(action)
    return rollup


def encrypted_alarm_topic(scope: Construct, removal_policy: RemovalPolicy) -> sns.Topic:
    """An SNS topic for alarms: KMS-encrypted with a rotating customer managed key, TLS only."""
    key = kms.Key(
        scope,
        "AlarmTopicKey",
        description="Encrypts the inference alarm topic",
        enable_key_rotation=True,
        removal_policy=removal_policy,
    )
    # CloudWatch alarms publish to encrypted topics only with a customer managed key they can use.
    key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
    return sns.Topic(scope, "AlarmTopic", master_key=key, enforce_ssl=True)


def check_thresholds(**thresholds: float) -> None:
    """Every alarm threshold given must be at least 1 (a count per period)."""
    for name, value in thresholds.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")


__all__ = [
    "AlarmSet",
    "DRIFT_ALARM_KEY_PREFIX",
    "Evaluation",
    "SATURATED",
    "SHORTFALL",
    "SPIKE",
    "SUSTAINED",
    "SUSTAINED_AT_LEAST",
    "SUSTAINED_BELOW",
    "add_service_alarms",
    "check_thresholds",
    "encrypted_alarm_topic",
    "new_alarm",
    "new_rollup",
]
