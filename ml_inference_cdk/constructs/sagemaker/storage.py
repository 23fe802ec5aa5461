"""The SageMaker endpoint's data bucket, and read or write grants on one of its prefixes."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .._buckets import access_log_bucket, enable_event_bridge
from .._checks import iam5_resource_finding, skip_checkov

#: The prefixes whose objects expire after the endpoint's data_expiration.
EXPIRING_PREFIXES = ("async-inputs/", "async-outputs/", "async-failures/", "data-capture/")


def new_data_bucket(
    scope: Construct, *, key: kms.IKey, expiration: Duration, removal_policy: RemovalPolicy
) -> tuple[s3.Bucket, s3.Bucket]:
    """The data bucket (async inputs and answers, data capture, batch transform; KMS-encrypted,
    TLS only, access-logged) and the bucket its server access logs go to."""
    access_logs = access_log_bucket(
        scope,
        "DataAccessLogs",
        source="the data bucket's server access logs",
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
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix="data/",
        lifecycle_rules=[s3.LifecycleRule(prefix=prefix, expiration=expiration) for prefix in EXPIRING_PREFIXES],
        removal_policy=removal_policy,
    )
    # Batch inputs start transforms through EventBridge (BatchTransform(start_on_upload=True)).
    enable_event_bridge(bucket)
    skip_checkov(
        bucket,
        CKV_AWS_21="Inputs, answers and captured data are written once and expire by lifecycle; "
        "batch results are re-created by running the transform again.",
    )
    return bucket, access_logs


def grant_prefix(
    role: iam.IRole, bucket: s3.IBucket, key: kms.IKey, *, action: str, prefix: str, reason: str
) -> None:
    """Let `role` `action` (s3:GetObject or s3:PutObject) the objects under `prefix` of `bucket`,
    with the key use that takes; the wildcard is acknowledged on the role with `reason`."""
    objects = bucket.arn_for_objects(f"{prefix}*")
    role.add_to_principal_policy(iam.PolicyStatement(actions=[action], resources=[objects]))
    key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
    Validations.of(role).acknowledge(Acknowledgment(id=iam5_resource_finding(role, objects), reason=reason))


__all__ = ["EXPIRING_PREFIXES", "grant_prefix", "new_data_bucket"]
