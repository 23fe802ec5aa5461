"""The AWS WAF web ACL in front of every internet-facing load balancer (the Fargate ALB, the EKS
Ingress's ALB), and its logs."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from ._exposure import NOT_FOUND_BODY, greater_than_regex, private_path_regex

#: WAF's bounds on a rate-based rule's limit (requests per client in one evaluation window).
WAF_MIN_RATE_LIMIT = 10
WAF_MAX_RATE_LIMIT = 2_000_000_000
#: The evaluation windows a rate-based rule accepts, in seconds.
WAF_RATE_WINDOWS_SECONDS = (60, 120, 300, 600)
#: Requests one client IP may send in five minutes before WAF blocks it, by default.
DEFAULT_RATE_LIMIT = 2000
#: How much of a request body WAF inspects behind an ALB: fixed at 8 KB there (CloudFront and
#: API Gateway can raise it to 64 KB; an ALB cannot).
ALB_BODY_INSPECTION_BYTES = 8 * 1024


@dataclasses.dataclass(frozen=True)
class Firewall:
    """A web ACL and where it logs."""

    web_acl: wafv2.CfnWebACL
    log_group: logs.LogGroup
    logging: wafv2.CfnLoggingConfiguration


def check_rate_limit(rate_limit: int, window: Duration) -> None:
    """Refuse a rate limit WAF would reject at deploy time."""
    if not WAF_MIN_RATE_LIMIT <= rate_limit <= WAF_MAX_RATE_LIMIT:
        raise ValueError(
            f"rate_limit must be between {WAF_MIN_RATE_LIMIT} (WAF's minimum) and {WAF_MAX_RATE_LIMIT} "
            f"requests per client, got {rate_limit}"
        )
    if window.to_seconds() not in WAF_RATE_WINDOWS_SECONDS:
        minutes = ", ".join(str(seconds // 60) for seconds in WAF_RATE_WINDOWS_SECONDS)
        raise ValueError(f"rate_limit_window must be {minutes} minutes (WAF's evaluation windows)")


def load_balancer_firewall(
    scope: Construct,
    construct_id: str,
    *,
    rate_limit: int,
    rate_limit_window: Duration,
    max_body_bytes: int,
    log_retention: logs.RetentionDays,
    removal_policy: RemovalPolicy,
) -> Firewall:
    """A regional web ACL for a load balancer in front of the inference service.

    Rules, in order: a rate limit per client IP (429); the private paths after URL decoding, so
    `/%6detrics` is caught too (404, the service's own body); a Content-Length above the
    service's MAX_BODY_BYTES (413); AWS's common rule set and known bad inputs. WAF sees only
    the first 8 KB of a body behind an ALB, so the size rule reads Content-Length, which ALB
    holds the body to; a chunked body has none and meets the service's own limit (413).
    The common rule set's SizeRestrictions_BODY (anything over 8 KB) counts instead of
    blocking: batch requests up to MAX_BODY_BYTES are the service's normal traffic. Its other
    body rules inspect the first 8 KB (their oversize handling: continue).
    Blocked and counted requests are logged (the ALB's access logs hold every request), with
    the authorization and cookie headers redacted.
    """
    scope = Construct(scope, construct_id)
    log_group = logs.LogGroup(
        scope,
        "Logs",
        # WAF delivers only to log groups named aws-waf-logs-*; the stack name keeps stages apart.
        log_group_name=f"aws-waf-logs-{Stack.of(scope).stack_name}-{scope.node.addr[-8:]}",
        retention=log_retention,
        removal_policy=removal_policy,
    )
    per_client = wafv2.CfnWebACL.RateBasedStatementProperty(
        aggregate_key_type="IP", limit=rate_limit, evaluation_window_sec=int(rate_limit_window.to_seconds())
    )
    rules = [
        _blocking_rule("RateLimitPerClient", 0, 429, "TooManyRequests",
                       wafv2.CfnWebACL.StatementProperty(rate_based_statement=per_client)),
        # uvicorn decodes the path once before routing: so does this rule.
        _blocking_rule("PrivatePaths", 10, 404, "NotFound",
                       _regex_match(private_path_regex(), wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}), "URL_DECODE")),
        _blocking_rule("BodyTooLarge", 20, 413, "BodyTooLarge",
                       _regex_match(greater_than_regex(max_body_bytes),
                                    wafv2.CfnWebACL.FieldToMatchProperty(single_header={"Name": "content-length"}), "NONE")),
        _managed_rules("AWSManagedRulesCommonRuleSet", 30, count=["SizeRestrictions_BODY"]),
        _managed_rules("AWSManagedRulesKnownBadInputsRuleSet", 40),
    ]
    web_acl = wafv2.CfnWebACL(
        scope,
        "WebAcl",
        scope="REGIONAL",
        description="In front of the load balancer of the inference service",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        rules=rules,
        custom_response_bodies={
            "NotFound": _json_body(NOT_FOUND_BODY),
            "TooManyRequests": _json_body(
                json.dumps({"error": "too_many_requests", "detail": "this address sent too many requests; retry later"})
            ),
            "BodyTooLarge": _json_body(
                json.dumps(
                    {
                        "error": "body_too_large",
                        "detail": f"the body is larger than {max_body_bytes} bytes (MAX_BODY_BYTES)",
                    }
                )
            ),
        },
        visibility_config=_visibility("InferenceWebAcl"),
    )
    logging = wafv2.CfnLoggingConfiguration(
        scope,
        "Logging",
        resource_arn=web_acl.attr_arn,
        # WAF takes the log group's ARN without the ":*" that LogGroup.log_group_arn ends in.
        log_destination_configs=[
            Stack.of(scope).format_arn(
                service="logs",
                resource="log-group",
                resource_name=log_group.log_group_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
        ],
        redacted_fields=[
            wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": name})
            for name in ("authorization", "cookie")
        ],
        logging_filter={
            "DefaultBehavior": "DROP",
            "Filters": [
                {
                    "Behavior": "KEEP",
                    "Requirement": "MEETS_ANY",
                    "Conditions": [{"ActionCondition": {"Action": action}} for action in ("BLOCK", "COUNT")],
                }
            ],
        },
    )
    logging.node.add_dependency(log_group)
    return Firewall(web_acl=web_acl, log_group=log_group, logging=logging)


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _json_body(content: str) -> wafv2.CfnWebACL.CustomResponseBodyProperty:
    return wafv2.CfnWebACL.CustomResponseBodyProperty(content_type="APPLICATION_JSON", content=content)


def _block(status: int, body_key: str) -> wafv2.CfnWebACL.RuleActionProperty:
    return wafv2.CfnWebACL.RuleActionProperty(
        block=wafv2.CfnWebACL.BlockActionProperty(
            custom_response=wafv2.CfnWebACL.CustomResponseProperty(response_code=status, custom_response_body_key=body_key)
        )
    )


def _blocking_rule(
    name: str, priority: int, status: int, body_key: str, statement: wafv2.CfnWebACL.StatementProperty
) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        action=_block(status, body_key),
        statement=statement,
        visibility_config=_visibility(name),
    )


def _regex_match(
    regex: str, field: wafv2.CfnWebACL.FieldToMatchProperty, transformation: str
) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        regex_match_statement=wafv2.CfnWebACL.RegexMatchStatementProperty(
            regex_string=regex,
            field_to_match=field,
            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type=transformation)],
        )
    )


def _managed_rules(name: str, priority: int, count: Sequence[str] = ()) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS",
                name=name,
                rule_action_overrides=[
                    wafv2.CfnWebACL.RuleActionOverrideProperty(
                        name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                    )
                    for rule in count
                ]
                or None,
            )
        ),
        visibility_config=_visibility(name),
    )


__all__ = [
    "ALB_BODY_INSPECTION_BYTES",
    "DEFAULT_RATE_LIMIT",
    "Firewall",
    "WAF_MAX_RATE_LIMIT",
    "WAF_MIN_RATE_LIMIT",
    "WAF_RATE_WINDOWS_SECONDS",
    "check_rate_limit",
    "load_balancer_firewall",
]
