"""Every log group a stack creates or causes expires, with the stage's retention and removal policy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ml_inference_cdk.config import get_stage_config
from ml_inference_cdk.constructs.eks.addons import CONTAINER_INSIGHTS_LOG_GROUPS
from tests.conftest import STACK_IDS, STAGES

#: aws_logs.LogRetention's handler: it sets one day of retention on its own log group when it
#: first runs (aws-cdk-lib's log-retention handler), so no template resource manages that group.
LOG_RETENTION_HANDLER = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"
_DAYS = {"ONE_WEEK": 7, "TWO_WEEKS": 14, "ONE_MONTH": 30, "THREE_MONTHS": 90}


def _days(retention) -> int:
    return _DAYS[retention.value]


def _name(value: Any) -> str:
    """A log group name as a comparable string: intrinsics written as they appear in JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _join(*parts: Any) -> str:
    return _name({"Fn::Join": ["", list(parts)]})


def managed_names(resources: dict[str, Any]) -> set[str]:
    """Every log group name the template gives retention: LogGroups and LogRetention resources."""
    names = set()
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Logs::LogGroup":
            names.add(_name({"Ref": logical_id}))
            if "LogGroupName" in properties:
                names.add(_name(properties["LogGroupName"]))
        if resource["Type"] == "Custom::LogRetention":
            names.add(_name(properties["LogGroupName"]))
    return names


def caused_names(resources: dict[str, Any]) -> dict[str, str]:
    """Log group name -> the resource that makes AWS create it on first write."""
    caused: dict[str, str] = {}
    for logical_id, resource in resources.items():
        kind, properties = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::Lambda::Function" and not logical_id.startswith(LOG_RETENTION_HANDLER):
            configured = properties.get("LoggingConfig", {}).get("LogGroup")
            caused[_name(configured) if configured else _join("/aws/lambda/", {"Ref": logical_id})] = logical_id
        elif kind == "AWS::EKS::Cluster" and properties.get("Logging"):
            caused[_join("/aws/eks/", {"Ref": logical_id}, "/cluster")] = logical_id
        elif kind == "AWS::SageMaker::Endpoint":
            caused[_join("/aws/sagemaker/Endpoints/", {"Fn::GetAtt": [logical_id, "EndpointName"]})] = logical_id
        elif kind == "AWS::ECS::Cluster" and {"Name": "containerInsights", "Value": "enabled"} in properties.get(
            "ClusterSettings", []
        ):
            caused[_join("/aws/ecs/containerinsights/", {"Ref": logical_id}, "/performance")] = logical_id
        elif kind == "AWS::EKS::Addon" and properties["AddonName"] == "amazon-cloudwatch-observability":
            for group in CONTAINER_INSIGHTS_LOG_GROUPS:
                caused[_join("/aws/containerinsights/", properties["ClusterName"], f"/{group}")] = logical_id
        elif kind == "AWS::StepFunctions::StateMachine" and "LoggingConfiguration" in properties:
            for destination in properties["LoggingConfiguration"]["Destinations"]:
                arn = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]
                caused[_name({"Ref": arn["Fn::GetAtt"][0]})] = logical_id
        elif kind == "AWS::EC2::FlowLog" and "LogGroupName" in properties:
            caused[_name(properties["LogGroupName"])] = logical_id
        elif kind == "AWS::WAFv2::LoggingConfiguration":
            for destination in properties["LogDestinationConfigs"]:
                [reference] = [part for part in destination["Fn::Join"][1] if isinstance(part, dict) and "Ref" in part
                               and part["Ref"] != "AWS::AccountId"]
                caused[_name(reference)] = logical_id
    return caused


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("stack_id", STACK_IDS)
def test_every_log_group_expires_with_the_stage(synthesized, stack_id, stage):
    config = get_stage_config(stage)
    days = {_days(config.log_retention), _days(config.flow_log_retention)}
    deletion = "Delete" if stage == "dev" else "Retain"
    resources = synthesized(stage).templates[stack_id]["Resources"]
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Logs::LogGroup":
            assert resource["Properties"].get("RetentionInDays") in days, logical_id
            assert resource.get("DeletionPolicy") == deletion, logical_id
        if resource["Type"] == "Custom::LogRetention":
            assert resource["Properties"]["RetentionInDays"] in days, logical_id
            assert resource["Properties"]["RemovalPolicy"] == deletion.lower().replace("delete", "destroy"), logical_id


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("stack_id", STACK_IDS)
def test_every_log_group_a_resource_causes_is_managed(synthesized, stack_id, stage):
    resources = synthesized(stage).templates[stack_id]["Resources"]
    unmanaged = {name: owner for name, owner in caused_names(resources).items() if name not in managed_names(resources)}
    assert not unmanaged, f"log groups created without retention: {unmanaged}"


