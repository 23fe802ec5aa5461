"""TrainingWorkflow: train (SageMaker) → read metrics.json → gate → register in the Model Registry → notify."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .._checks import iam5_resource_finding, skip_checkov
from .._iam import acknowledge_grant
from .._workflows import guarded, logged_state_machine, notify
from ..sagemaker.capacity import has_instance_storage
from .image import BaseModel
from .settings import QualityGate, TrainingCompute
from .storage import TrainingPrefixes

#: Where SageMaker syncs checkpoints from and to (train.py's --checkpoint-dir).
CHECKPOINT_DIR = "/opt/ml/checkpoints"
#: The log line train.py prints, as SageMaker metric definitions (the console and CloudWatch show them).
METRIC_DEFINITIONS = [
    {"Name": "accuracy", "Regex": "metrics: accuracy=([0-9.]+)"},
    {"Name": "f1", "Regex": " f1=([0-9.]+)"},
]
#: What the serving image answers: the model package's content types.
CONTENT_TYPES = ["application/json", "text/plain"]


class TrainingWorkflow(Construct):
    """The training state machine. Its input is free (the trigger's event); its execution name
    names the training job (`<job_prefix>-<execution name>`), so it must be letters, digits and '-'.

    Train (`createTrainingJob.sync`: script mode, Spot with checkpoints, uncompressed output) →
    ReadMetrics (S3 GetObject of the job's metrics.json) → [FindApproved → the approved model's
    metrics] → Gate (Choice) → Register (CreateModelPackage with the metrics) → Notify. A model
    below the gate is reported and the run succeeds; any error notifies `topic` and fails the run.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        key: kms.IKey,
        prefixes: TrainingPrefixes,
        image_uri: str,
        job_role: iam.IRole,
        compute: TrainingCompute,
        hyperparameters: Mapping[str, str],
        base_model: BaseModel,
        gate: QualityGate,
        model_package_group_name: str,
        approval_status: str,
        serving_image_uri: str,
        topic: sns.ITopic,
        job_prefix: str,
        debounce: Duration,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self._bucket, self._key, self._prefixes = bucket, key, prefixes
        self._group = model_package_group_name
        job_name = f"States.Format('{job_prefix}-{{}}', $$.Execution.Name)"
        job = sfn.JsonPath.string_at("$.training.job_name")
        # SageMaker writes an uncompressed model to <S3OutputPath><job name>/output/model/.
        metrics_key = sfn.JsonPath.format(f"{prefixes.models}{{}}/output/model/metrics.json", job)
        metrics_uri = sfn.JsonPath.format(f"s3://{bucket.bucket_name}/{prefixes.models}{{}}/output/model/metrics.json", job)

        train = self._train(image_uri, job_role, compute, hyperparameters, base_model, job_name)
        read_metrics = tasks.CallAwsService(
            self,
            "ReadMetrics",
            comment="metrics.json from the job's uncompressed model directory",
            service="s3",
            action="getObject",
            parameters={"Bucket": bucket.bucket_name, "Key": metrics_key},
            iam_resources=[bucket.arn_for_objects(f"{prefixes.models}*/output/model/metrics.json")],
            result_selector={"metrics.$": "States.StringToJson($.Body)"},
            result_path="$.evaluation",
        )
        register = self._register(approval_status, serving_image_uri, metrics_uri)
        metrics = {"training_job": job, "accuracy": sfn.JsonPath.number_at("$.evaluation.metrics.accuracy"),
                   "f1": sfn.JsonPath.number_at("$.evaluation.metrics.f1")}
        notify_registered = notify(self, "NotifyRegistered", topic, "New model registered", {
            "result": "registered", "model_package_arn": sfn.JsonPath.string_at("$.registered.arn"),
            "approval_status": approval_status, **metrics})
        notify_rejected = notify(self, "NotifyRejected", topic, "Trained model rejected by the quality gate", {
            "result": "rejected", **metrics,
            "required": {"min_accuracy": gate.min_accuracy, "min_f1": gate.min_f1,
                         "baseline": sfn.JsonPath.object_at("$.baseline")}})
        passes = sfn.Condition.and_(
            sfn.Condition.number_greater_than_equals("$.evaluation.metrics.accuracy", gate.min_accuracy),
            sfn.Condition.number_greater_than_equals("$.evaluation.metrics.f1", gate.min_f1),
            sfn.Condition.number_greater_than_equals_json_path("$.evaluation.metrics.accuracy", "$.baseline.accuracy"),
            sfn.Condition.number_greater_than_equals_json_path("$.evaluation.metrics.f1", "$.baseline.f1"),
        )
        gate_choice = (
            sfn.Choice(self, "Gate", comment="Thresholds, and no worse than the approved model")
            .when(passes, register.next(notify_registered).next(sfn.Succeed(self, "Registered")))
            .otherwise(notify_rejected.next(sfn.Succeed(self, "Rejected")))
        )
        no_baseline = sfn.Pass(self, "NoApprovedModel", result=sfn.Result.from_object({"accuracy": 0, "f1": 0}),
                               result_path="$.baseline")
        baseline = self._baseline(no_baseline, gate_choice) if gate.not_worse_than_approved else no_baseline.next(gate_choice)

        steps = sfn.Chain.start(train)
        if debounce.to_seconds() > 0:
            # Uploads arrive file by file: wait for the rest of the burst before the job reads the prefix.
            wait = sfn.Wait(self, "Debounce", time=sfn.WaitTime.duration(debounce),
                            comment="Let the rest of a burst of uploads land first")
            steps = sfn.Chain.start(wait).next(train)
        definition = guarded(self, steps.next(read_metrics).next(baseline), topic=topic,
                             subject="Model training failed", error="TrainingRunFailed")
        timeout = Duration.seconds(debounce.to_seconds() + (compute.max_wait or compute.max_runtime).to_seconds() + 3600)
        #: The state machine, and its log group.
        self.state_machine, self.log_group = logged_state_machine(
            self, definition=definition, timeout=timeout,
            log_retention=log_retention, removal_policy=removal_policy,
        )
        self._grant_training(job_role, job_prefix)
        key.grant_decrypt(self.state_machine)
        # checkov (cloudsplaining) reads an ARN built with Fn::Join as '*'.
        skip_checkov(self.state_machine.role.node.find_child("DefaultPolicy"),
                     CKV_AWS_108="s3:GetObject is granted on the training jobs' metrics.json objects only (an Fn::Join "
                     "ARN that cloudsplaining reads as '*').")

    # -- states ----------------------------------------------------------------------------

    def _train(self, image_uri: str, job_role: iam.IRole, compute: TrainingCompute, hyperparameters: Mapping[str, str],
               base_model: BaseModel, job_name: str) -> sfn.CustomState:
        bucket, prefixes = self._bucket, self._prefixes
        channels = [("train", prefixes.train), ("eval", prefixes.eval)]
        if base_model.prefix is not None:
            channels.append(("base", base_model.prefix))
        resources: dict[str, Any] = {
            "InstanceCount": 1, "InstanceType": compute.instance_type, "VolumeSizeInGB": compute.volume_size_gib,
        }
        if not has_instance_storage(compute.instance_type):
            resources["VolumeKmsKeyId"] = self._key.key_arn
        stopping: dict[str, Any] = {"MaxRuntimeInSeconds": int(compute.max_runtime.to_seconds())}
        parameters: dict[str, Any] = {
            "TrainingJobName.$": job_name,
            "RoleArn": job_role.role_arn,
            "AlgorithmSpecification": {
                "TrainingImage": image_uri, "TrainingInputMode": "File", "MetricDefinitions": METRIC_DEFINITIONS,
            },
            "HyperParameters": dict(hyperparameters),
            "InputDataConfig": [
                {"ChannelName": name, "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket.bucket_name}/{prefix}",
                    "S3DataDistributionType": "FullyReplicated"}}}
                for name, prefix in channels
            ],
            # Uncompressed: the model directory lands as files that ReadMetrics, SageMaker
            # (ModelDataSource) and `make deploy MODEL_PACKAGE=` read as they are.
            "OutputDataConfig": {"S3OutputPath": f"s3://{bucket.bucket_name}/{prefixes.models}",
                                 "KmsKeyId": self._key.key_arn, "CompressionType": "NONE"},
            "ResourceConfig": resources,
            "StoppingCondition": stopping,
            "EnableNetworkIsolation": not base_model.needs_internet,
        }
        if compute.uses_spot:
            assert compute.max_wait is not None
            parameters["EnableManagedSpotTraining"] = True
            stopping["MaxWaitTimeInSeconds"] = int(compute.max_wait.to_seconds())
            parameters["CheckpointConfig"] = {
                "S3Uri.$": f"States.Format('s3://{bucket.bucket_name}/{prefixes.checkpoints}{{}}/', $$.Execution.Name)",
                "LocalPath": CHECKPOINT_DIR,
            }
        return sfn.CustomState(self, "Train", state_json={
            "Type": "Task",
            "Comment": "train.py on SageMaker; the run waits for the job",
            "Resource": f"arn:{Stack.of(self).partition}:states:::sagemaker:createTrainingJob.sync",
            "Parameters": parameters,
            "ResultSelector": {"job_name.$": "$.TrainingJobName", "model_uri.$": "$.ModelArtifacts.S3ModelArtifacts"},
            "ResultPath": "$.training",
        })

    def _baseline(self, no_baseline: sfn.Pass, gate: sfn.Choice) -> sfn.IChainable:
        find = tasks.CallAwsService(
            self,
            "FindApproved",
            comment="The newest approved model of the group, if any",
            service="sagemaker",
            action="listModelPackages",
            iam_action="sagemaker:ListModelPackages",
            parameters={"ModelPackageGroupName": self._group, "ModelApprovalStatus": "Approved",
                        "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 1},
            iam_resources=["*"],
            result_selector={"packages.$": "$.ModelPackageSummaryList"},
            result_path="$.approved",
        )
        describe = tasks.CallAwsService(
            self,
            "DescribeApproved",
            service="sagemaker",
            action="describeModelPackage",
            parameters={"ModelPackageName": sfn.JsonPath.string_at("$.approved.packages[0].ModelPackageArn")},
            iam_resources=[self._package_arns()],
            result_selector={"arn.$": "$.ModelPackageArn", "metadata.$": "$.CustomerMetadataProperties"},
            result_path="$.approved_package",
        )
        read = sfn.Pass(
            self,
            "ApprovedMetrics",
            parameters={"accuracy.$": "States.StringToJson($.approved_package.metadata.accuracy)",
                        "f1.$": "States.StringToJson($.approved_package.metadata.f1)"},
            result_path="$.baseline",
        )
        has_approved = sfn.Choice(self, "HasApproved").when(
            sfn.Condition.is_present("$.approved.packages[0]"), describe.next(read).next(gate)
        ).otherwise(no_baseline.next(gate))
        return find.next(has_approved)

    def _register(self, approval_status: str, serving_image_uri: str, metrics_uri: str) -> tasks.CallAwsService:
        def metric(name: str) -> str:
            # Customer metadata holds strings: "0.9123"; ApprovedMetrics reads them back as numbers.
            return sfn.JsonPath.json_to_string(sfn.JsonPath.object_at(f"$.evaluation.metrics.{name}"))

        return tasks.CallAwsService(
            self,
            "Register",
            comment="A model package with the metrics, in the group",
            service="sagemaker",
            action="createModelPackage",
            parameters={
                "ModelPackageGroupName": self._group,
                "ModelPackageDescription": sfn.JsonPath.format("Trained by {}", sfn.JsonPath.string_at("$.training.job_name")),
                "ModelApprovalStatus": approval_status,
                # One package per job, however often the state is retried.
                "ClientToken": sfn.JsonPath.string_at("$.training.job_name"),
                "InferenceSpecification": {
                    "Containers": [{
                        "Image": serving_image_uri,
                        "ModelDataSource": {"S3DataSource": {"S3Uri": sfn.JsonPath.string_at("$.training.model_uri"),
                                                             "S3DataType": "S3Prefix", "CompressionType": "None"}},
                    }],
                    "SupportedContentTypes": CONTENT_TYPES,
                    "SupportedResponseMIMETypes": ["application/json"],
                },
                "ModelMetrics": {"ModelQuality": {"Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": metrics_uri,
                }}},
                "CustomerMetadataProperties": {
                    "accuracy": metric("accuracy"),
                    "f1": metric("f1"),
                    "training_job": sfn.JsonPath.string_at("$.training.job_name"),
                },
            },
            iam_resources=[self._package_arns(), self._group_arn()],
            result_selector={"arn.$": "$.ModelPackageArn"},
            result_path="$.registered",
        )

    # -- permissions -----------------------------------------------------------------------

    def _package_arns(self) -> str:
        return Stack.of(self).format_arn(service="sagemaker", resource="model-package", resource_name=f"{self._group}/*")

    def _group_arn(self) -> str:
        return Stack.of(self).format_arn(service="sagemaker", resource="model-package-group", resource_name=self._group)

    def _grant_training(self, job_role: iam.IRole, job_prefix: str) -> None:
        """What `createTrainingJob.sync` needs: the job, the managed rule it waits with, PassRole."""
        stack = Stack.of(self)
        jobs = stack.format_arn(service="sagemaker", resource="training-job", resource_name=f"{job_prefix}-*")
        rule = stack.format_arn(service="events", resource="rule", resource_name="StepFunctionsGetEventsForSageMakerTrainingJobsRule")
        role = self.state_machine.role
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"],
            resources=[jobs]))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"], resources=[rule]))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["iam:PassRole"], resources=[job_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))
        for finding, reason in (
            (iam5_resource_finding(self, jobs),
             "Each run names its training job after the execution; the prefix is this workflow's own."),
            (iam5_resource_finding(self, self._package_arns()),
             "Model package versions are numbered by SageMaker as they are created in this group."),
            (iam5_resource_finding(self, self._bucket.arn_for_objects(f"{self._prefixes.models}*/output/model/metrics.json")),
             "Each job writes its metrics.json under its own name; only those files are readable."),
        ):
            acknowledge_grant(role, finding, reason)


__all__ = ["CHECKPOINT_DIR", "CONTENT_TYPES", "METRIC_DEFINITIONS", "TrainingWorkflow"]
