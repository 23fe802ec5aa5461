"""SageMakerEndpoint: each mode's defaults and props, model data, grants, batch transform, bad props."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from ml_inference_cdk import ModelImage, SharedNetwork
from ml_inference_cdk.constructs.sagemaker import (
    EndpointCapacity,
    EndpointMode,
    ModelData,
    SageMakerEndpoint,
    TrafficShifting,
    async_environment,
)
from tests.cdk.sagemaker_support import REGION, build, logical_id, role_statements
from tests.cdk.support import SERVICE_ALARM_KEYS, new_stack, template_of

@pytest.fixture(scope="module")
def real_time():
    stack, endpoint = build()
    return template_of(stack), endpoint


@pytest.fixture(scope="module")
def serverless():
    stack, endpoint = build(capacity=EndpointCapacity.serverless())
    return template_of(stack), endpoint


@pytest.fixture(scope="module")
def async_endpoint():
    stack, endpoint = build(capacity=EndpointCapacity.asynchronous())
    endpoint.add_batch_transform()
    return template_of(stack), endpoint


# -- every mode ------------------------------------------------------------------------------


def test_minimal_use_exposes_the_resources():
    app, stack = new_stack(env=REGION)
    endpoint = SageMakerEndpoint(stack, "Endpoint", image=ModelImage(stack, "Image"), vpc=SharedNetwork(stack, "Network").vpc)
    for name in ("endpoint", "endpoint_config", "model", "role", "scalable_target", "alarms", "topic", "key"):
        assert getattr(endpoint, name) is not None
    assert endpoint.mode is EndpointMode.REAL_TIME


@pytest.mark.parametrize("fixture", ["real_time", "serverless", "async_endpoint"])
def test_no_physical_names(request, fixture):
    template, _ = request.getfixturevalue(fixture)
    for kind, name in (
        ("AWS::SageMaker::Model", "ModelName"),
        ("AWS::SageMaker::EndpointConfig", "EndpointConfigName"),
        ("AWS::SageMaker::Endpoint", "EndpointName"),
        ("AWS::IAM::Role", "RoleName"),
        ("AWS::S3::Bucket", "BucketName"),
    ):
        for resource in template.find_resources(kind).values():
            assert name not in resource.get("Properties", {}), f"{kind} has a physical name"


@pytest.mark.parametrize("fixture", ["real_time", "serverless", "async_endpoint"])
def test_execution_role_is_least_privilege(request, fixture):
    template, endpoint = request.getfixturevalue(fixture)
    role = template.find_resources("AWS::IAM::Role")[logical_id(endpoint.role)]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert "ManagedPolicyArns" not in role  # never AmazonSageMakerFullAccess
    actions = {a for s in role_statements(template, endpoint.role) for a in _list(s["Action"])}
    assert {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "logs:PutLogEvents"} <= actions
    assert not [a for a in actions if a.endswith("*") or a == "*"], "wildcard actions in the execution role"


def _list(value):
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("fixture", ["real_time", "serverless", "async_endpoint"])
def test_model_runs_the_server_image(request, fixture):
    template, _ = request.getfixturevalue(fixture)
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": {
                "Image": {"Fn::Sub": Match.string_like_regexp(r"container-assets.*:[0-9a-f]{64}$")},
                "Environment": Match.object_like({"PLATFORM": "sagemaker"}),
            }
        },
    )


def test_alarms_in_microseconds(real_time):
    template, endpoint = real_time
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ModelLatency", "Namespace": "AWS/SageMaker", "ExtendedStatistic": "p99", "Threshold": 1_000_000},
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "OverheadLatency", "ExtendedStatistic": "p99", "Threshold": 250_000}
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "Invocation5XXErrors",
            "Statistic": "Sum",
            "Threshold": 5,
            "Dimensions": Match.array_with([{"Name": "VariantName", "Value": "AllTraffic"}]),
            "AlarmActions": [{"Ref": Match.string_like_regexp("AlarmTopic")}],
        },
    )
    assert set(endpoint.alarms) == {"model_latency", "invocation_5xx", "overhead_latency"} | SERVICE_ALARM_KEYS


def test_metric_helpers_name_the_endpoint(real_time):
    _, endpoint = real_time
    metric = endpoint.metric_model_latency()
    assert (metric.namespace, metric.metric_name, metric.statistic) == ("AWS/SageMaker", "ModelLatency", "p99")
    assert set(metric.dimensions) == {"EndpointName", "VariantName"}
    assert endpoint.metric_invocations().statistic == "Sum"
    assert endpoint.metric_invocation_5xx_errors().metric_name == "Invocation5XXErrors"
    assert endpoint.metric_overhead_latency().metric_name == "OverheadLatency"


# -- real time -------------------------------------------------------------------------------


def test_real_time_defaults(real_time):
    template, endpoint = real_time
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "EnableNetworkIsolation": True,
            "VpcConfig": {
                "SecurityGroupIds": [{"Fn::GetAtt": [logical_id(endpoint.security_group), "GroupId"]}],
                "Subnets": [
                    {"Ref": Match.string_like_regexp("NetworkVpcPrivateSubnet1")},
                    {"Ref": Match.string_like_regexp("NetworkVpcPrivateSubnet2")},
                ],
            },
        },
    )
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "KmsKeyId": {"Fn::GetAtt": [logical_id(endpoint.key), "Arn"]},
            "ProductionVariants": [
                Match.object_like(
                    {"VariantName": "AllTraffic", "InstanceType": "ml.c5.large", "InitialInstanceCount": 1, "InitialVariantWeight": 1}
                )
            ],
            "DataCaptureConfig": Match.absent(),
            "AsyncInferenceConfig": Match.absent(),
        },
    )
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True, "Description": Match.string_like_regexp("SageMaker")})
    # No inbound rules, HTTPS out only.
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": Match.string_like_regexp("SageMaker"),
            "SecurityGroupIngress": Match.absent(),
            "SecurityGroupEgress": [Match.object_like({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443})],
        },
    )


def test_real_time_autoscaling(real_time):
    template, endpoint = real_time
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "MinCapacity": 1,
            "MaxCapacity": 4,
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "ServiceNamespace": "sagemaker",
            "ResourceId": {"Fn::Join": ["", ["endpoint/", {"Fn::GetAtt": [logical_id(endpoint.endpoint), "EndpointName"]}, "/variant/AllTraffic"]]},
            "RoleARN": {"Fn::Join": ["", Match.array_with([Match.string_like_regexp("AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint")])]},
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                "TargetValue": 600,
                "ScaleInCooldown": 300,
                "ScaleOutCooldown": 60,
            },
        },
    )
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 1)
    # The autoscaling role is the service-linked one: no empty role of the CDK's.
    principals = json.dumps([r["Properties"]["AssumeRolePolicyDocument"] for r in template.find_resources("AWS::IAM::Role").values()])
    assert "application-autoscaling" not in principals


def test_blue_green_rolls_back_on_the_endpoints_own_alarms(real_time):
    template, endpoint = real_time
    config = template.find_resources("AWS::SageMaker::Endpoint")[logical_id(endpoint.endpoint)]["Properties"]["DeploymentConfig"]
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}, "WaitIntervalInSeconds": 300}
    rollback_names = {a["AlarmName"] for a in config["AutoRollbackConfiguration"]["Alarms"]}
    alarm_names = {
        a["Properties"].get("AlarmName") for a in template.find_resources("AWS::CloudWatch::Alarm").values()
    }
    assert rollback_names == {"Test-Endpoint-ModelLatency", "Test-Endpoint-Invocation5xx"}
    assert rollback_names <= alarm_names


def test_real_time_options():
    stack, endpoint = build(
        capacity=EndpointCapacity.real_time(
            instance_type="ml.c6i.xlarge",
            initial_instance_count=2,
            min_instances=2,
            max_instances=8,
            cpu_target_percent=140,
            data_capture_percent=20,
            traffic_shifting=TrafficShifting.linear(step_percent=25, wait=Duration.minutes(3)),
        )
    )
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [Match.object_like({"InstanceType": "ml.c6i.xlarge", "InitialInstanceCount": 2})],
            "DataCaptureConfig": Match.object_like(
                {
                    "EnableCapture": True,
                    "InitialSamplingPercentage": 20,
                    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                    "KmsKeyId": {"Fn::GetAtt": [logical_id(endpoint.key), "Arn"]},
                }
            ),
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {"CustomizedMetricSpecification": Match.object_like({"MetricName": "CPUUtilization", "Namespace": "/aws/sagemaker/Endpoints"}), "TargetValue": 140}
            )
        },
    )
    template.has_resource_properties(
        "AWS::SageMaker::Endpoint",
        {
            "DeploymentConfig": Match.object_like(
                {
                    "BlueGreenUpdatePolicy": Match.object_like(
                        {"TrafficRoutingConfiguration": {"Type": "LINEAR", "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25}, "WaitIntervalInSeconds": 180}}
                    )
                }
            )
        },
    )
    capture = [s for s in role_statements(template, endpoint.role) if s["Action"] == "s3:PutObject"]
    assert capture and "data-capture/*" in json.dumps(capture)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [Match.object_like({"BucketKeyEnabled": True})]},
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "data/"}),
        },
    )


def test_real_time_without_traffic_shifting_or_scaling():
    stack, endpoint = build(capacity=EndpointCapacity.real_time(min_instances=1, max_instances=1, traffic_shifting=None))
    template = template_of(stack)
    template.has_resource_properties("AWS::SageMaker::Endpoint", {"DeploymentConfig": Match.absent()})
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
    assert endpoint.scalable_target is None
    assert all("AlarmName" not in a["Properties"] for a in template.find_resources("AWS::CloudWatch::Alarm").values())


def test_instance_storage_types_get_no_volume_key():
    stack, _ = build(capacity=EndpointCapacity.real_time(instance_type="ml.g5.xlarge"))
    template_of(stack).has_resource_properties("AWS::SageMaker::EndpointConfig", {"KmsKeyId": Match.absent()})


def test_a_given_key_is_used_and_none_created():
    app, stack = new_stack(env=REGION)
    from aws_cdk import aws_kms as kms

    key = kms.Key(stack, "MyKey", enable_key_rotation=True)
    endpoint = SageMakerEndpoint(stack, "Endpoint", image=ModelImage(stack, "Image"), encryption_key=key)
    template = template_of(stack)
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {"KmsKeyId": {"Fn::GetAtt": [logical_id(key), "Arn"]}})
    assert endpoint.key is key
    # The given key and the alarm topic's key only.
    template.resource_count_is("AWS::KMS::Key", 2)
    # No network given: no VpcConfig, still isolated.
    template.has_resource_properties("AWS::SageMaker::Model", {"VpcConfig": Match.absent(), "EnableNetworkIsolation": True})


# -- serverless ------------------------------------------------------------------------------


def test_serverless_defaults(serverless):
    template, endpoint = serverless
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like({"ServerlessConfig": {"MemorySizeInMB": 3072, "MaxConcurrency": 5}, "InstanceType": Match.absent()})
            ],
            "KmsKeyId": Match.absent(),
        },
    )
    template.has_resource_properties("AWS::SageMaker::Model", {"VpcConfig": Match.absent(), "EnableNetworkIsolation": False})
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
    template.has_resource_properties("AWS::SageMaker::Endpoint", {"DeploymentConfig": Match.absent()})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "OverheadLatency", "Threshold": 10_000_000})
    assert endpoint.scalable_target is None and endpoint.data_bucket is None


def test_serverless_provisioned_concurrency():
    stack, _ = build(capacity=EndpointCapacity.serverless(memory_mib=6144, max_concurrency=20, provisioned_concurrency=2))
    template_of(stack).has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"ServerlessConfig": {"MemorySizeInMB": 6144, "MaxConcurrency": 20, "ProvisionedConcurrency": 2}})]},
    )


# -- async -----------------------------------------------------------------------------------


def test_async_config(async_endpoint):
    template, endpoint = async_endpoint
    bucket = logical_id(endpoint.data_bucket)
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "AsyncInferenceConfig": {
                "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
                "OutputConfig": {
                    "S3OutputPath": {"Fn::Join": ["", ["s3://", {"Ref": bucket}, "/async-outputs"]]},
                    "S3FailurePath": {"Fn::Join": ["", ["s3://", {"Ref": bucket}, "/async-failures"]]},
                    "KmsKeyId": {"Fn::GetAtt": [logical_id(endpoint.key), "Arn"]},
                    "NotificationConfig": {
                        "SuccessTopic": {"Ref": logical_id(endpoint.success_topic)},
                        "ErrorTopic": {"Ref": logical_id(endpoint.error_topic)},
                    },
                },
            },
            "KmsKeyId": Match.any_value(),
        },
    )
    template.has_resource_properties("AWS::SageMaker::Model", {"PrimaryContainer": Match.object_like({"Environment": Match.object_like({**async_environment(4), "QUEUE_MAX_TEXTS": "4096", "QUEUE_MAX_SECONDS": "0"})})})
    for topic in (endpoint.success_topic, endpoint.error_topic):
        template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [logical_id(endpoint.key), "Arn"]}})
        template.has_resource_properties(
            "AWS::SNS::TopicPolicy",
            {
                "Topics": [{"Ref": logical_id(topic)}],
                "PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])},
            },
        )
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [Match.object_like({"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": Match.any_value()}})]},
            "LifecycleConfiguration": {"Rules": Match.array_with([Match.object_like({"Prefix": "async-outputs/", "ExpirationInDays": 30})])},
        },
    )


def test_async_scales_to_zero_and_wakes_on_backlog(async_endpoint):
    template, endpoint = async_endpoint
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 0, "MaxCapacity": 2})
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {"CustomizedMetricSpecification": Match.object_like({"MetricName": "ApproximateBacklogSizePerInstance"}), "TargetValue": 5}
            ),
        },
    )
    step = template.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy", {"Properties": {"PolicyType": "StepScaling"}})
    (step_id, step_policy), = step.items()
    assert step_policy["Properties"]["StepScalingPolicyConfiguration"]["StepAdjustments"] == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "HasBacklogWithoutCapacity", "Threshold": 1, "AlarmActions": [{"Ref": step_id}]},
    )
    assert endpoint.scalable_target is not None
    assert "async_failures" in endpoint.alarms


def test_async_execution_role_reaches_only_its_prefixes(async_endpoint):
    template, endpoint = async_endpoint
    statements = role_statements(template, endpoint.role)
    reads = json.dumps([s["Resource"] for s in statements if s["Action"] == "s3:GetObject"])
    writes = json.dumps([s["Resource"] for s in statements if s["Action"] == "s3:PutObject"])
    assert "async-inputs/*" in reads and "batch-input/*" in reads and "outputs" not in reads
    assert "async-outputs/*" in writes and "async-failures/*" in writes and "inputs" not in writes
    publish = [s for s in statements if s["Action"] == "sns:Publish"]
    assert len(publish) == 1 and len(publish[0]["Resource"]) == 2


# -- grants ----------------------------------------------------------------------------------


def test_grant_invoke_real_time(real_time):
    _, endpoint = real_time
    stack = cdk.Stack.of(endpoint)
    role = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_invoke(role)
    statements = stack.resolve(role.node.find_child("DefaultPolicy").document.to_json())["Statement"]
    assert statements == [{"Action": "sagemaker:InvokeEndpoint", "Effect": "Allow", "Resource": {"Ref": logical_id(endpoint.endpoint)}}]


def test_grant_invoke_async(async_endpoint):
    _, endpoint = async_endpoint
    stack = cdk.Stack.of(endpoint)
    role = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_invoke(role)
    statements = stack.resolve(role.node.find_child("DefaultPolicy").document.to_json())["Statement"]
    actions = {a for s in statements for a in _list(s["Action"])}
    assert {"sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointAsync", "s3:PutObject", "s3:GetObject", "kms:GenerateDataKey"} <= actions
    invoke = next(s for s in statements if "sagemaker:InvokeEndpointAsync" in _list(s["Action"]))
    assert invoke["Resource"] == {"Ref": logical_id(endpoint.endpoint)}


# -- batch transform -------------------------------------------------------------------------


def test_batch_transform_state_machine(async_endpoint):
    template, endpoint = async_endpoint
    # The transform, and the Express state machine new uploads start it through.
    machines = template.find_resources("AWS::StepFunctions::StateMachine")
    assert sorted(m["Properties"].get("StateMachineType", "STANDARD") for m in machines.values()) == ["EXPRESS", "STANDARD"]
    (machine,) = (m for m in machines.values() if "StateMachineType" not in m["Properties"])
    props = machine["Properties"]
    definition = json.dumps(props["DefinitionString"])
    for expected in (
        "createTransformJob.sync",
        '\\"ContentType\\":\\"text/plain\\"',
        '\\"SplitType\\":\\"Line\\"',
        '\\"BatchStrategy\\":\\"SingleRecord\\"',
        '\\"AssembleWith\\":\\"Line\\"',
        "batch-input/",
        "batch-output/",
        "$$.Execution.Name",
    ):
        assert expected in definition, expected
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["TracingConfiguration"] == {"Enabled": True}
    # The state machine passes the execution role: no role with AmazonSageMakerFullAccess appears.
    assert "AmazonSageMakerFullAccess" not in json.dumps(template.to_json())
    sagemaker_roles = [
        r for r in template.find_resources("AWS::IAM::Role").values() if "sagemaker.amazonaws.com" in json.dumps(r)
    ]
    assert len(sagemaker_roles) == 1


# -- bad props -------------------------------------------------------------------------------


@pytest.mark.parametrize("capacity", ["real-time", EndpointMode.REAL_TIME, {"instance_type": "ml.c5.large"}])
def test_fails_when_capacity_is_not_built_by_endpoint_capacity(capacity):
    with pytest.raises(ValueError, match=r"capacity must come from EndpointCapacity.real_time\(\)"):
        build(network=False, capacity=capacity)


def test_fails_when_serverless_is_placed_in_a_vpc():
    app, stack = new_stack(env=REGION)
    network = SharedNetwork(stack, "Network")
    with pytest.raises(ValueError, match="serverless endpoints cannot run in a VPC"):
        SageMakerEndpoint(
            stack, "Endpoint", image=ModelImage(stack, "Image"), capacity=EndpointCapacity.serverless(), vpc=network.vpc
        )


def test_fails_when_serverless_asks_for_network_isolation():
    with pytest.raises(ValueError, match="do not support network isolation"):
        build(capacity=EndpointCapacity.serverless(), network_isolation=True)


def test_fails_when_subnets_come_without_a_vpc():
    with pytest.raises(ValueError, match="vpc_subnets needs vpc"):
        build(network=False, vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED))


def test_fails_when_alarm_threshold_or_expiration_is_not_positive():
    with pytest.raises(ValueError, match="invocation_5xx_alarm_threshold"):
        build(network=False, invocation_5xx_alarm_threshold=0)
    with pytest.raises(ValueError, match="data_expiration"):
        build(network=False, data_expiration=Duration.hours(1))


def test_fails_when_batch_transform_instance_type_is_invalid(real_time):
    _, endpoint = real_time
    with pytest.raises(ValueError, match="not a SageMaker instance type"):
        endpoint.add_batch_transform("Bad", instance_type="m5.large")
    with pytest.raises(ValueError, match="at least 1"):
        endpoint.add_batch_transform("Bad2", instance_count=0)


# -- nag clean in an app that is not ours ----------------------------------------------------


def _real_time_everything(stack, model_dir):
    endpoint = SageMakerEndpoint(
        stack,
        "Endpoint",
        image=ModelImage(stack, "Image"),
        vpc=SharedNetwork(stack, "Network").vpc,
        model_data=ModelData.from_directory(str(model_dir)),
        capacity=EndpointCapacity.real_time(cpu_target_percent=140, data_capture_percent=5),
    )
    endpoint.add_batch_transform()


def _async_everything(stack, model_dir):
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "my-models")
    endpoint = SageMakerEndpoint(
        stack,
        "Endpoint",
        image=ModelImage(stack, "Image"),
        vpc=SharedNetwork(stack, "Network").vpc,
        model_data=ModelData.from_s3_prefix(bucket, "models/"),
        capacity=EndpointCapacity.asynchronous(data_capture_percent=10),
    )
    endpoint.add_batch_transform()


def _serverless_everything(stack, model_dir):
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "my-models")
    SageMakerEndpoint(
        stack,
        "Endpoint",
        image=ModelImage(stack, "Image"),
        model_data=ModelData.from_s3_archive(bucket, "model.tar.gz"),
        capacity=EndpointCapacity.serverless(provisioned_concurrency=1),
    ).add_batch_transform()


@pytest.mark.parametrize("build_endpoint", [_real_time_everything, _async_everything, _serverless_everything], ids=lambda f: f.__name__.strip("_"))
def test_endpoint_is_nag_clean_in_any_app(tmp_path, build_endpoint):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.onnx").write_bytes(b"onnx")
    app = cdk.App(outdir=str(tmp_path / "out"))
    stack = cdk.Stack(app, "Consumer", env=REGION)
    build_endpoint(stack, model)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


def test_rollback_alarm_names_differ_for_nested_endpoints():
    app, stack = new_stack(env=REGION)
    image = ModelImage(stack, "Image")
    team_a, team_b = (Construct(stack, name) for name in ("TeamA", "TeamB"))
    SageMakerEndpoint(team_a, "Endpoint", image=image)
    SageMakerEndpoint(team_b, "Endpoint", image=image)
    names = [a["Properties"].get("AlarmName") for a in template_of(stack).find_resources("AWS::CloudWatch::Alarm").values()]
    named = sorted(n for n in names if n)
    assert named == [
        "Test-TeamA-Endpoint-Invocation5xx",
        "Test-TeamA-Endpoint-ModelLatency",
        "Test-TeamB-Endpoint-Invocation5xx",
        "Test-TeamB-Endpoint-ModelLatency",
    ]


# -- API shape ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["real_time", "serverless", "async_endpoint"])
def test_every_public_attribute_is_set_on_every_path(request, fixture):
    _, endpoint = request.getfixturevalue(fixture)
    names = ("capacity", "mode", "key", "image_target", "role", "security_group", "model", "data_bucket",
             "data_access_log_bucket", "success_topic", "error_topic", "endpoint_config", "topic", "endpoint",
             "endpoint_name", "endpoint_arn", "alarms", "scalable_target", "wake_alarm")
    for name in names:
        assert hasattr(endpoint, name), name
    is_async = endpoint.mode is EndpointMode.ASYNC
    assert (endpoint.wake_alarm is not None) == is_async
    assert (endpoint.success_topic is not None) == is_async
    assert (endpoint.security_group is not None) == (endpoint.mode is not EndpointMode.SERVERLESS)
    assert (endpoint.data_access_log_bucket is None) == (endpoint.data_bucket is None)


def test_gpu_instances_serve_the_cuda_image():
    stack, endpoint = build(capacity=EndpointCapacity.real_time(instance_type="ml.g5.xlarge"))
    assert endpoint.capacity.uses_gpu and endpoint.image_target == "server-gpu"
    image = stack.node.find_child("Image")
    assert [child.node.id for child in image.node.children if child.node.id.endswith("Asset")] == ["ServerGpuAsset"]
    _, cpu = build()
    assert cpu.image_target == "server" and not cpu.capacity.uses_gpu