def test_the_walk_sees_what_it_checks(synthesized):
    # The control: every kind of log-group-causing resource is present and recognised, and a
    # template without its retention resources would fail.
    seen = {}
    for stack_id in STACK_IDS:
        resources = synthesized("prod").templates[stack_id]["Resources"]
        for owner in caused_names(resources).values():
            seen[resources[owner]["Type"]] = True
    assert set(seen) == {
        "AWS::Lambda::Function", "AWS::EKS::Cluster", "AWS::SageMaker::Endpoint", "AWS::ECS::Cluster",
        "AWS::EKS::Addon", "AWS::StepFunctions::StateMachine", "AWS::EC2::FlowLog",
    }
    resources = dict(synthesized("prod").templates["MlInference-Eks"]["Resources"])
    stripped = {key: value for key, value in resources.items() if value["Type"] != "Custom::LogRetention"}
    assert {name for name in caused_names(stripped) if name not in managed_names(stripped)}


def test_kubectl_provider_logs_follow_the_stage(synthesized):
    # aws_eks_v2 keeps them 731 days and retains them in every stage.
    for stage, days, deletion in (("dev", 7, "Delete"), ("prod", 90, "Retain")):
        resources = synthesized(stage).templates["MlInference-Eks"]["Resources"]
        groups = {key: value for key, value in resources.items() if "KubectlProvider" in key and value["Type"] == "AWS::Logs::LogGroup"}
        assert len(groups) == 2
        for group in groups.values():
            assert (group["Properties"]["RetentionInDays"], group["DeletionPolicy"]) == (days, deletion)


def test_service_log_groups_exist_before_their_writers(synthesized):
    resources = synthesized("prod").templates
    eks = resources["MlInference-Eks"]["Resources"]
    [addon] = [key for key, value in eks.items() if value["Type"] == "AWS::EKS::Addon"
               and value["Properties"]["AddonName"] == "amazon-cloudwatch-observability"]
    retentions = {key for key, value in eks.items() if value["Type"] == "Custom::LogRetention" and "ContainerInsights" in key}
    assert len(retentions) == 4 and retentions <= set(eks[addon]["DependsOn"])
    handler = eks["ServiceClusterKubectlProviderHandlerF0029504"]
    assert any("ControlPlaneLogRetention" in dependency for dependency in handler["DependsOn"])
    fargate = resources["MlInference-Fargate"]["Resources"]
    [service] = [value for value in fargate.values() if value["Type"] == "AWS::ECS::Service"]
    assert any("PerformanceLogRetention" in dependency for dependency in service["DependsOn"])
    network = resources["MlInference-Network"]["Resources"]
    [restrict] = [value for value in network.values() if value["Type"] == "Custom::VpcRestrictDefaultSG"]
    assert any("LogRetention" in dependency for dependency in restrict["DependsOn"])


def test_log_retention_handler_is_granted_only_its_groups(synthesized):
    for stack_id in ("MlInference-Network", "MlInference-Fargate", "MlInference-Eks", "MlInference-SageMaker"):
        resources = synthesized("dev").templates[stack_id]["Resources"]
        [role_id] = [key for key in resources if key.startswith("LogRetentionHandlerRole") and resources[key]["Type"] == "AWS::IAM::Role"]
        assert "ManagedPolicyArns" not in resources[role_id]["Properties"]
        policies = [value["Properties"] for value in resources.values()
                    if value["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in value["Properties"]["Roles"]]
        assert policies, stack_id
        for policy in policies:
            for statement in policy["PolicyDocument"]["Statement"]:
                assert all(action.startswith("logs:") for action in statement["Action"])
                resources_ = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                assert "*" not in resources_ and all(":log-group:" in json.dumps(arn) for arn in resources_)
        # dev destroys its log groups, so the handler may delete exactly those.
        assert any("logs:DeleteLogGroup" in s["Action"] for p in policies for s in p["PolicyDocument"]["Statement"])


def test_a_handler_someone_else_created_is_reused():
    # A log_retention= prop elsewhere made the stack's handler first, with the CDK's own role.
    from aws_cdk import RemovalPolicy
    from aws_cdk import aws_logs as logs
    from aws_cdk.assertions import Template

    from ml_inference_cdk.constructs._logs import expire_service_log_group
    from tests.cdk.support import new_stack

    _, stack = new_stack()
    logs.LogRetention(stack, "Theirs", log_group_name="/their/group", retention=logs.RetentionDays.ONE_DAY)
    expire_service_log_group(stack, "Ours", log_group_name="/our/group", retention=logs.RetentionDays.ONE_WEEK,
                             removal_policy=RemovalPolicy.DESTROY)
    template = Template.from_stack(stack)
    template.resource_count_is("Custom::LogRetention", 2)
    template.resource_count_is("AWS::Lambda::Function", 1)
    assert not [key for key in template.to_json()["Resources"] if key.startswith("LogRetentionHandlerRole")]
