"""MlInference-Training and the TrainingPipeline construct: the templates, the state machines'
states and transitions, and their logic run locally with tests/cdk/asl_run.py (an ASL
interpreter: Step Functions Local is not available here)."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk.assertions import Match

from tests.cdk.asl import all_states, definition, transitions
from tests.cdk.asl_run import StatesError, run
from tests.conftest import STAGES

STACK = "MlInference-Training"
BUCKET = "<PipelineData9A1AA091>"
TOPIC = "<PipelineAlarmTopicD2AEE5E8>"


def _template(synthesized, stage):
    return synthesized(stage).templates[STACK]


def _training(synthesized, stage="dev"):
    return definition(_template(synthesized, stage), "PipelineTrainingStateMachine")


def _rollout(synthesized, stage="dev"):
    return definition(_template(synthesized, stage), "PipelineRolloutStateMachine")


# ---------------------------------------------------------------- the definition's shape


def test_the_training_state_machine_trains_gates_registers_and_notifies(synthesized):
    machine = _training(synthesized)
    states = all_states(machine)
    assert machine["StartAt"] == "Run" and states["Run"]["Type"] == "Parallel"
    expected = {
        ("Debounce", "Train"), ("Train", "ReadMetrics"), ("ReadMetrics", "FindApproved"),
        ("FindApproved", "HasApproved"), ("HasApproved", "DescribeApproved"), ("HasApproved", "NoApprovedModel"),
        ("DescribeApproved", "ApprovedMetrics"), ("ApprovedMetrics", "Gate"), ("NoApprovedModel", "Gate"),
        ("Gate", "Register"), ("Gate", "NotifyRejected"), ("Register", "NotifyRegistered"),
        ("NotifyRegistered", "Registered"), ("NotifyRejected", "Rejected"),
        ("Run", "Done"), ("Run", "NotifyFailed"), ("NotifyFailed", "Failed"),
    }
    assert transitions(machine) == expected
    train = states["Train"]
    assert train["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    assert states["Register"]["Resource"].endswith(":states:::aws-sdk:sagemaker:createModelPackage")
    assert states["ReadMetrics"]["Resource"].endswith(":states:::aws-sdk:s3:getObject")
    assert states["Run"]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailed"}]
    assert states["Failed"]["Type"] == "Fail"


@pytest.mark.parametrize("stage", STAGES)
def test_the_gate_holds_the_stage_thresholds_and_the_approved_baseline(synthesized, stage):
    from ml_inference_cdk.config import get_stage_config

    config = get_stage_config(stage)
    [rule] = all_states(_training(synthesized, stage))["Gate"]["Choices"]
    assert rule["Next"] == "Register"
    assert rule["And"] == [
        {"Variable": "$.evaluation.metrics.accuracy", "NumericGreaterThanEquals": config.training_min_accuracy},
        {"Variable": "$.evaluation.metrics.f1", "NumericGreaterThanEquals": config.training_min_f1},
        {"Variable": "$.evaluation.metrics.accuracy", "NumericGreaterThanEqualsPath": "$.baseline.accuracy"},
        {"Variable": "$.evaluation.metrics.f1", "NumericGreaterThanEqualsPath": "$.baseline.f1"},
    ]


@pytest.mark.parametrize(("stage", "status"), [("dev", "Approved"), ("staging", "PendingManualApproval"),
                                               ("prod", "PendingManualApproval")])
def test_packages_are_approved_automatically_only_in_dev(synthesized, stage, status):
    register = all_states(_training(synthesized, stage))["Register"]["Parameters"]
    assert register["ModelApprovalStatus"] == status
    assert register["ModelPackageGroupName"] == f"mlinference-training-{stage}-pipeline"


def test_the_training_job_is_spot_with_checkpoints_script_mode_and_encrypted(synthesized):
    parameters = all_states(_training(synthesized))["Train"]["Parameters"]
    assert parameters["EnableManagedSpotTraining"] is True
    stopping = parameters["StoppingCondition"]
    assert stopping["MaxWaitTimeInSeconds"] >= stopping["MaxRuntimeInSeconds"] == 240 * 60
    assert parameters["CheckpointConfig"] == {
        "S3Uri.$": f"States.Format('s3://{BUCKET}/checkpoints/{{}}/', $$.Execution.Name)", "LocalPath": "/opt/ml/checkpoints"}
    hyperparameters = parameters["HyperParameters"]
    assert hyperparameters["checkpoint_dir"] == "/opt/ml/checkpoints" and hyperparameters["export_onnx"] == "true"
    assert hyperparameters["epochs"] == "2" and hyperparameters["model_name_or_path"] == "distilbert-base-uncased"
    assert hyperparameters["model_revision"] == "12040accade4e8a0f71eabdb258fecc2e7e948be"  # the pinned Hub commit
    assert all(isinstance(v, str) for v in hyperparameters.values())
    assert [c["ChannelName"] for c in parameters["InputDataConfig"]] == ["train", "eval"]
    assert parameters["InputDataConfig"][1]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/eval/"
    assert parameters["OutputDataConfig"] == {"S3OutputPath": f"s3://{BUCKET}/models/", "CompressionType": "NONE",
                                              "KmsKeyId": "<PipelineKeyF48EE773.Arn>"}
    assert parameters["ResourceConfig"]["VolumeKmsKeyId"] == "<PipelineKeyF48EE773.Arn>"
    assert parameters["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert re.fullmatch(r"States\.Format\('t[0-9a-f]{8}-\{\}', \$\$\.Execution\.Name\)", parameters["TrainingJobName.$"])


def test_stages_never_share_a_group_or_a_job_prefix(synthesized):
    groups, prefixes = set(), set()
    for stage in STAGES:
        groups |= {r["Properties"]["ModelPackageGroupName"] for r in _template(synthesized, stage)["Resources"].values()
                   if r["Type"] == "AWS::SageMaker::ModelPackageGroup"}
        prefixes.add(all_states(_training(synthesized, stage))["Train"]["Parameters"]["TrainingJobName.$"])
    assert len(groups) == len(prefixes) == len(STAGES)


# ---------------------------------------------------------------- the logic, run locally


class Services:
    """Answers the training state machine's tasks like SageMaker, S3 and SNS would."""

    def __init__(self, metrics, approved=None, train_error=None):
        self.metrics, self.approved, self.train_error = metrics, approved, train_error
        self.published: list[dict] = []
        self.registered: list[dict] = []

    def __call__(self, state, resource, parameters):
        if state == "Train":
            if self.train_error:
                raise StatesError("SageMaker.AmazonSageMakerException", self.train_error)
            job = parameters["TrainingJobName"]
            return {"TrainingJobName": job, "ModelArtifacts": {"S3ModelArtifacts": f"s3://{BUCKET}/models/{job}/output/model/"}}
        if state == "ReadMetrics":
            assert parameters == {"Bucket": BUCKET, "Key": f"models/{self.job}/output/model/metrics.json"}
            return {"Body": json.dumps(self.metrics), "ContentType": "application/json"}
        if state == "FindApproved":
            return {"ModelPackageSummaryList": [] if self.approved is None else [{"ModelPackageArn": "arn:approved/1"}]}
        if state == "DescribeApproved":
            assert parameters == {"ModelPackageName": "arn:approved/1"}
            return {"ModelPackageArn": "arn:approved/1", "CustomerMetadataProperties": self.approved}
        if state == "Register":
            self.registered.append(parameters)
            return {"ModelPackageArn": "arn:new/2"}
        if resource.endswith(":sns:publish"):
            assert parameters["TopicArn"] == TOPIC
            self.published.append(parameters["Message"])
            return {"MessageId": "1"}
        raise AssertionError(f"unexpected task {state}")

    def train(self, synthesized, stage="dev", name="run-2026-12-02T12"):
        machine = _training(synthesized, stage)
        prefix = re.search(r"'(t[0-9a-f]{8})-", all_states(machine)["Train"]["Parameters"]["TrainingJobName.$"]).group(1)
        self.job = f"{prefix}-{name}"
        return run(machine, {"trigger": "Object Created", "time": "2026-12-02T12:01:02Z"}, self, execution_name=name)


