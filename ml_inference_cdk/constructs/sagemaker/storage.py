"""The SageMaker endpoint's data bucket, and read or write grants on one of its prefixes."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .._buckets import encrypted_data_bucket
from .._checks import iam5_resource_finding, skip_checkov
from .._iam import acknowledge_grant

#: The prefixes whose objects expire after the endpoint's data_expiration.
EXPIRING_PREFIXES = ("async-inputs/", "async-outputs/", "async-failures/", "data-capture/")


def new_data_bucket(
    scope: Construct, *, key: kms.IKey, expiration: Duration, removal_policy: RemovalPolicy
) -> tuple[s3.Bucket, s3.Bucket]:
    """The data bucket (async inputs and answers, data capture, batch transform; KMS-encrypted,
    TLS only, access-logged) and the bucket its server access logs go to."""
    # EventBridge notifications: batch inputs start transforms (BatchTransform(start_on_upload=True)).
    bucket, access_logs = encrypted_data_bucket(
        scope,
        key=key,
        what="the data bucket",
        lifecycle_rules=[s3.LifecycleRule(prefix=prefix, expiration=expiration) for prefix in EXPIRING_PREFIXES],
        removal_policy=removal_policy,
    )
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
    with the key use that takes; the wildcard is acknowledged on the grant with `reason`."""
    objects = bucket.arn_for_objects(f"{prefix}*")
    role.add_to_principal_policy(iam.PolicyStatement(actions=[action], resources=[objects]))
    key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
    acknowledge_grant(role, iam5_resource_finding(role, objects), reason)


__all__ = ["EXPIRING_PREFIXES", "grant_prefix", "new_data_bucket"]
