"""Retention and a removal policy for log groups that AWS services create and name themselves.

EKS (its control plane, Container Insights), SageMaker endpoints, ECS Container Insights and
Lambda functions create their log group on first write, named after a resource whose name
CloudFormation generates. A CloudFormation LogGroup of that name fails on every stack where the
service already wrote (the group exists) and races the service on new ones. The CDK's
LogRetention custom resource instead creates the group when it is missing and sets its
retention (and deletes it with the stack when the removal policy says DESTROY). Its handler
runs under one role per stack; each managed group comes with a policy of its own on that role,
granting that group only, which its retention resource waits for (one shared policy would tie
every group's resource to every other's, and cycle through the resources they are named after).
"""

from __future__ import annotations

from typing import Optional

from aws_cdk import Acknowledgment, ArnFormat, CfnResource, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from ._checks import iam5_resource_finding

#: The construct id of aws_logs.LogRetention's handler, a singleton at the top of each stack.
_HANDLER_ID = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"
#: The construct id of our role for that handler, beside it at the top of the stack.
_ROLE_ID = "LogRetentionHandlerRole"


def expire_service_log_group(
    scope: Construct,
    construct_id: str,
    *,
    log_group_name: str,
    retention: logs.RetentionDays,
    removal_policy: RemovalPolicy,
) -> logs.LogRetention:
    """Give `log_group_name`, a group an AWS service writes to, `retention`; with
    RemovalPolicy.DESTROY the stack deletes it. Make the writer depend on the returned
    construct where it can, so the group exists with its retention before the first write."""
    role = _handler_role(scope)
    if role is None:
        # Someone else's handler came first, with the CDK's own role: it is already allowed.
        return logs.LogRetention(
            scope, construct_id, log_group_name=log_group_name, retention=retention, removal_policy=removal_policy
        )
    grant = _grant_log_group(scope, f"{construct_id}Grant", role, log_group_name,
                             delete=removal_policy == RemovalPolicy.DESTROY)
    retention_resource = logs.LogRetention(
        scope,
        construct_id,
        log_group_name=log_group_name,
        retention=retention,
        removal_policy=removal_policy,
        role=role.without_policy_updates(),
    )
    handler_logs = _grant_handler_logs(role)
    # The handler runs with the role and these grants: they exist before it does.
    retention_resource.node.add_dependency(role.node.default_child, grant, handler_logs)
    return retention_resource


def expire_function_logs(
    function: CfnResource, *, retention: logs.RetentionDays, removal_policy: RemovalPolicy
) -> logs.LogRetention:
    """Retention for the default log group (/aws/lambda/<name>) of a function the CDK creates
    without one (the providers of its own custom resources)."""
    return expire_service_log_group(
        function.node.scope or function,
        "LogRetention",
        log_group_name=f"/aws/lambda/{function.ref}",
        retention=retention,
        removal_policy=removal_policy,
    )


def set_log_group_expiry(
    log_group: Optional[IConstruct], *, retention: logs.RetentionDays, removal_policy: RemovalPolicy
) -> None:
    """Override the retention and removal policy of a LogGroup another library created (the
    CDK's providers keep theirs two years and retain them in every stage)."""
    if log_group is None:
        return
    resource = log_group if isinstance(log_group, CfnResource) else log_group.node.default_child
    assert isinstance(resource, logs.CfnLogGroup), f"{log_group.node.path} is not a log group"
    # jsii hands the enum to CloudFormation as its number of days.
    resource.add_property_override("RetentionInDays", retention)
    resource.apply_removal_policy(removal_policy)


def _handler_role(scope: Construct) -> Optional[iam.Role]:
    """Our role for the stack's handler; None when the handler exists already without it (a
    `log_retention=` prop elsewhere in the stack created it first, with the CDK's own role)."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(_ROLE_ID)
    if isinstance(existing, iam.Role):
        return existing
    if stack.node.try_find_child(_HANDLER_ID) is not None:
        return None
    return iam.Role(
        stack,
        _ROLE_ID,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="Sets the retention of the log groups AWS services create for this stack's resources",
    )


def _log_group_arns(scope: IConstruct, log_group_name: str) -> tuple[str, str]:
    """The group's ARN, and the same with ':*' (how CloudWatch Logs names it for most actions)."""
    arn = Stack.of(scope).format_arn(
        service="logs", resource="log-group", resource_name=log_group_name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )
    return arn, f"{arn}:*"


def _grant_log_group(scope: Construct, construct_id: str, role: iam.Role, log_group_name: str, *,
                     delete: bool) -> iam.Policy:
    arns = _log_group_arns(scope, log_group_name)
    actions = ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy"]
    grant = iam.Policy(
        scope,
        construct_id,
        roles=[role],
        statements=[
            iam.PolicyStatement(actions=actions + (["logs:DeleteLogGroup"] if delete else []), resources=list(arns))
        ],
    )
    _acknowledge_group_wildcard(grant, arns[1], "This one log group, named in full (CloudWatch Logs names a group "
                                "with ':*' for these actions).")
    return grant


def _grant_handler_logs(role: iam.Role) -> iam.Policy:
    existing = role.node.try_find_child("HandlerLogs")
    if isinstance(existing, iam.Policy):
        return existing
    function = Stack.of(role).node.find_child(_HANDLER_ID).node.find_child("Resource")
    assert isinstance(function, CfnResource)
    arns = _log_group_arns(role, f"/aws/lambda/{function.ref}")
    # Not in the role's default policy: the handler (which names its role) would depend on it.
    policy = iam.Policy(
        role,
        "HandlerLogs",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                # The handler writes its own logs and sets their retention to one day.
                actions=["logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=list(arns),
            )
        ],
    )
    _acknowledge_group_wildcard(policy, arns[1], "The log-retention handler's own log group and its streams, "
                                "named in full.")
    return policy


def _acknowledge_group_wildcard(policy: iam.Policy, arn: str, reason: str) -> None:
    Validations.of(policy).acknowledge(Acknowledgment(id=iam5_resource_finding(policy, arn), reason=reason))


__all__ = ["expire_function_logs", "expire_service_log_group", "set_log_group_expiry"]
