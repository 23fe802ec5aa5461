"""MlInference-Observability: the stage's dashboard, alarm topic, roll-up alarms and budget."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from ..config import StageConfig
from ..constructs._alarms import DRIFT_ALARM_KEY_PREFIX, encrypted_alarm_topic, new_rollup
from ..constructs.budget import CostBudget
from ..constructs.dashboard import InferenceDashboard, InferenceTarget
from .monitoring import service_monitoring


class ObservabilityStack(Stack):
    """What a person watches for one stage, across the targets it deploys.

    It reads the target stacks' constructs (cross-stack references: it deploys after them) and
    adds: the stage's alarm topic (KMS-encrypted; subscribe to it once per stage), one roll-up
    alarm per target that is in ALARM while any of the target's health alarms is and one for
    every drift alarm of the stage, both notifying that topic (each target's own alarms still
    notify its own topic), the dashboard, and the stage's monthly budget alerting the topic.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, targets: Mapping[str, InferenceTarget], **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        #: The stage's alarm topic: roll-ups and budget alerts.
        self.topic = encrypted_alarm_topic(self, config.removal_policy)
        #: The roll-up alarms by target name, and "Drift" for the stage's drift alarms.
        self.rollups: dict[str, cloudwatch.CompositeAlarm] = {}
        drift_alarms: list[cloudwatch.IAlarm] = []
        for name, target in targets.items():
            health = [alarm for key, alarm in target.alarms.items() if not key.startswith(DRIFT_ALARM_KEY_PREFIX)]
            drift_alarms += [alarm for key, alarm in target.alarms.items() if key.startswith(DRIFT_ALARM_KEY_PREFIX)]
            if health:
                self.rollups[name] = new_rollup(
                    self,
                    f"{name}Health",
                    description=f"ML inference ({config.name}): an alarm of the {name} target is in ALARM",
                    alarms=health,
                    topic=self.topic,
                )
        if drift_alarms:
            self.rollups["Drift"] = new_rollup(
                self,
                "Drift",
                description=f"ML inference ({config.name}): the model's answers have shifted on a target (drift check)",
                alarms=drift_alarms,
                topic=self.topic,
            )
        #: The stage's dashboard.
        self.dashboard = InferenceDashboard(
            self,
            "Dashboard",
            targets=list(targets.values()),
            title=f"ML inference ({config.name})",
            monitoring=service_monitoring(config),
        )
        #: The stage's monthly budget over its tagged costs.
        self.budget = CostBudget(
            self,
            "Budget",
            monthly_limit_usd=config.monthly_budget_usd,
            tags={key: config.tags[key] for key in ("project", "stage")},
            topic=self.topic,
        )
        CfnOutput(
            self,
            "DashboardUrl",
            value=f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
            f"#dashboards/dashboard/{self.dashboard.dashboard.dashboard_name}",
            description="The stage's CloudWatch dashboard",
        )
        CfnOutput(self, "AlarmTopicArn", value=self.topic.topic_arn, description="Subscribe here: roll-up alarms and budget alerts")
        CfnOutput(self, "BudgetName", value=self.budget.budget.ref, description="The stage's monthly cost budget")
