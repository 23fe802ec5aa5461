"""TrainingPipeline: new data (or a schedule) → a SageMaker training job → the quality gate → the
Model Registry → on approval, the new model in production."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Optional

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .._alarms import encrypted_alarm_topic
from .._checks import iam5_resource_finding
from .._iam import WildcardSplittingRole, acknowledge_grant
from .._workflows import DeduplicatedStart, failed_executions_alarm
from ..model_image import ModelImage
from ..sagemaker.endpoint import SageMakerEndpoint
from .image import BaseModel, TrainingImage
from .rollout import ModelRollout
from .settings import QualityGate, TrainingCompute
from .storage import TrainingPrefixes, new_training_bucket
from .workflow import CHECKPOINT_DIR, TrainingWorkflow

#: Hyperparameters train.py gets unless `hyperparameters` says otherwise.
DEFAULT_HYPERPARAMETERS: Mapping[str, str] = {"epochs": "2", "learning_rate": "2e-5", "batch_size": "16", "max_length": "256"}
#: Hyperparameters the construct sets itself (the job's layout): not accepted from users.
_RESERVED = {"model_name_or_path", "model_revision", "output_dir", "model_dir", "output_data_dir", "train_file", "eval_file",
             "checkpoint_dir", "export_onnx", "dataset"}
_HYPERPARAMETER = re.compile(r"^[a-z][a-z0-9_-]*$")
#: The execution name of a data- or schedule-started run: its UTC hour ("run-2024-05-01T12").
HOURLY_RUN_NAME = "States.Format('run-{}', States.ArrayGetItem(States.StringSplit($.time, ':'), 0))"


def derived_name(scope: Construct, *, max_length: int = 63) -> str:
    """A name for a resource that must have one (a model package group), unique per account and
    region because it starts with the stack's CloudFormation name (which carries the stage), then
    the construct's path; lowercase (SageMaker ARNs are), at most `max_length` characters."""
    stack = Stack.of(scope)
    path = scope.node.path[len(stack.node.path) + 1:] if stack.node.path else scope.node.path
    name = re.sub(r"[^a-z0-9]+", "-", f"{stack.stack_name}-{path}".lower()).strip("-")
    if len(name) > max_length:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[:max_length - 9].rstrip('-')}-{digest}"
    return name


def short_prefix(scope: Construct, letter: str) -> str:
    """`letter` + 8 hex digits from the stack name and construct path: the prefix of the jobs,
    models and configs a run names at run time (so IAM can scope them, and stages never clash)."""
    stack = Stack.of(scope)
    return letter + hashlib.sha256(f"{stack.stack_name}/{scope.node.path}".encode()).hexdigest()[:8]


