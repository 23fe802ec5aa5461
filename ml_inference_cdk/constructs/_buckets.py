"""Access-log buckets, encrypted data buckets, and ALB access logs that work in region-bound and
env-agnostic stacks."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import (
    Acknowledgment,
    Aws,
    CfnCondition,
    CfnMapping,
    Duration,
    FeatureFlags,
    Fn,
    ICfnConditionExpression,
    RemovalPolicy,
    Stack,
    Token,
    Validations,
)
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import region_info
from constructs import Construct

from ._checks import skip_checkov

_ELB_ACCOUNTS_MAPPING = "ElbAccessLogAccounts"
_ELB_ACCOUNT_CONDITION = "ElbAccessLogAccountKnown"
#: Regions opened since August 2022 deliver ALB logs with this service principal, not an account.
_ELB_LOG_DELIVERY = "logdelivery.elasticloadbalancing.amazonaws.com"


def access_log_bucket(
    scope: Construct,
    construct_id: str,
    *,
    source: str,
    expiration: Duration,
    removal_policy: RemovalPolicy,
    server_access_logs: bool = False,
) -> s3.Bucket:
    """A bucket that receives `source` (e.g. "the load balancer's access logs"): SSE-S3 (the only
    encryption log delivery supports), no public access, TLS only, objects expire by lifecycle.

    `server_access_logs`: the bucket receives S3 server access logs, which need the object
    writer ACL unless the app has `@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy`.
    """
    acl_delivery = server_access_logs and not FeatureFlags.of(scope).is_enabled(
        "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"
    )
    bucket = s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.OBJECT_WRITER if acl_delivery else s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=[s3.LifecycleRule(expiration=expiration)],
        removal_policy=removal_policy,
    )
    Validations.of(bucket).acknowledge(
        Acknowledgment(
            id="AwsSolutions-S1",
            reason=f"This bucket receives {source}; logging access to it in turn would need yet another bucket.",
        )
    )
    skip_checkov(
        bucket,
        CKV_AWS_18=f"The destination of {source}; see AwsSolutions-S1.",
        CKV_AWS_21="Access logs are written once and expire by lifecycle: versions would add cost, not safety.",
    )
    return bucket


def encrypted_data_bucket(
    scope: Construct,
    *,
    key: kms.IKey,
    what: str,
    lifecycle_rules: Sequence[s3.LifecycleRule],
    removal_policy: RemovalPolicy,
    versioned: bool = False,
) -> tuple[s3.Bucket, s3.Bucket]:
    """A data bucket `Data` (KMS with `key` and bucket keys, TLS only, no public access, owner-
    enforced, access-logged under `data/`, EventBridge notifications on) and the bucket its server
    access logs go to, `DataAccessLogs` (kept a year). `what` names it in the log bucket's reasons."""
    access_logs = access_log_bucket(
        scope,
        "DataAccessLogs",
        source=f"{what}'s server access logs",
        expiration=Duration.days(365),
        removal_policy=removal_policy,
        server_access_logs=True,
    )
    bucket = s3.Bucket(
        scope,
        "Data",
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=versioned or None,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix="data/",
        lifecycle_rules=list(lifecycle_rules),
        removal_policy=removal_policy,
    )
    enable_event_bridge(bucket)
    return bucket, access_logs


def enable_event_bridge(bucket: s3.Bucket) -> None:
    """Send `bucket`'s events to EventBridge through the bucket's own CloudFormation property
    (`event_bridge_enabled=True` would add a custom-resource Lambda function to do the same)."""
    cfn = bucket.node.default_child
    assert isinstance(cfn, s3.CfnBucket)
    cfn.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)


def log_load_balancer_access(load_balancer: elbv2.ApplicationLoadBalancer, bucket: s3.IBucket, prefix: str) -> None:
    """Turn on `load_balancer`'s access logs to `bucket` under `prefix`.

    In a region-bound stack this is the CDK's own `log_access_logs`. In an env-agnostic stack the
    region, and so the account ALB delivers from, is known only at deploy time: the bucket policy
    picks the region's ELB account from a mapping where the region has one, and always admits the
    log-delivery service principal that newer regions use.
    """
    stack = Stack.of(load_balancer)
    if not Token.is_unresolved(stack.region):
        load_balancer.log_access_logs(bucket, prefix=prefix)
        return
    load_balancer.set_attribute("access_logs.s3.enabled", "true")
    load_balancer.set_attribute("access_logs.s3.bucket", bucket.bucket_name)
    load_balancer.set_attribute("access_logs.s3.prefix", prefix)
    objects = bucket.arn_for_objects(f"{prefix + '/' if prefix else ''}AWSLogs/{Aws.ACCOUNT_ID}/*")
    bucket.add_to_resource_policy(
        iam.PolicyStatement(actions=["s3:PutObject"], principals=[_elb_account_principal(stack)], resources=[objects])
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            actions=["s3:PutObject"], principals=[iam.ServicePrincipal(_ELB_LOG_DELIVERY)], resources=[objects]
        )
    )
    delivery = iam.ServicePrincipal("delivery.logs.amazonaws.com")
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            actions=["s3:PutObject"],
            principals=[delivery],
            resources=[objects],
            conditions={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
        )
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(actions=["s3:GetBucketAcl"], principals=[delivery], resources=[bucket.bucket_arn])
    )
    # The load balancer checks the bucket policy when logging is turned on.
    if bucket.policy is not None:
        load_balancer.node.add_dependency(bucket.policy)


def _elb_account_principal(stack: Stack) -> iam.IPrincipal:
    """The region's ELB account where it has one; elsewhere this account, which the policy adds
    nothing for (the service principal statement does the delivery there)."""
    mapping = stack.node.try_find_child(_ELB_ACCOUNTS_MAPPING)
    condition = stack.node.try_find_child(_ELB_ACCOUNT_CONDITION)
    if mapping is None:
        accounts = {r.name: r.elbv2_account for r in region_info.RegionInfo.regions if r.elbv2_account}
        mapping = CfnMapping(stack, _ELB_ACCOUNTS_MAPPING, mapping={r: {"account": a} for r, a in sorted(accounts.items())})
        condition = CfnCondition(stack, _ELB_ACCOUNT_CONDITION, expression=_region_in(sorted(accounts)))
    assert isinstance(mapping, CfnMapping) and isinstance(condition, CfnCondition)
    elb_root = Fn.join("", ["arn:", Aws.PARTITION, ":iam::", mapping.find_in_map(Aws.REGION, "account"), ":root"])
    own_root = Fn.join("", ["arn:", Aws.PARTITION, ":iam::", Aws.ACCOUNT_ID, ":root"])
    return iam.ArnPrincipal(Fn.condition_if(condition.logical_id, elb_root, own_root).to_string())


def _region_in(regions: list[str]) -> ICfnConditionExpression:
    """Fn::Or over the regions, nested: Fn::Or takes 2 to 10 conditions."""
    terms = [Fn.condition_equals(Aws.REGION, region) for region in regions]
    while len(terms) > 1:
        chunks = [terms[i : i + 10] for i in range(0, len(terms), 10)]
        terms = [Fn.condition_or(*chunk) if len(chunk) > 1 else chunk[0] for chunk in chunks]
    return terms[0]


__all__ = ["access_log_bucket", "enable_event_bridge", "encrypted_data_bucket", "log_load_balancer_access"]
