"""Acknowledging checker findings on the construct that causes them."""

from __future__ import annotations

from aws_cdk import CfnResource
from constructs import IConstruct


def skip_checkov(construct: IConstruct, **reasons: str) -> None:
    """Skip checkov checks on `construct`'s CloudFormation resource, each with its reason.

    checkov reads `Metadata.checkov.skip` from the template, so the skip sits on this one
    resource rather than in a project-wide list: `skip_checkov(bucket, CKV_AWS_21="...")`.
    """
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to annotate")
    skips = [{"id": check_id, "comment": comment} for check_id, comment in sorted(reasons.items())]
    resource.add_metadata("checkov", {"skip": skips})