GOOD = {"accuracy": 0.91, "f1": 0.9, "precision": 0.9, "recall": 0.9, "model_version": "m@1"}


def test_a_first_model_above_the_thresholds_is_registered_with_its_metrics(synthesized):
    services = Services(GOOD)
    _, trace = services.train(synthesized)
    assert trace.waits == 1 and trace.states[-1] == "Done"
    [package] = services.registered
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["CustomerMetadataProperties"] == {"accuracy": "0.91", "f1": "0.9", "training_job": services.job}
    assert package["ClientToken"] == services.job
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataSource"]["S3DataSource"] == {
        "S3Uri": f"s3://{BUCKET}/models/{services.job}/output/model/", "S3DataType": "S3Prefix", "CompressionType": "None"}
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == \
        f"s3://{BUCKET}/models/{services.job}/output/model/metrics.json"
    assert services.published == [{"result": "registered", "model_package_arn": "arn:new/2", "approval_status": "Approved",
                                   "training_job": services.job, "accuracy": 0.91, "f1": 0.9}]


@pytest.mark.parametrize(("metrics", "approved", "registered"), [
    ({"accuracy": 0.84, "f1": 0.9}, None, False),                          # below the accuracy threshold
    ({"accuracy": 0.9, "f1": 0.849}, None, False),                         # below the F1 threshold
    ({"accuracy": 0.9, "f1": 0.9}, {"accuracy": "0.93", "f1": "0.85"}, False),   # worse than the approved model
    ({"accuracy": 0.9, "f1": 0.9}, {"accuracy": "0.9", "f1": "0.9"}, True),      # as good: not worse
    ({"accuracy": 0.95, "f1": 0.91}, {"accuracy": "0.93", "f1": "0.9"}, True),   # better
], ids=["low-accuracy", "low-f1", "worse-than-approved", "equal-to-approved", "better"])
def test_the_gate(synthesized, metrics, approved, registered):
    services = Services(metrics, approved)
    _, trace = services.train(synthesized)
    assert bool(services.registered) == registered
    assert trace.states[-1] == "Done"
    [message] = services.published
    assert message["result"] == ("registered" if registered else "rejected")
    if not registered:
        assert message["required"]["baseline"] == ({"accuracy": 0, "f1": 0} if approved is None else
                                                   {k: float(v) for k, v in approved.items()})