class TrainingPipeline(Construct):
    """Models as build artefacts: data in the bucket's `train/` and `eval/` prefixes becomes a
    registered, gated model, and an approved model becomes the one in production.

    - A training image built from `training/` (CPU torch, or CUDA for a GPU `compute`), run as a
      SageMaker training job in script mode (hyperparameters from props, managed Spot with
      checkpoints in S3 by default, a KMS-encrypted volume and output, uncompressed output).
    - A state machine (`TrainingWorkflow`): train → read metrics.json → gate (thresholds, and no
      worse than the approved model) → a model package in a ModelPackageGroup with the metrics,
      PendingManualApproval (or Approved with `auto_approve`) → notify; any failure notifies.
    - Triggers: new objects under `train/` and an optional schedule, through `DeduplicatedStart`:
      one run per UTC hour, which waits `debounce` first so a burst of uploads is read whole.
    - On approval ("SageMaker Model Package State Change" to Approved): `ModelRollout` moves
      `endpoint` to the new model and starts `delivery_pipeline` with the package's ARN.

    Least privilege: the job's role reads only `train/`, `eval/` (and the base model's prefix)
    and writes only `models/` and `checkpoints/`; no physical names except the model package
    group's, derived from the stack name (see `derived_name`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        compute: Optional[TrainingCompute] = None,
        gate: Optional[QualityGate] = None,
        hyperparameters: Optional[Mapping[str, str]] = None,
        base_model: Optional[BaseModel] = None,
        prefixes: Optional[TrainingPrefixes] = None,
        schedule: Optional[events.Schedule] = None,
        start_on_new_data: bool = True,
        debounce: Optional[Duration] = None,
        auto_approve: bool = False,
        serving_image: Optional[ModelImage] = None,
        image: Optional[TrainingImage] = None,
        endpoint: Optional[SageMakerEndpoint] = None,
        delivery_pipeline: Optional[codepipeline.IPipeline] = None,
        encryption_key: Optional[kms.IKey] = None,
        alarm_topic: Optional[sns.ITopic] = None,
        checkpoint_expiration: Optional[Duration] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.TWO_WEEKS,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """
        :param compute: the job's instance. Default: `TrainingCompute.spot()` (ml.m5.xlarge, 4 h
            runtime, 8 h wait).
        :param gate: what a model must reach to be registered. Default: `QualityGate()`
            (accuracy and F1 0.85, no worse than the approved model).
        :param hyperparameters: train.py options (`epochs`, `learning_rate`, ...; strings), over
            `DEFAULT_HYPERPARAMETERS`. The job's layout (paths, base model, checkpoints, ONNX
            export) is the construct's.
        :param base_model: Default: `BaseModel.from_hub()`, distilbert-base-uncased at `DEFAULT_BASE_REVISION`.
        :param prefixes: the bucket's layout. Default: `TrainingPrefixes()` (train/, eval/, ...).
        :param schedule: also train on this schedule (`events.Schedule.cron(...)`). Default: none.
        :param start_on_new_data: train when objects are created under `train/`. Default: True.
        :param debounce: how long a run waits before the job reads the data. Default: 10 minutes.
        :param auto_approve: register models as Approved (which rolls them out). Default: False,
            PendingManualApproval.
        :param serving_image: the image a model package names (the `server` target). Default: a
            new `ModelImage` (the same asset the SageMaker stack builds).
        :param image: the training image. Default: a new `TrainingImage` (CUDA for GPU compute).
        :param endpoint: the SageMaker endpoint that approved models roll out to. Default: none.
        :param delivery_pipeline: a CodePipeline (V2) to start on approval with the variable
            `MODEL_PACKAGE_ARN`. Default: none.
        :param encryption_key: the bucket's, the volumes' and the artifacts' key. Default: a new
            key with rotation.
        :param alarm_topic: notifications and alarms. Default: a new KMS-encrypted topic.
        :param checkpoint_expiration: how long Spot checkpoints are kept. Default: 14 days.
        :param log_retention: the state machines' logs. Default: two weeks.
        :param removal_policy: key, buckets, logs, model package group. Default: RETAIN.
        """
        super().__init__(scope, construct_id)
        compute = compute or TrainingCompute.spot()
        gate = gate or QualityGate()
        base_model = base_model or BaseModel.from_hub()
        prefixes = prefixes or TrainingPrefixes()
        debounce = Duration.minutes(10) if debounce is None else debounce
        if not 0 <= debounce.to_seconds() <= 3600:
            raise ValueError("debounce must be between zero and one hour (runs are per UTC hour)")
        if image is not None and image.gpu != compute.gpu:
            raise ValueError(f"image was built with gpu={image.gpu} but {compute.instance_type} "
                             f"{'has' if compute.gpu else 'has no'} GPU")
        job_hyperparameters = _hyperparameters(hyperparameters or {}, base_model, compute)

        #: The KMS key of the bucket, the job's volume and output.
        self.key: kms.IKey = encryption_key or kms.Key(
            self, "Key", description="Encrypts training data, checkpoints and model artifacts",
            enable_key_rotation=True, removal_policy=removal_policy)
        #: The bucket layout.
        self.prefixes = prefixes
        #: The training bucket, and the bucket its access logs go to.
        self.bucket, self.access_log_bucket = new_training_bucket(
            self, key=self.key, prefixes=prefixes, checkpoint_expiration=checkpoint_expiration or Duration.days(14),
            removal_policy=removal_policy)
        #: The training image.
        self.image = image or TrainingImage(self, "Image", gpu=compute.gpu)
        #: The image model packages name.
        self.serving_image = serving_image or ModelImage(self, "ServingImage")
        #: The role the training job runs with.
        self.job_role = self._job_role(base_model)
        #: The Model Registry group (its name: `model_package_group_name`).
        self.model_package_group_name = derived_name(self)
        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self, "ModelPackageGroup", model_package_group_name=self.model_package_group_name,
            model_package_group_description=f"Models trained by {self.node.path}")
        self.model_package_group.apply_removal_policy(removal_policy)
        #: Where notifications and alarms go.
        self.topic: sns.ITopic = alarm_topic or encrypted_alarm_topic(self, removal_policy)
        #: The approval status new packages get.
        self.approval_status = "Approved" if auto_approve else "PendingManualApproval"

        #: The training state machine.
        self.workflow = TrainingWorkflow(
            self, "Training", bucket=self.bucket, key=self.key, prefixes=prefixes, image_uri=self.image.image_uri,
            job_role=self.job_role, compute=compute, hyperparameters=job_hyperparameters, base_model=base_model,
            gate=gate, model_package_group_name=self.model_package_group_name,
            approval_status=self.approval_status, serving_image_uri=self.serving_image.image_uri(endpoint.image_target if endpoint else "server"),
            topic=self.topic, job_prefix=short_prefix(self, "t"), debounce=debounce,
            log_retention=log_retention, removal_policy=removal_policy)
        self.workflow.node.add_dependency(self.model_package_group)
        _grant_notify(self.topic, self.workflow.state_machine)
        #: The state machine the triggers start: one run per UTC hour.
        self.start = DeduplicatedStart(
            self, "Start", target=self.workflow.state_machine, name=HOURLY_RUN_NAME,
            target_input={"trigger.$": "$.detail-type", "time.$": "$.time"},
            log_retention=log_retention, removal_policy=removal_policy, alarm_topic=self.topic)
        #: The schedule rule (with `schedule`); else None.
        self.schedule_rule: Optional[events.Rule] = (
            events.Rule(self, "Schedule", schedule=schedule, description="Retrain on a schedule",
                        targets=[targets.SfnStateMachine(self.start.state_machine)])
            if schedule is not None else None)
        #: The rule on new objects under `train/` (with `start_on_new_data`); else None.
        self.data_rule: Optional[events.Rule] = (
            events.Rule(self, "NewData", description="Retrain when training data arrives",
                        event_pattern=events.EventPattern(
                            source=["aws.s3"], detail_type=["Object Created"],
                            detail={"bucket": {"name": [self.bucket.bucket_name]},
                                    "object": {"key": [{"prefix": prefixes.train}]}}),
                        targets=[targets.SfnStateMachine(self.start.state_machine)])
            if start_on_new_data else None)

        rollout = None
        if endpoint is not None or delivery_pipeline is not None:
            rollout = ModelRollout(
                self, "Rollout", model_package_group_name=self.model_package_group_name, bucket=self.bucket,
                key=self.key, models_prefix=prefixes.models, topic=self.topic, name_prefix=short_prefix(self, "r"),
                endpoint=endpoint, delivery_pipeline=delivery_pipeline, log_retention=log_retention,
                removal_policy=removal_policy)
            _grant_notify(self.topic, rollout.state_machine)
        #: The roll-out state machine (with `endpoint` or `delivery_pipeline`); else None.
        self.rollout: Optional[ModelRollout] = rollout
        #: Starts the roll-out once per approval event (with a roll-out); else None.
        self.rollout_start: Optional[DeduplicatedStart] = None
        #: The rule on packages of the group turning Approved (with a roll-out); else None.
        self.approval_rule: Optional[events.Rule] = None
        if rollout is not None:
            self.rollout_start = DeduplicatedStart(
                self, "RolloutStart", target=rollout.state_machine,
                name="States.Format('v{}-{}', $.detail.ModelPackageVersion, $.id)",
                target_input={"ModelPackageArn.$": "$.detail.ModelPackageArn"},
                log_retention=log_retention, removal_policy=removal_policy, alarm_topic=self.topic)
            self.approval_rule = events.Rule(
                self, "Approved", description="Roll out models approved in the registry",
                event_pattern=events.EventPattern(
                    source=["aws.sagemaker"], detail_type=["SageMaker Model Package State Change"],
                    detail={"ModelPackageGroupName": [self.model_package_group_name],
                            "ModelApprovalStatus": ["Approved"]}),
                targets=[targets.SfnStateMachine(self.rollout_start.state_machine)])

        #: Alarms on failed executions: training (and roll-out); the starters have their own (`start.alarm`).
        self.alarms: dict[str, cloudwatch.Alarm] = {
            "training_failed": failed_executions_alarm(self.workflow, self.workflow.state_machine, self.topic,
                                                       what="the training workflow")}
        if rollout is not None:
            self.alarms["rollout_failed"] = failed_executions_alarm(rollout, rollout.state_machine, self.topic,
                                                                    what="the model roll-out")

    @property
    def state_machine(self) -> sfn.StateMachine:
        """The training state machine (start it by hand with any input to train now)."""
        return self.workflow.state_machine

    def grant_upload(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` put training and evaluation data (which starts runs)."""
        self.key.grant_encrypt(grantee)
        return iam.Grant.add_to_principal(grantee=grantee, actions=["s3:PutObject"], resource_arns=[
            self.bucket.arn_for_objects(f"{self.prefixes.train}*"), self.bucket.arn_for_objects(f"{self.prefixes.eval}*")])

    def metric(self, metric_name: str, **options: Any) -> cloudwatch.Metric:
        """An AWS/States metric of the training state machine (ExecutionsFailed, ExecutionTime, ...)."""
        return self.workflow.state_machine.metric(metric_name, **options)

    # -- building blocks -------------------------------------------------------------------

    def _job_role(self, base_model: BaseModel) -> iam.Role:
        prefixes, bucket = self.prefixes, self.bucket
        role = WildcardSplittingRole(self, "JobRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                        description="Runs the model training job: reads its data, writes its model and checkpoints")
        self.image.grant_pull(role)
        inputs = [prefixes.train, prefixes.eval] + ([base_model.prefix] if base_model.prefix else [])
        reads = [bucket.arn_for_objects(f"{p}*") for p in [*inputs, prefixes.checkpoints]]
        writes = [bucket.arn_for_objects(f"{p}*") for p in (prefixes.models, prefixes.checkpoints)]
        role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=reads))
        role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=writes))
        role.add_to_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in [*inputs, prefixes.checkpoints]]}}))
        self.key.grant(role, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")
        # The volume key: SageMaker attaches the encrypted volume through a grant for this role.
        role.add_to_policy(iam.PolicyStatement(actions=["kms:CreateGrant"], resources=[self.key.key_arn],
                                               conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}}))
        stack = Stack.of(self)
        logs_arn = stack.format_arn(service="logs", resource="log-group", resource_name="/aws/sagemaker/TrainingJobs:*",
                                    arn_format=ArnFormat.COLON_RESOURCE_NAME)
        role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[logs_arn]))
        role.add_to_policy(iam.PolicyStatement(actions=["cloudwatch:PutMetricData"], resources=["*"],
                                               conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}))
        for arn in reads:
            acknowledge_grant(role, iam5_resource_finding(self, arn),
                              "The job reads every object under its input prefixes (and its own checkpoints), and only those.")
        acknowledge_grant(role, iam5_resource_finding(self, writes[0]),
                          "Each job writes its model and checkpoints under its own name, under these two prefixes only.")
        acknowledge_grant(role, iam5_resource_finding(self, logs_arn),
                          "SageMaker writes each job's logs to a stream named after the job in this group.")
        return role


