"""Roles whose every grant on Resource "*" sits in a policy of its own, with the reason it cannot
name a resource, acknowledged there and nowhere else."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Optional

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct

#: Actions that IAM lets name no resource (cfn-lint's IAM data lists no resource type for
#: them; tests/cdk check that), grouped by the policy that carries them and why they are needed.
WILDCARD_ACTIONS: Mapping[str, tuple[frozenset[str], str]] = {
    "EcrAuthorization": (
        frozenset({"ecr:GetAuthorizationToken"}),
        "ecr:GetAuthorizationToken has no resource-level permissions; the image pull itself is "
        "granted on the image's repository only.",
    ),
    "NetworkDescribe": (
        frozenset(
            {
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            }
        ),
        "The EC2 Describe calls SageMaker makes to place network interfaces have no "
        "resource-level permissions; they read and change nothing.",
    ),
    "LogDelivery": (
        frozenset(
            {
                "logs:CreateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:DescribeLogGroups",
                "logs:DescribeResourcePolicies",
                "logs:GetLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:UpdateLogDelivery",
            }
        ),
        "Step Functions delivers its execution logs through CloudWatch Logs' log-delivery "
        "actions, which have no resource-level permissions; the log group is named in the "
        "state machine's logging configuration.",
    ),
    "Metrics": (
        frozenset({"cloudwatch:PutMetricData"}),
        "cloudwatch:PutMetricData names no resource for namespace metrics (its one resource type "
        "is a metrics dataset); a cloudwatch:namespace condition on the statement bounds where it writes.",
    ),
    "ModelRegistryList": (
        frozenset({"sagemaker:ListModelPackages"}),
        "A sagemaker:ListModelPackages call names no model package (its one resource type), so only '*' "
        "grants it; it lists names and status (no data), and reading or creating a package is granted on "
        "the group's packages only.",
    ),
    "Tracing": (
        frozenset(
            {"xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments"}
        ),
        "X-Ray's trace and sampling actions have no resource-level permissions.",
    ),
}

#: Turns one statement into the statements granted instead (to scope what the CDK grants on "*").
Rewrite = Callable[[iam.PolicyStatement], list[iam.PolicyStatement]]


class WildcardSplittingRole(iam.Role):
    """An iam.Role that puts every statement on Resource "*" into a policy per WILDCARD_ACTIONS
    group, acknowledged (AwsSolutions-IAM5[Resource::*]) on that policy with the group's
    reason. A "*" grant of any other action fails synth: scope it in `rewrite` instead.

    :param rewrite: applied to every statement first (default: none), so grants the CDK adds
        on "*" or on a whole resource type can be narrowed to what this role may touch.
    """

    _rewrite: Optional[Rewrite] = None

    def __init__(self, scope: Construct, construct_id: str, *, rewrite: Optional[Rewrite] = None, **props: Any) -> None:
        super().__init__(scope, construct_id, **props)
        self._rewrite = rewrite

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        result: Optional[iam.AddToPrincipalPolicyResult] = None
        for rewritten in self._rewrite(statement) if self._rewrite else [statement]:
            if list(rewritten.resources) == ["*"]:
                result = self._add_wildcard(rewritten)
            else:
                result = super().add_to_principal_policy(rewritten)
        assert result is not None, "a rewrite must keep at least one statement"
        return result

    def _add_wildcard(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        remaining = set(statement.actions)
        policy: Optional[iam.Policy] = None
        for group, (actions, reason) in WILDCARD_ACTIONS.items():
            granted = sorted(remaining & actions)
            if not granted:
                continue
            remaining -= actions
            policy = self._wildcard_policy(group, reason)
            policy.add_statements(
                iam.PolicyStatement(
                    effect=statement.effect, actions=granted, resources=["*"], conditions=statement.conditions or None
                )
            )
        if remaining or policy is None:
            raise ValueError(
                f"{self.node.path}: {', '.join(sorted(remaining)) or 'no action'} granted on Resource '*' "
                "without a reason in WILDCARD_ACTIONS: scope it to its resources"
            )
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=policy)

    def _wildcard_policy(self, group: str, reason: str) -> iam.Policy:
        existing = self.node.try_find_child(group)
        if isinstance(existing, iam.Policy):
            return existing
        policy = iam.Policy(self, group, roles=[self])
        Validations.of(policy).acknowledge(Acknowledgment(id="AwsSolutions-IAM5[Resource::*]", reason=reason))
        return policy




def acknowledge_grant(role: iam.IRole, finding: str, reason: str) -> None:
    """Acknowledge `finding` where the grant is: the role's default policy, or the role itself
    when it has none here (an imported role)."""
    Validations.of(role.node.try_find_child("DefaultPolicy") or role).acknowledge(
        Acknowledgment(id=finding, reason=reason)
    )


__all__ = ["Rewrite", "WILDCARD_ACTIONS", "WildcardSplittingRole", "acknowledge_grant"]
