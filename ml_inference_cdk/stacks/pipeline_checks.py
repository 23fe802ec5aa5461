"""cdk-nag and checkov for what aws_cdk.pipelines builds: the artifact bucket's access logs, and
an acknowledgement, with its reason, for each wildcard the pipeline's roles need.

The findings are computed from each policy the way cdk-nag names them, then acknowledged on that
policy only where a known reason applies (`_REASONS`); a wildcard of a new kind stays a finding and
stops synth.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines

from ..constructs._buckets import access_log_bucket
from ..constructs._checks import _nag_text, skip_checkov

_ARTIFACTS = "the pipeline's own artifact bucket"
# (pattern on the finding id, reason): the first that matches acknowledges the finding.
# A pattern may end in @PATH: it then applies only to policies whose construct path matches PATH.
_REASONS: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern.partition("@")[0]), pattern.partition("@")[2], reason)
    for pattern, reason in (
        (r"^AwsSolutions-IAM5\[Action::s3:(Abort|DeleteObject|GetBucket|GetObject|List)\*\]$",
         f"CDK Pipelines grants S3 action families on {_ARTIFACTS} and nothing else (read for every step, "
         "write for the source, synth and pipeline roles)."),
        (r"^AwsSolutions-IAM5\[Resource::<PipelineArtifactsBucket[0-9A-F]{8}\.Arn>/\*\]$",
         f"The objects of {_ARTIFACTS}: each execution writes new keys, so they cannot be named in advance."),
        (r"^AwsSolutions-IAM5\[Resource::arn:aws:logs:[a-z0-9-]+:<AWS::AccountId>:log-group:/aws/codebuild/[^\]]*\]$",
         "CodeBuild's own log groups: of this project, or of the asset projects CDK Pipelines adds one per asset."),
        (r"^AwsSolutions-IAM5\[Resource::arn:aws:codebuild:[a-z0-9-]+:<AWS::AccountId>:report-group/[^\]]*\]$",
         "CodeBuild's own report groups, named after the project (or, for asset projects, one per asset)."),
        (r"^AwsSolutions-IAM5\[Resource::arn:\*:iam::<AWS::AccountId>:role/\*\]$",
         "Self-mutation may assume only the CDK bootstrap roles (a condition on their aws-cdk:bootstrap-role "
         "tag); their names carry the account and region of each stage."),
        (r"^AwsSolutions-IAM5\[Resource::\*\]$@/UpdatePipeline/SelfMutation/",
         "The CDK CLI reads the bootstrap stack (cloudformation:DescribeStacks) and lists its bucket "
         "(s3:ListBucket) before it deploys; their names depend on the qualifier, so the CLI asks for any."),
        (r"^AwsSolutions-IAM5\[Resource::\*\]$@/Assets/(Docker|File)Role/",
         "CDK Pipelines' asset-publishing role starts and watches the asset builds (codebuild:StartBuild, "
         "BatchGetBuilds, StopBuild), one project per asset, created after this policy."),
        (r"^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:cloudformation:[a-z0-9-]+:(?:<AWS::AccountId>|\d{12}):stack/MlInference-\w+-\w+/\*\]$",
         "A smoke step reads the outputs of its one stack; a stack's ARN ends in an id CloudFormation generates."),
        (r"^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:lambda:[a-z0-9-]+:(?:<AWS::AccountId>|\d{12}):function:MlInference-Lambda-\w+-\*\]$",
         "CloudFormation names the stage's function after its stack: the smoke step may call the Function URL "
         "(AWS_IAM only) of functions of that stack, and nothing else."),
        (r"^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:sagemaker:[a-z0-9-]+:(?:<AWS::AccountId>|\d{12}):endpoint/\*\]$",
         "CloudFormation names the stage's endpoint: the smoke step may describe and invoke endpoints tagged "
         "with this project and stage only (an aws:ResourceTag condition)."),
        (r"^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:s3:::mlinference-sagemaker-\w+-\*/async-(inputs|outputs|failures)/\*\]$",
         "CloudFormation names the async endpoint's bucket after its stack: the smoke step may write inputs and "
         "read answers under the endpoint's own prefixes of that stack's buckets only."),
        (r"^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:kms:[a-z0-9-]+:(?:<AWS::AccountId>|\d{12}):key/\*\]$",
         "The async endpoint's key has a generated id: the smoke step may use keys tagged with this project "
         "and stage, through S3 only (kms:ViaService)."),
    )
)
_CB4 = (
    "The project's artifacts live in the pipeline's artifact bucket, encrypted at rest with S3's AWS managed "
    "key; with a stage in another account the pipeline creates a customer managed key that every project uses."
)


def log_artifact_access(scope: Stack, bucket: s3.IBucket) -> s3.Bucket:
    """Server access logs for the artifact bucket CDK Pipelines creates (its L2 takes no such prop),
    into a new bucket that keeps them 90 days. Returns that bucket."""
    logs = access_log_bucket(
        scope,
        "ArtifactAccessLogs",
        source="the artifact bucket's server access logs",
        expiration=Duration.days(90),
        removal_policy=RemovalPolicy.RETAIN,
        server_access_logs=True,
    )
    prefix = "artifacts/"
    logs.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
            actions=["s3:PutObject"],
            resources=[logs.arn_for_objects(f"{prefix}*")],
            conditions={"ArnLike": {"aws:SourceArn": bucket.bucket_arn}, "StringEquals": {"aws:SourceAccount": scope.account}},
        )
    )
    resource = bucket.node.default_child
    assert isinstance(resource, s3.CfnBucket)
    resource.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
        destination_bucket_name=logs.bucket_name, log_file_prefix=prefix
    )
    skip_checkov(
        resource,
        CKV_AWS_21="Every execution writes its artifacts under new keys and rebuilds them from the repository: "
        "versions would keep copies no step reads.",
    )
    return logs


def acknowledge_pipeline(pipeline: pipelines.CodePipeline) -> None:
    """Acknowledge, on each policy and project under `pipeline`, the findings `_REASONS` explains."""
    stack = Stack.of(pipeline)
    for construct in pipeline.node.find_all():
        if isinstance(construct, iam.Policy):
            findings = policy_findings(stack, stack.resolve(construct.document.to_json()))
            path = construct.node.path
            acknowledgements = [Acknowledgment(id=f, reason=r) for f in findings if (r := reason_for(f, path)) is not None]
            if acknowledgements:
                Validations.of(construct).acknowledge(*acknowledgements)
            if re.search(r"/Assets/(Docker|File)Role/", path):
                skip_checkov(
                    construct,
                    CKV_AWS_111="CDK Pipelines' asset-publishing role starts the asset builds (codebuild:StartBuild), "
                    "one project per asset, created after this policy; it publishes only through the bootstrap roles.",
                )
        elif isinstance(construct, codebuild.Project):
            Validations.of(construct).acknowledge(Acknowledgment(id="AwsSolutions-CB4", reason=_CB4))


def reason_for(finding: str, path: str = "") -> Optional[str]:
    """Why `finding` on the policy at construct `path` is acknowledged; None: it is not."""
    for pattern, where, reason in _REASONS:
        if pattern.match(finding) and re.search(where, path):
            return reason
    return None


def policy_findings(stack: Stack, document: dict[str, Any]) -> list[str]:
    """The AwsSolutions-IAM5 finding ids of a resolved policy document, named as cdk-nag names them."""
    findings: list[str] = []
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        for action in _listed(statement.get("Action")):
            if isinstance(action, str) and "*" in action:
                findings.append(f"AwsSolutions-IAM5[Action::{action}]")
        for resource in _listed(statement.get("Resource")):
            try:
                text = _nag_text(resource)
            except ValueError:
                continue  # Fn::Sub and the like: the CDK's own role ARNs, never a wildcard here
            if "*" in text:
                findings.append(f"AwsSolutions-IAM5[Resource::{text}]")
    return sorted(set(findings))


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


__all__ = ["acknowledge_pipeline", "log_artifact_access", "policy_findings", "reason_for"]
