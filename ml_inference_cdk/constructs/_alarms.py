"""What every construct's alarms share."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


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


def notify_on_state_changes(topic: sns.ITopic, alarms: Iterable[cloudwatch.Alarm]) -> None:
    """Send every alarm's ALARM and OK transitions to `topic`."""
    action = cloudwatch_actions.SnsAction(topic)
    for alarm in alarms:
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