@pytest.mark.parametrize(("services", "error"), [
    (Services(GOOD, train_error="ClientError: No S3 objects found under S3 URL"), "SageMaker.AmazonSageMakerException"),
    (Services({"accuracy": 0.9}), "States.Runtime"),                      # metrics.json without F1
], ids=["job-fails", "metrics-incomplete"])
def test_any_failure_notifies_and_fails_the_run(synthesized, services, error):
    with pytest.raises(StatesError) as excinfo:
        services.train(synthesized)
    assert excinfo.value.error == "TrainingRunFailed"
    [message] = services.published
    assert message["result"] == "failed" and message["error"] == error and not services.registered


# ---------------------------------------------------------------- triggers and de-duplication


def _started(machine, events):
    names, seen = [], set()

    def handler(state, resource, parameters):
        assert resource.endswith(":states:::states:startExecution")
        names.append(parameters["Name"])
        if parameters["Name"] in seen:
            raise StatesError("StepFunctions.ExecutionAlreadyExistsException", "exists")
        seen.add(parameters["Name"])
        return {"ExecutionArn": "arn"}

    for event in events:
        _, trace = run(machine, event, handler)
        assert trace.states[-1] in ("StartOnce", "AlreadyStarted")
    return names, seen


def test_a_burst_of_uploads_and_the_schedule_start_one_run_per_hour(synthesized):
    machine = definition(_template(synthesized, "dev"), "PipelineStartStateMachine")
    burst = [{"detail-type": "Object Created", "time": f"2026-12-02T12:{m:02d}:07Z", "detail": {}} for m in range(0, 60, 7)]
    names, started = _started(machine, [*burst, {"detail-type": "Scheduled Event", "time": "2026-12-02T12:59:59Z"},
                                        {"detail-type": "Object Created", "time": "2026-12-02T13:00:01Z"}])
    assert len(names) == len(burst) + 2
    assert started == {"run-2026-12-02T12", "run-2026-12-02T13"}


