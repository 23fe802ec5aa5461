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


def iam5_resource_finding(scope: IConstruct, resource: str) -> str:
    """The cdk-nag finding id `AwsSolutions-IAM5[Resource::...]` for a wildcard `resource` ARN.

    cdk-nag names a finding after the resource as the template has it, with intrinsics written
    `<Logical.Arn>` / `<AWS::Region>`; this renders `resource` the same way, so the
    acknowledgement follows logical ids and the stack's environment instead of copying them.
    """
    from aws_cdk import Stack

    return f"AwsSolutions-IAM5[Resource::{_nag_text(Stack.of(scope).resolve(resource))}]"


def _nag_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(_nag_text(part) for part in parts)
    raise ValueError(f"cannot render {value!r} the way cdk-nag names findings")
