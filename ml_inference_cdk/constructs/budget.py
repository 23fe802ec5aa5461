"""CostBudget: a monthly AWS Budget over the costs that carry some tags, alerting an SNS topic."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from aws_cdk import Stack
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

_BUDGETS = "budgets.amazonaws.com"


class CostBudget(Construct):
    """A monthly cost budget over what carries every tag of `tags`, notifying `topic` when the
    month's forecast reaches `forecast_alert_percent` and when actual costs reach
    `actual_alert_percent` of `monthly_limit_usd`.

    The topic's policy lets AWS Budgets publish (from this account's budgets only), and its KMS
    key, when it has one, lets AWS Budgets encrypt. Budgets see tags only once they are activated
    as cost allocation tags in the billing console (once per payer account; see README.md), and
    only costs from then on.

    Minimal use::

        CostBudget(stack, "Budget", monthly_limit_usd=200, tags={"project": "ml-inference"}, topic=topic)
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        monthly_limit_usd: float,
        tags: Mapping[str, str],
        topic: sns.ITopic,
        topic_key: Optional[kms.IKey] = None,
        forecast_alert_percent: float = 80,
        actual_alert_percent: float = 100,
    ) -> None:
        """
        :param monthly_limit_usd: the month's budget in US dollars.
        :param tags: cost allocation tags (key -> value) that every cost counted must carry.
        :param topic: where the alerts go.
        :param topic_key: the topic's KMS key, for an encrypted topic. Default: the topic's own
            `master_key` when it is an `sns.Topic`; none for an unencrypted topic.
        :param forecast_alert_percent: the forecast, in percent of the budget, that alerts.
            Default: 80.
        :param actual_alert_percent: actual costs, in percent of the budget, that alert. Default: 100.
        """
        super().__init__(scope, construct_id)
        if monthly_limit_usd <= 0:
            raise ValueError(f"monthly_limit_usd must be above 0, got {monthly_limit_usd}")
        if not tags or any(not key or not value for key, value in tags.items()):
            raise ValueError("tags must name at least one cost allocation tag, each with a key and a value")
        for name, percent in (("forecast_alert_percent", forecast_alert_percent), ("actual_alert_percent", actual_alert_percent)):
            if not 0 < percent <= 1000:
                raise ValueError(f"{name} must be above 0 and at most 1000, got {percent}")

        #: The tags every counted cost carries.
        self.tags = dict(tags)
        #: Where the alerts go.
        self.topic = topic
        stack = Stack.of(self)
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBudgetsToPublish",
                principals=[iam.ServicePrincipal(_BUDGETS)],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:budgets::{stack.account}:*"},
                },
            )
        )
        key = topic_key or (topic.master_key if isinstance(topic, sns.Topic) else None)
        if key is not None:
            # An encrypted topic takes messages only from principals that may use its key.
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="AllowBudgetsToEncrypt",
                    principals=[iam.ServicePrincipal(_BUDGETS)],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
                )
            )

        subscriber = budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)
        #: The budget (AWS Budgets names it).
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=monthly_limit_usd, unit="USD"),
                filter_expression=_all_tags(self.tags),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=notification_type,
                        comparison_operator="GREATER_THAN",
                        threshold=percent,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=[subscriber],
                )
                for notification_type, percent in (("FORECASTED", forecast_alert_percent), ("ACTUAL", actual_alert_percent))
            ],
        )


def _all_tags(tags: Mapping[str, str]) -> budgets.CfnBudget.ExpressionProperty:
    """A Budgets filter that every one of `tags` matches (And needs two or more operands)."""
    each = [
        budgets.CfnBudget.ExpressionProperty(
            tags=budgets.CfnBudget.TagValuesProperty(key=key, values=[value], match_options=["EQUALS"])
        )
        for key, value in sorted(tags.items())
    ]
    return each[0] if len(each) == 1 else budgets.CfnBudget.ExpressionProperty(and_=each)


__all__ = ["CostBudget"]
