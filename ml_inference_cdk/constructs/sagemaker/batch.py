"""BatchTransform: a Step Functions state machine that runs a SageMaker batch transform job."""

from __future__ import annotations

import hashlib
import re
from typing import Optional

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .._checks import iam5_resource_finding
from .._iam import WildcardSplittingRole, acknowledge_grant
from .._workflows import DeduplicatedStart, failed_executions_alarm
from .capacity import INSTANCE_TYPE, has_instance_storage
from .storage import grant_prefix

#: What the batch transform sends the container: one text per line, one record per request.
BATCH_CONTENT_TYPE = "text/plain"
#: SageMaker's longest job name, and the length of the per-run part after the prefix (an MD5).
_MAX_JOB_NAME = 63
_RUN_ID_LENGTH = 32
#: An uploaded object's execution name: the same upload (bucket, key, S3's sequencer) always hashes
#: alike, so a duplicate event starts nothing (36 characters).
UPLOAD_RUN_NAME = ("States.Format('new-{}', States.Hash(States.Format('{}/{}/{}', $.detail.bucket.name, "
                   "$.detail.object.key, $.detail.object.sequencer), 'MD5'))")


class BatchTransform(Construct):
    """A state machine that runs a batch transform of a SageMaker model over
    `s3://<bucket>/<input_prefix>` and writes `<output_prefix><execution name>/`.

    Each input line is one text (`text/plain`, split by line, one record per request); each
    output line is the service's JSON answer for the line at the same position. The job's
    volume and output are encrypted with `encryption_key`; the state machine logs every event
    and is traced with X-Ray. Start it with `aws stepfunctions start-execution` (the whole
    prefix), or with `start_on_upload` every new object under the prefix starts a run over that
    object, once per upload (the bucket must send its events to EventBridge).
    `SageMakerEndpoint.add_batch_transform()` builds one for an endpoint's model.

    Every job is named `<job_name_prefix>-<MD5 of the execution's id>`; the prefix comes from the
    stack's name and this construct's path, so the state machine may start, stop, describe and
    tag only its own jobs, and the model's role may write only their logs.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_name: str,
        role: iam.IRole,
        bucket: s3.IBucket,
        encryption_key: kms.IKey,
        input_prefix: str = "batch-input/",
        output_prefix: str = "batch-output/",
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        max_concurrent_transforms: int = 2,
        timeout: Optional[Duration] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.TWO_WEEKS,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        start_on_upload: bool = False,
        alarm_topic: Optional[sns.ITopic] = None,
    ) -> None:
        """
        :param model_name: the SageMaker model the jobs run (`SageMakerEndpoint.model.attr_model_name`).
        :param role: the model's execution role: SageMaker reads the inputs and writes the
            answers with it, so it is granted both prefixes.
        :param bucket: the bucket holding the inputs and the answers.
        :param encryption_key: encrypts the answers and the job's volume (the bucket's key).
        :param input_prefix: where the input files are. Default: `batch-input/`.
        :param output_prefix: where each run writes, under its execution name. Default:
            `batch-output/`.
        :param instance_type: the transform's instances. Default: ml.m5.large.
        :param instance_count: Default: 1. :param max_concurrent_transforms: requests in flight
            per instance. Default: 2.
        :param timeout: the longest a run may take. Default: 6 hours.
        :param log_retention: how long the state machine's logs are kept. Default: two weeks.
        :param removal_policy: what `cdk destroy` does with the log group. Default: RETAIN.
        :param start_on_upload: each object created under `input_prefix` starts a run over that
            object (S3 → EventBridge → `DeduplicatedStart`: a duplicate event starts nothing).
            The bucket must have EventBridge notifications on. Default: False.
        :param alarm_topic: an alarm on failed or timed-out runs notifies this topic. Default: no alarm.
        """
        super().__init__(scope, construct_id)
        if not INSTANCE_TYPE.match(instance_type):
            raise ValueError(f"instance_type {instance_type!r} is not a SageMaker instance type such as ml.m5.large")
        if instance_count < 1 or max_concurrent_transforms < 1:
            raise ValueError("instance_count and max_concurrent_transforms must be at least 1")
        for name, prefix in (("input_prefix", input_prefix), ("output_prefix", output_prefix)):
            if not prefix.endswith("/") or prefix.startswith("/"):
                raise ValueError(f"{name} {prefix!r} must be a key prefix such as 'batch-input/'")
        grant_prefix(role, bucket, encryption_key, action="s3:GetObject", prefix=input_prefix,
                     reason="The transform reads every input file under this prefix.")
        grant_prefix(role, bucket, encryption_key, action="s3:PutObject", prefix=output_prefix,
                     reason="Each run writes under its own execution name.")
        #: What every job this state machine starts is named with: `<prefix>-<run id>`.
        self.job_name_prefix = transform_job_prefix(self)
        _grant_job_logs(role, self.job_name_prefix)
        #: Where inputs go.
        self.input_uri = bucket.s3_url_for_object(input_prefix)
        #: Where each run's answers land, under its execution name.
        self.output_uri = bucket.s3_url_for_object(output_prefix)

        transform = tasks.SageMakerCreateTransformJob(
            self,
            "Transform",
            # Execution names may be 80 characters long; job names 63.
            transform_job_name=sfn.JsonPath.format(
                f"{self.job_name_prefix}-{{}}", sfn.JsonPath.hash(sfn.JsonPath.string_at("$$.Execution.Id"), "MD5")
            ),
            model_name=model_name,
            role=role,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            batch_strategy=tasks.BatchStrategy.SINGLE_RECORD,
            max_concurrent_transforms=max_concurrent_transforms,
            transform_input=tasks.TransformInput(
                transform_data_source=tasks.TransformDataSource(
                    s3_data_source=tasks.TransformS3DataSource(
                        s3_uri=sfn.JsonPath.string_at("$.batch.input_uri"), s3_data_type=tasks.S3DataType.S3_PREFIX
                    )
                ),
                content_type=BATCH_CONTENT_TYPE,
                split_type=tasks.SplitType.LINE,
            ),
            transform_output=tasks.TransformOutput(
                s3_output_path=sfn.JsonPath.format(
                    f"s3://{bucket.bucket_name}/{output_prefix}{{}}/", sfn.JsonPath.string_at("$$.Execution.Name")
                ),
                encryption_key=encryption_key,
                accept="application/json",
                assemble_with=tasks.AssembleWith.LINE,
            ),
            transform_resources=tasks.TransformResources(
                instance_count=instance_count,
                instance_type=ec2.InstanceType(instance_type.removeprefix("ml.")),
                volume_encryption_key=None if has_instance_storage(instance_type) else encryption_key,
            ),
        )
        #: The state machine's log group.
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=removal_policy)
        jobs = Stack.of(self).format_arn(
            service="sagemaker", resource="transform-job", resource_name=f"{self.job_name_prefix}-*"
        )
        #: The state machine's role: the SageMaker actions the task needs on this state machine's jobs only.
        self.role = WildcardSplittingRole(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Runs the batch transform state machine: its own transform jobs, logs, traces",
            rewrite=lambda statement: _scope_to_jobs(statement, jobs),
        )
        #: The state machine that runs the batch transform.
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(
                self._which_input(bucket, input_prefix).afterwards().next(transform)
            ),
            timeout=timeout or Duration.hours(6),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            role=self.role,
        )
        acknowledge_grant(
            self.role,
            iam5_resource_finding(self, jobs),
            "Each run names its job after its execution (a hash, unknown at deploy time) behind this state "
            "machine's own prefix.",
        )
        #: Starts a run once per uploaded object (with `start_on_upload`); else None.
        self.upload_start: Optional[DeduplicatedStart] = None
        #: The rule on objects created under `input_prefix` (with `start_on_upload`); else None.
        self.upload_rule: Optional[events.Rule] = None
        if start_on_upload:
            self.upload_start = DeduplicatedStart(
                self, "UploadStart", target=self.state_machine, name=UPLOAD_RUN_NAME,
                target_input={"detail.$": "$.detail"}, log_retention=log_retention, removal_policy=removal_policy,
                alarm_topic=alarm_topic)
            self.upload_rule = events.Rule(
                self, "OnUpload", description="A new batch input file starts a transform of it",
                event_pattern=events.EventPattern(
                    source=["aws.s3"], detail_type=["Object Created"],
                    detail={"bucket": {"name": [bucket.bucket_name]}, "object": {"key": [{"prefix": input_prefix}]}}),
                targets=[targets.SfnStateMachine(self.upload_start.state_machine)])
        #: The alarm on failed or timed-out runs (with `alarm_topic`); else None.
        self.failed_alarm = (failed_executions_alarm(self, self.state_machine, alarm_topic, what="the batch transform")
                             if alarm_topic is not None else None)

    def _which_input(self, bucket: s3.IBucket, input_prefix: str) -> sfn.Choice:
        """An upload event's object, or (started by hand) the whole input prefix, as $.batch.input_uri."""
        one = sfn.Pass(self, "UploadedObject", comment="Started by an upload: transform that object",
                       parameters={"input_uri": sfn.JsonPath.format(f"s3://{bucket.bucket_name}/{{}}",
                                                                    sfn.JsonPath.string_at("$.detail.object.key"))},
                       result_path="$.batch")
        every = sfn.Pass(self, "WholePrefix", comment="Started by hand: transform every input file",
                         parameters={"input_uri": self.input_uri}, result_path="$.batch")
        return (sfn.Choice(self, "WhichInput")
                .when(sfn.Condition.is_present("$.detail.object.key"), one)
                .otherwise(every))