def _grant_notify(topic: sns.ITopic, state_machine: sfn.StateMachine) -> None:
    topic.grant_publish(state_machine)
    acknowledge_grant(state_machine.role, "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                      "Publishing to the KMS-encrypted topic takes GenerateDataKey* on the topic's key (and only that key).")


def _hyperparameters(user: Mapping[str, str], base_model: BaseModel, compute: TrainingCompute) -> dict[str, str]:
    for key, value in user.items():
        name = key.replace("-", "_")
        if not _HYPERPARAMETER.match(key) or name in _RESERVED:
            raise ValueError(f"hyperparameter {key!r} is not allowed: use train.py option names such as 'epochs' "
                             f"(the construct sets {', '.join(sorted(_RESERVED))})")
        if not isinstance(value, str):
            raise ValueError(f"hyperparameter {key!r} must be a string (SageMaker passes them as text), got {value!r}")
    merged = {**DEFAULT_HYPERPARAMETERS, **{k.replace("-", "_"): v for k, v in user.items()}}
    merged.update(base_model.hyperparameters())
    merged["export_onnx"] = "true"
    if compute.uses_spot:
        merged["checkpoint_dir"] = CHECKPOINT_DIR
    return merged


__all__ = ["DEFAULT_HYPERPARAMETERS", "HOURLY_RUN_NAME", "TrainingPipeline", "derived_name", "short_prefix"]