def test_the_rules_start_the_deduplicating_state_machines(synthesized):
    template = synthesized("dev").template(STACK)
    template.has_resource_properties("AWS::Events::Rule", {"EventPattern": {
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [{"Ref": "PipelineData9A1AA091"}]}, "object": {"key": [{"prefix": "train/"}]}}},
        "Targets": [Match.object_like({"Arn": {"Ref": Match.string_like_regexp("PipelineStartStateMachine")}})]})
    template.has_resource_properties("AWS::Events::Rule", {"EventPattern": {
        "source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": ["mlinference-training-dev-pipeline"], "ModelApprovalStatus": ["Approved"]}},
        "Targets": [Match.object_like({"Arn": {"Ref": Match.string_like_regexp("PipelineRolloutStartStateMachine")}})]})
    # No schedule unless the stage names one.
    assert not [r for r in _template(synthesized, "dev")["Resources"].values()
                if r["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in r["Properties"]]
    template.has_resource_properties("AWS::S3::Bucket", {
        "NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}},
        "VersioningConfiguration": {"Status": "Enabled"},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [Match.object_like({
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": Match.any_value()}})]}})


def test_an_approval_event_starts_one_roll_out(synthesized):
    machine = definition(_template(synthesized, "dev"), "PipelineRolloutStartStateMachine")
    event = {"id": "7a5c2f8e-0d1b-4c3a-9e6f-2b8d4a1c0e9f", "detail-type": "SageMaker Model Package State Change",
             "detail": {"ModelPackageArn": "arn:pkg/3", "ModelPackageVersion": 3, "ModelApprovalStatus": "Approved"}}
    names, started = _started(machine, [event, event])
    assert started == {"v3-7a5c2f8e-0d1b-4c3a-9e6f-2b8d4a1c0e9f"} and len(names) == 2


# ---------------------------------------------------------------- roll-out


class Endpoint:
    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.calls: dict[str, dict] = {}

    def __call__(self, state, resource, parameters):
        self.calls[state] = parameters
        if state == "DescribePackage":
            return {"ModelPackageArn": parameters["ModelPackageName"], "InferenceSpecification": {"Containers": [
                {"Image": "pkg-image", "ModelDataSource": {"S3DataSource": {"S3Uri": "s3://b/models/job/output/model/"}}}]}}
        if state == "DescribeEndpoint":
            return {"EndpointConfigName": "cfn-config", "EndpointStatus": "InService"}
        if state == "DescribeEndpointConfig":
            return {"ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "cfn-model", "InstanceType": "ml.c5.large",
                                            "InitialInstanceCount": 2, "ContainerStartupHealthCheckTimeoutInSeconds": 600,
                                            "ModelDataDownloadTimeoutInSeconds": 600,
                                            "ServerlessConfig": {"MemorySizeInMB": 3072, "MaxConcurrency": 5}}],
                    "KmsKeyId": "key", "DataCaptureConfig": {"EnableCapture": True}}
        if state == "DescribeModel":
            return {"ExecutionRoleArn": "role", "EnableNetworkIsolation": True, "VpcConfig": {"Subnets": ["s"]},
                    "PrimaryContainer": {"Image": "current-image", "Environment": {"PLATFORM": "sagemaker"}}}
        if state == "CheckEndpoint":
            status, config = self.statuses.pop(0)
            return {"EndpointStatus": status, "EndpointConfigName": config or self.calls["CreateEndpointConfig"]["EndpointConfigName"]}
        if resource.endswith(":sns:publish"):
            self.calls.setdefault("messages", []).append(parameters["Message"])
        return {}


def test_an_approved_package_moves_the_endpoint_under_its_guardrails(synthesized):
    endpoint = Endpoint([("Updating", None), ("Updating", None), ("InService", None)])
    _, trace = run(_rollout(synthesized, "prod"), {"ModelPackageArn": "arn:pkg/3"}, endpoint, execution_name="v3-abc")
    assert trace.waits == 3 and trace.states[-1] == "Done"
    calls = endpoint.calls
    name = calls["CreateModel"]["ModelName"]
    assert re.fullmatch(r"r[0-9a-f]{8}-v3-abc", name) and calls["CreateEndpointConfig"]["EndpointConfigName"] == name
    # The current image, role, environment and network; the package's model data.
    assert calls["CreateModel"]["PrimaryContainer"] == {"Image": "current-image", "Environment": {"PLATFORM": "sagemaker"},
        "ModelDataSource": {"S3DataSource": {"S3Uri": "s3://b/models/job/output/model/", "S3DataType": "S3Prefix",
                                             "CompressionType": "None"}}}
    assert calls["CreateModel"]["VpcConfig"] == {"Subnets": ["s"]} and calls["CreateModel"]["EnableNetworkIsolation"] is True
    [variant] = calls["CreateEndpointConfig"]["ProductionVariants"]
    assert variant["ModelName"] == name and variant["InstanceType"] == "ml.c5.large" and "ServerlessConfig" not in variant
    assert calls["CreateEndpointConfig"]["DataCaptureConfig"] == {"EnableCapture": True}
    assert calls["UpdateEndpoint"]["RetainAllVariantProperties"] is True and calls["UpdateEndpoint"]["RetainDeploymentConfig"] is True
    assert calls["messages"] == [{"result": "rolled out", "model_package_arn": "arn:pkg/3", "endpoint_config": name}]


def test_a_serverless_endpoint_keeps_its_serverless_config(synthesized):
    endpoint = Endpoint([("InService", None)])
    run(_rollout(synthesized, "dev"), {"ModelPackageArn": "arn:pkg/3"}, endpoint)
    [variant] = endpoint.calls["CreateEndpointConfig"]["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 5} and "InstanceType" not in variant
    assert "RetainDeploymentConfig" not in endpoint.calls["UpdateEndpoint"]
    assert "VpcConfig" not in endpoint.calls["CreateModel"]


@pytest.mark.parametrize(("statuses", "error"), [([("Updating", None), ("InService", "cfn-config")], "RolledBack"),
                                                 ([("Failed", None)], "EndpointUpdateFailed")])
def test_a_rolled_back_or_failed_update_notifies_and_fails(synthesized, statuses, error):
    endpoint = Endpoint(statuses)
    with pytest.raises(StatesError) as excinfo:
        run(_rollout(synthesized, "prod"), {"ModelPackageArn": "arn:pkg/3"}, endpoint)
    assert excinfo.value.error == "RolloutFailed"
    [message] = endpoint.calls["messages"]
    assert message["result"] == "failed" and message["error"] == error


# ---------------------------------------------------------------- least privilege, alarms


def _statements(template, policy_prefix):
    return [s for logical_id, r in template["Resources"].items()
            if r["Type"] == "AWS::IAM::Policy" and logical_id.startswith(policy_prefix)
            for s in r["Properties"]["PolicyDocument"]["Statement"]]


def _objects(statement):
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    out = []
    for resource in resources:
        parts = resource["Fn::Join"][1]
        assert parts[0] == {"Fn::GetAtt": ["PipelineData9A1AA091", "Arn"]}, resource
        out.append(parts[1])
    return sorted(out)


def test_the_job_reads_only_its_inputs_and_writes_only_its_outputs(synthesized):
    statements = _statements(_template(synthesized, "dev"), "PipelineJobRoleDefaultPolicy")
    s3 = {}
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            if action.startswith("s3:"):
                s3.setdefault(action, []).append(statement)
    assert set(s3) == {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}
    [get], [put], [listing] = s3["s3:GetObject"], s3["s3:PutObject"], s3["s3:ListBucket"]
    assert _objects(get) == ["/checkpoints/*", "/eval/*", "/train/*"]
    assert _objects(put) == ["/checkpoints/*", "/models/*"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["train/*", "eval/*", "checkpoints/*"]}}


def test_failed_runs_raise_alarms_to_the_stack_topic(synthesized):
    alarms = [r["Properties"] for r in _template(synthesized, "dev")["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert len(alarms) == 4  # training, roll-out, and the two starters
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": "PipelineAlarmTopicD2AEE5E8"}] and alarm["Threshold"] == 1
        assert {m.get("Expression") for m in alarm["Metrics"]} >= {"FILL(failed, 0) + FILL(timed_out, 0)"}


@pytest.mark.parametrize(("stage", "days", "deletion"), [("dev", 7, "Delete"), ("staging", 30, "Retain"), ("prod", 90, "Retain")])
def test_log_groups_follow_the_stage(synthesized, stage, days, deletion):
    groups = [r for r in _template(synthesized, stage)["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert len(groups) == 4
    for group in groups:
        assert group["Properties"]["RetentionInDays"] == days and group["DeletionPolicy"] == deletion


# ---------------------------------------------------------------- batch transform on upload


def test_new_batch_files_start_one_transform_each(synthesized):
    template = synthesized("dev").templates["MlInference-SageMaker"]
    starter = definition(template, "EndpointBatchTransformUploadStartStateMachine")
    event = {"detail": {"bucket": {"name": "data"}, "object": {"key": "batch-input/a.txt", "sequencer": "0055AED6DCD90281E5"}}}
    again = {"detail": {**event["detail"], "object": {**event["detail"]["object"], "sequencer": "0055AED6DCD90281E6"}}}
    names, started = _started(starter, [event, event, again])
    assert len(started) == 2 and names[0] == names[1]
    assert all(re.fullmatch(r"new-[0-9a-f]{32}", name) for name in started)

    batch = definition(template, "EndpointBatchTransformStateMachine")
    seen = []
    run(batch, event, lambda state, resource, parameters: seen.append(parameters) or {})
    run(batch, {}, lambda state, resource, parameters: seen.append(parameters) or {})
    uris = [p["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] for p in seen]
    assert uris[0] == "s3://<EndpointDataA9BE7710>/batch-input/a.txt"
    assert uris[1] == "s3://<EndpointDataA9BE7710>/batch-input/"
    assert all(p["TransformOutput"]["S3OutputPath"].startswith("s3://<EndpointDataA9BE7710>/batch-output/exec-1/") for p in seen)
    synthesized("dev").template("MlInference-SageMaker").has_resource_properties("AWS::S3::Bucket", {
        "NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}})


# ---------------------------------------------------------------- props


def _stack():
    import aws_cdk as cdk

    return cdk.Stack(cdk.App(), "Test")


def _fails(match, **props):
    from ml_inference_cdk.constructs.training import TrainingPipeline

    with pytest.raises(ValueError, match=match):
        TrainingPipeline(_stack(), "Pipeline", **props)


def test_fails_when_a_hyperparameter_is_the_constructs():
    _fails("hyperparameter 'checkpoint_dir' is not allowed", hyperparameters={"checkpoint_dir": "/tmp"})
    _fails("must be a string", hyperparameters={"epochs": 3})


def test_fails_when_a_hub_base_model_has_no_revision():
    from ml_inference_cdk.constructs.training import BaseModel
    from ml_inference_cdk.constructs.training.image import DEFAULT_BASE_REVISION
    from training.train_args import DEFAULT_MODEL, DEFAULT_MODEL_REVISION

    with pytest.raises(ValueError, match="base model 'org/base' needs a revision: pass the commit sha"):
        BaseModel.from_hub("org/base")
    assert BaseModel.from_hub("org/base", "abc123").hyperparameters() == {"model_name_or_path": "org/base",
                                                                          "model_revision": "abc123"}
    assert BaseModel.from_bucket().hyperparameters() == {"model_name_or_path": "/opt/ml/input/data/base"}
    # train.py run by hand pins the same default commit.
    assert BaseModel.from_hub() == BaseModel(hub_id=DEFAULT_MODEL, revision=DEFAULT_MODEL_REVISION)
    assert DEFAULT_MODEL_REVISION == DEFAULT_BASE_REVISION
    _fails("hyperparameter 'model_revision' is not allowed", hyperparameters={"model_revision": "main"})


def test_fails_when_the_debounce_is_longer_than_an_hour():
    from aws_cdk import Duration

    _fails("debounce must be between zero and one hour", debounce=Duration.hours(2))


def test_fails_when_the_gate_or_the_compute_is_out_of_range():
    from aws_cdk import Duration

    from ml_inference_cdk.constructs.training import QualityGate, TrainingCompute

    with pytest.raises(ValueError, match="min_f1 must be a number between 0 and 1"):
        QualityGate(min_f1=1.5)
    with pytest.raises(ValueError, match="max_wait must be at least max_runtime"):
        TrainingCompute.spot(max_runtime=Duration.hours(4), max_wait=Duration.hours(1))
    with pytest.raises(ValueError, match="is not a SageMaker instance type"):
        TrainingCompute.on_demand("g5.xlarge")
    assert TrainingCompute.spot("ml.g5.xlarge").gpu and not TrainingCompute.spot().gpu


def test_fails_when_prefixes_overlap():
    from ml_inference_cdk.constructs.training import TrainingPrefixes

    with pytest.raises(ValueError, match="lies under 'train/'"):
        TrainingPrefixes(models="train/models/")
    with pytest.raises(ValueError, match="must be a key prefix"):
        TrainingPrefixes(eval="eval")


def test_fails_when_the_image_disagrees_with_the_compute():
    from ml_inference_cdk.constructs.training import TrainingCompute, TrainingImage

    stack = _stack()
    from ml_inference_cdk.constructs.training import TrainingPipeline

    with pytest.raises(ValueError, match="built with gpu=False but ml.g5.xlarge has GPU"):
        TrainingPipeline(stack, "Pipeline", image=TrainingImage(stack, "Image"), compute=TrainingCompute.spot("ml.g5.xlarge"))


def test_fails_when_the_stage_config_is_out_of_range():
    import dataclasses

    from ml_inference_cdk.config import get_stage_config

    dev = get_stage_config("dev")
    with pytest.raises(ValueError, match="training_min_accuracy must be between 0 and 1"):
        dataclasses.replace(dev, training_min_accuracy=2)
    with pytest.raises(ValueError, match="training_max_wait_minutes must be at least"):
        dataclasses.replace(dev, training_max_wait_minutes=10)
    with pytest.raises(ValueError, match="must be an EventBridge expression"):
        dataclasses.replace(dev, training_schedule="0 3 * * 1")
    with pytest.raises(ValueError, match="training_base_model 'roberta-base' needs training_base_model_revision"):
        dataclasses.replace(dev, training_base_model="roberta-base")
    assert dataclasses.replace(dev, training_base_model="roberta-base", training_base_model_revision="e2da8e2").training


def test_a_schedule_and_a_gpu_instance_from_the_stage(tmp_path):
    import dataclasses

    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from ml_inference_cdk.config import get_stage_config
    from ml_inference_cdk.stacks.training_stack import TrainingStack
    from tests.conftest import cdk_json_context

    config = dataclasses.replace(get_stage_config("prod"), training_schedule="cron(0 3 ? * MON *)",
                                 training_instance_type="ml.g5.xlarge", training_spot=False,
                                 training_delivery_pipeline="MlInference-Delivery")
    app = cdk.App(outdir=str(tmp_path), context=cdk_json_context())
    stack = TrainingStack(app, "Training", config=config, env=cdk.Environment(region="us-east-1"))
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "cron(0 3 ? * MON *)"})
    machine = definition(template.to_json(), "PipelineTrainingStateMachine")
    train = all_states(machine)["Train"]["Parameters"]
    assert "EnableManagedSpotTraining" not in train and "CheckpointConfig" not in train
    assert "checkpoint_dir" not in train["HyperParameters"]
    assert stack.training.image.gpu  # the CUDA image (PyPI's torch) for a GPU instance
    rollout = all_states(definition(template.to_json(), "PipelineRolloutStateMachine"))
    start = rollout["StartDeliveryPipeline"]
    assert start["Resource"].endswith(":states:::aws-sdk:codepipeline:startPipelineExecution")
    assert start["Parameters"]["Variables"] == [{"Name": "MODEL_PACKAGE_ARN", "Value.$": "$.package.arn"}]
    assert "CreateModel" not in rollout  # no endpoint given: the pipeline rebuilds every target