def transform_job_prefix(scope: Construct) -> str:
    """A job-name prefix of at most 30 characters, unique to `scope` in its stack: the stack's name
    (lowercase, as SageMaker writes job ARNs), shortened, then a hash of the name and the path."""
    stack = Stack.of(scope)
    if Token.is_unresolved(stack.stack_name):
        raise ValueError("BatchTransform needs a stack whose name is known at synth: give the stack a stack_name")
    path = scope.node.path[len(stack.node.path) + 1 :] if stack.node.path else scope.node.path
    digest = hashlib.sha256(f"{stack.stack_name}/{path}".encode()).hexdigest()[:8]
    budget = _MAX_JOB_NAME - _RUN_ID_LENGTH - 1 - len(digest) - 1
    readable = re.sub("[^a-z0-9]+", "-", stack.stack_name.lower())[:budget].strip("-")
    return f"{readable}-{digest}" if readable else digest


def _scope_to_jobs(statement: iam.PolicyStatement, jobs: str) -> list[iam.PolicyStatement]:
    """The SageMaker actions of `statement` on this state machine's jobs; its other actions as they were."""
    sagemaker_actions = [action for action in statement.actions if action.startswith("sagemaker:")]
    if not sagemaker_actions:
        return [statement]
    scoped = [iam.PolicyStatement(actions=sagemaker_actions, resources=[jobs])]
    others = [action for action in statement.actions if not action.startswith("sagemaker:")]
    if others:
        scoped.append(
            iam.PolicyStatement(
                effect=statement.effect,
                actions=others,
                resources=list(statement.resources),
                conditions=statement.conditions or None,
            )
        )
    return scoped


def _grant_job_logs(role: iam.IRole, prefix: str) -> None:
    """The model's role writes the jobs' logs: streams `<job name>/...` in SageMaker's one
    /aws/sagemaker/TransformJobs group, which every transform job of the account shares."""
    stack = Stack.of(role)
    group = stack.format_arn(
        service="logs", resource="log-group", resource_name="/aws/sagemaker/TransformJobs",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    streams = f"{group}:log-stream:{prefix}-*"
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"], resources=[group, f"{group}:*"])
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[streams])
    )
    acknowledge_grant(
        role,
        iam5_resource_finding(role, f"{group}:*"),
        "Creating and listing streams in SageMaker's one transform-job log group (the ':*' is how CloudWatch "
        "Logs names a group for these actions); writing is held to this state machine's jobs.",
    )
    acknowledge_grant(
        role,
        iam5_resource_finding(role, streams),
        "The log streams of this state machine's jobs: SageMaker names them after the job, whose run id is "
        "unknown at deploy time.",
    )


__all__ = ["BATCH_CONTENT_TYPE", "BatchTransform", "UPLOAD_RUN_NAME", "transform_job_prefix"]
