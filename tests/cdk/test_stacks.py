"""The app's stacks in every stage: snapshots, stage settings, tags, outputs, stable IDs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk.assertions import Match
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import STACK_IDS, STAGES, mask_hashes


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("stack_id", STACK_IDS)
def test_snapshot(synthesized, json_snapshot, stage, stack_id):
    assert mask_hashes(synthesized(stage).templates[stack_id]) == json_snapshot


def test_synth_is_deterministic(synthesized, tmp_path):
    import aws_cdk as cdk

    from ml_inference_cdk.config import get_stage_config
    from ml_inference_cdk.stacks import build_app
    from tests.conftest import cdk_json_context

    stage = "dev"
    app = cdk.App(outdir=str(tmp_path), context=cdk_json_context())
    stacks = build_app(app, get_stage_config(stage))
    assembly = app.synth()
    for stack in stacks.values():
        again = assembly.get_stack_artifact(stack.artifact_id).template
        assert json.dumps(again, sort_keys=True) == json.dumps(
            synthesized(stage).templates[stack.node.id], sort_keys=True
        )


@pytest.mark.parametrize("stage", STAGES)
def test_every_stack_is_tagged(synthesized, stage):
    template = synthesized(stage).template("MlInference-Lambda")
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Tags": Match.array_with(
                [
                    {"Key": "owner", "Value": "ml-platform"},
                    {"Key": "project", "Value": "ml-inference"},
                    {"Key": "stage", "Value": stage},
                ]
            )
        },
    )
    template = synthesized(stage).template("MlInference-Network")
    template.has_resource_properties(
        "AWS::EC2::VPC", {"Tags": Match.array_with([{"Key": "stage", "Value": stage}])}
    )


@pytest.mark.parametrize("stage", STAGES)
def test_lambda_stack_outputs(synthesized, stage):
    outputs = synthesized(stage).templates["MlInference-Lambda"]["Outputs"]
    assert {"Url", "FunctionName", "AliasArn"} <= set(outputs)
    template = synthesized(stage).template("MlInference-Lambda")
    template.has_output("Url", {"Value": {"Fn::GetAtt": [Match.string_like_regexp("FunctionUrl"), "FunctionUrl"]}})


@pytest.mark.parametrize(("stage", "min_tasks", "max_tasks", "spot"), [("dev", 1, 2, True), ("staging", 1, 4, False), ("prod", 2, 10, False)])
def test_fargate_stage_settings(synthesized, stage, min_tasks, max_tasks, spot):
    template = synthesized(stage).template("MlInference-Fargate")
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": min_tasks, "MaxCapacity": max_tasks})
    template.has_resource_properties(
        "AWS::ECS::Service",
        {
            "DesiredCount": min_tasks,
            "CapacityProviderStrategy": Match.array_with([Match.object_like({"CapacityProvider": "FARGATE_SPOT"})]) if spot else Match.absent(),
            "LaunchType": Match.absent() if spot else "FARGATE",
        },
    )
    template.has_resource_properties("AWS::ECS::TaskDefinition", {"Cpu": "2048", "Memory": "4096"})


@pytest.mark.parametrize(("stage", "rollback"), [("dev", False), ("staging", True), ("prod", True)])
def test_fargate_rolls_back_on_its_alarms_in_staging_and_prod(synthesized, stage, rollback):
    service = synthesized(stage).template("MlInference-Fargate").find_resources("AWS::ECS::Service")
    [configuration] = [r["Properties"]["DeploymentConfiguration"] for r in service.values()]
    alarms = configuration.get("Alarms")
    assert (alarms is not None) == rollback
    if rollback:
        assert alarms == {"AlarmNames": [{"Ref": "ServiceHttp5xxAlarm3C10B9C8"}, {"Ref": "ServiceP99LatencyAlarm8819BDE1"}],
                          "Enable": True, "Rollback": True}
    assert configuration["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}


@pytest.mark.parametrize("stage", STAGES)
def test_fargate_runs_on_the_stage_network(synthesized, stage):
    service = synthesized(stage).template("MlInference-Fargate").find_resources("AWS::ECS::Service")
    [properties] = [resource["Properties"] for resource in service.values()]
    for subnet in properties["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"]:
        assert subnet["Fn::GetStackOutput"]["StackName"] == f"MlInference-Network-{stage}"
    outputs = synthesized(stage).templates["MlInference-Fargate"]["Outputs"]
    assert {"Url", "ClusterName", "ServiceName"} <= set(outputs)


def test_lambda_stack_needs_no_vpc(synthesized):
    template = synthesized("dev").template("MlInference-Lambda")
    template.has_resource_properties("AWS::Lambda::Function", {"VpcConfig": Match.absent()})
    template.resource_count_is("AWS::EC2::VPC", 0)


@pytest.mark.parametrize(
    ("stage", "memory", "reserved", "provisioned", "canary", "warmup", "nat"),
    [
        ("dev", 3008, None, None, False, False, 1),
        ("staging", 3008, 50, None, True, True, 1),
        ("prod", 3008, 200, 2, True, False, 2),
    ],
)
def test_stage_settings(synthesized, stage, memory, reserved, provisioned, canary, warmup, nat):
    lambda_template = synthesized(stage).template("MlInference-Lambda")
    lambda_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "MemorySize": memory,
            "ReservedConcurrentExecutions": reserved if reserved is not None else Match.absent(),
        },
    )
    lambda_template.has_resource_properties(
        "AWS::Lambda::Alias",
        {
            "ProvisionedConcurrencyConfig": (
                {"ProvisionedConcurrentExecutions": provisioned} if provisioned else Match.absent()
            )
        },
    )
    lambda_template.resource_count_is("AWS::CodeDeploy::DeploymentGroup", 1 if canary else 0)
    lambda_template.resource_count_is("AWS::Events::Rule", 1 if warmup else 0)
    synthesized(stage).template("MlInference-Network").resource_count_is("AWS::EC2::NatGateway", nat)


@pytest.mark.parametrize("stage", STAGES)
def test_stack_names_carry_the_stage(synthesized, stage):
    manifest = json.loads((synthesized(stage).outdir / "manifest.json").read_text())
    names = {
        artifact_id: artifact["properties"].get("stackName")
        for artifact_id, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert names == {stack_id: f"{stack_id}-{stage}" for stack_id in STACK_IDS}
    protected = {
        artifact["properties"].get("terminationProtection", False)
        for artifact in manifest["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert protected == {stage == "prod"}


# Stateful resources keep their logical IDs across releases: users `cdk diff` before upgrading,
# and a new ID replaces the resource (a new VPC, a new URL, an empty bucket; a retained one is
# orphaned). stateful_ids.json holds every one, per stack and stage ("*": every stage), as
# released: a rename or removal fails here; a new stateful resource must be added to the file.
PINNED = json.loads((Path(__file__).parent / "stateful_ids.json").read_text())


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("stack_id", STACK_IDS)
def test_stateful_logical_ids_are_pinned(synthesized, stage, stack_id):
    resources = synthesized(stage).templates[stack_id]["Resources"]
    pinned = PINNED["ids"][stack_id].get(stage) or PINNED["ids"][stack_id]["*"]
    for logical_id, resource_type in pinned.items():
        assert logical_id in resources, f"{logical_id} ({resource_type}) was renamed or removed: that replaces it"
        assert resources[logical_id]["Type"] == resource_type
    unpinned = {
        logical_id: resource["Type"]
        for logical_id, resource in resources.items()
        if resource["Type"] in PINNED["types"] and logical_id not in pinned
    }
    assert not unpinned, f"new stateful resources: pin them in tests/cdk/stateful_ids.json: {unpinned}"


def test_pinned_ids_cover_every_kind_the_issue_names():
    kinds = {t for stack in PINNED["ids"].values() for stage in stack.values() for t in stage.values()}
    for kind in ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::NatGateway", "AWS::S3::Bucket", "AWS::Logs::LogGroup",
                 "AWS::KMS::Key", "AWS::SNS::Topic", "AWS::ECS::Cluster", "AWS::ECS::Service", "AWS::EKS::Cluster",
                 "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::Lambda::Function", "AWS::Lambda::Alias",
                 "AWS::Lambda::Url", "AWS::SageMaker::Endpoint", "AWS::StepFunctions::StateMachine"):
        assert kind in kinds, kind


@pytest.mark.parametrize(("stage", "days", "deletion"), [("dev", 7, "Delete"), ("staging", 30, "Retain"), ("prod", 90, "Retain")])
def test_retention_follows_the_stage(synthesized, stage, days, deletion):
    log_groups = (
        ("MlInference-Lambda", "SentimentLogGroupD3183B6C"),
        ("MlInference-Network", "NetworkFlowLogs2BEC3212"),
        ("MlInference-Fargate", "ServiceLogGroupB910EE76"),
        ("MlInference-SageMaker", "EndpointBatchTransformLogs4B4AEA6B"),
    )
    for stack_id, log_group_id in log_groups:
        log_group = synthesized(stage).templates[stack_id]["Resources"][log_group_id]
        assert log_group["DeletionPolicy"] == deletion
        assert log_group["Properties"]["RetentionInDays"] == days


@pytest.mark.parametrize(
    ("stage", "mode", "scaling"), [("dev", "serverless", None), ("staging", "async", (0, 2)), ("prod", "real-time", (2, 6))]
)
def test_sagemaker_stage_settings(synthesized, stage, mode, scaling):
    stage_result = synthesized(stage)
    template = stage_result.template("MlInference-SageMaker")
    outputs = stage_result.templates["MlInference-SageMaker"]["Outputs"]
    assert outputs["Mode"]["Value"] == mode
    assert {"EndpointName", "InvokeCommand", "BatchInputUri", "BatchStateMachineArn"} <= set(outputs)
    # Where `ml-inference smoke` and `make loadtest` upload async inputs.
    assert ("AsyncInputUri" in outputs) == (mode == "async")
    invoke = json.dumps(outputs["InvokeCommand"])
    assert ("invoke-endpoint-async" in invoke) == (mode == "async")
    if scaling is None:
        template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
        template.has_resource_properties("AWS::SageMaker::Model", {"VpcConfig": Match.absent()})
    else:
        template.has_resource_properties(
            "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": scaling[0], "MaxCapacity": scaling[1]}
        )
        template.has_resource_properties("AWS::SageMaker::Model", {"VpcConfig": Match.any_value(), "EnableNetworkIsolation": True})
    capture = Match.object_like({"InitialSamplingPercentage": 10}) if stage == "prod" else Match.absent()
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {"DataCaptureConfig": capture})


def test_a_stage_deploys_only_its_targets(tmp_path):
    import dataclasses

    import aws_cdk as cdk

    from ml_inference_cdk.config import get_stage_config
    from ml_inference_cdk.stacks import add_stacks
    from tests.conftest import cdk_json_context

    app = cdk.App(outdir=str(tmp_path), context=cdk_json_context())
    lambda_only = dataclasses.replace(get_stage_config("dev"), targets=("Lambda",))
    assert set(add_stacks(app, lambda_only)) == {"Lambda", "Observability", "Training"}
    app = cdk.App(outdir=str(tmp_path), context=cdk_json_context())
    two = dataclasses.replace(get_stage_config("dev"), targets=("Lambda", "Fargate"))
    assert set(add_stacks(app, two)) == {"Network", "Lambda", "Fargate", "Observability", "Training"}
    app = cdk.App(outdir=str(tmp_path), context=cdk_json_context())
    assert set(add_stacks(app, dataclasses.replace(lambda_only, training=False))) == {"Lambda", "Observability"}


def test_the_pipeline_stage_holds_the_same_stacks(synthesized, tmp_path):
    # Inside a cdk.Stage construct paths start with the stage's id, so what the CDK derives from
    # paths differs (Name tags, default security group descriptions, generated policy and family
    # names); the stacks, their CloudFormation names and every stateful logical id do not.
    import aws_cdk as cdk

    from ml_inference_cdk.config import get_stage_config
    from ml_inference_cdk.stacks.stage import MlInferenceStage
    from tests.conftest import cdk_json_context

    app = cdk.App(outdir=str(tmp_path), context=cdk_json_context())
    stage = MlInferenceStage(app, "Dev", config=get_stage_config("dev"))
    assembly = stage.synth()
    assert set(stage.stacks) == {"Network", "Lambda", "Fargate", "SageMaker", "Eks", "Observability", "Training"}
    for target, stack in stage.stacks.items():
        stack_id = f"MlInference-{target}"
        assert stack.stack_name == f"{stack_id}-dev"
        resources = assembly.get_stack_artifact(stack.artifact_id).template["Resources"]
        direct = synthesized("dev").templates[stack_id]["Resources"]
        pinned = PINNED["ids"][stack_id].get("dev") or PINNED["ids"][stack_id]["*"]
        assert {i: resources[i]["Type"] for i in pinned} == pinned
        assert len(resources) == len(direct)
