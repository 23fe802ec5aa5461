"""LambdaInference: every default, every prop, and the props it refuses."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match

from ml_inference_cdk import LambdaEndpointType, LambdaInference, ModelImage, SharedNetwork
from ml_inference_cdk.constructs.lambda_inference import warmup_event
from tests.cdk.support import SERVICE_ALARM_KEYS, new_stack, template_of


def build(image_props=None, **props):
    app, stack = new_stack()
    image = ModelImage(stack, "Image", **(image_props or {}))
    construct = LambdaInference(stack, "Sentiment", image=image, **props)
    return stack, construct


@pytest.fixture(scope="module")
def default():
    stack, construct = build()
    return template_of(stack), construct


# --- defaults -----------------------------------------------------------------------------


def test_minimal_use_is_exactly_two_lines():
    app, stack = new_stack()
    image = ModelImage(stack, "Image")
    inference = LambdaInference(stack, "Sentiment", image=image)
    assert inference.function is not None and inference.alias.alias_name == "live"


def test_default_function(default):
    template, _ = default
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "PackageType": "Image",
            "MemorySize": 3008,
            "Timeout": 30,
            "Architectures": ["x86_64"],
            "EphemeralStorage": {"Size": 512},
            "TracingConfig": {"Mode": "Active"},
            "ReservedConcurrentExecutions": Match.absent(),
            "VpcConfig": Match.absent(),
            "LoggingConfig": {"LogFormat": "JSON", "LogGroup": {"Ref": Match.string_like_regexp("SentimentLogGroup")}},
            "Environment": {
                "Variables": Match.object_like(
                    {"PLATFORM": "lambda", "MODEL_DIR": "/opt/ml/model"}
                )
            },
        },
    )


def test_default_log_group_has_retention_and_is_retained(default):
    template, _ = default
    template.has_resource(
        "AWS::Logs::LogGroup",
        {"Properties": {"RetentionInDays": 14}, "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"},
    )


def test_default_role_is_least_privilege(default):
    template, _ = default
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [Match.object_like({"Principal": {"Service": "lambda.amazonaws.com"}})]
            },
            "ManagedPolicyArns": Match.absent(),
        },
    )
    policies = template.find_resources("AWS::IAM::Policy")
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    actions = sorted(a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    assert actions == ["logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    log_statement = next(s for s in statements if "logs:PutLogEvents" in s["Action"])
    log_group_id = next(iter(template.find_resources("AWS::Logs::LogGroup")))
    assert log_statement["Resource"] == {"Fn::GetAtt": [log_group_id, "Arn"]}


def test_default_alias_is_live_without_provisioned_concurrency(default):
    template, construct = default
    template.has_resource_properties(
        "AWS::Lambda::Alias", {"Name": "live", "ProvisionedConcurrencyConfig": Match.absent()}
    )
    assert construct.alias.alias_name == "live"


def test_default_endpoint_is_an_iam_function_url_on_the_alias(default):
    template, construct = default
    template.has_resource_properties(
        "AWS::Lambda::Url",
        {"AuthType": "AWS_IAM", "Qualifier": "live"},
    )
    assert construct.function_url is not None and construct.http_api is None
    assert cdk.Stack.of(construct).resolve(construct.url) == {
        "Fn::GetAtt": [cdk.Stack.of(construct).get_logical_id(construct.function_url.node.default_child), "FunctionUrl"]
    }
    template.resource_count_is("AWS::ApiGatewayV2::Api", 0)


def test_default_alarms_notify_an_encrypted_topic(default):
    template, construct = default
    assert set(construct.alarms) == {"errors", "throttles", "p99_duration"} | SERVICE_ALARM_KEYS
    template.resource_count_is("AWS::CloudWatch::Alarm", 3 + len(SERVICE_ALARM_KEYS))
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("AlarmTopicKey"), "Arn"]}}
    )
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])}},
    )
    topic_ref = {"Ref": Match.string_like_regexp("AlarmTopic")}
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "Errors", "Threshold": 5, "Statistic": "Sum", "Period": 60, "AlarmActions": [topic_ref], "OKActions": [topic_ref],
         "Dimensions": Match.array_with([{"Name": "Resource", "Value": Match.any_value()}])},
    )
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "Throttles", "Threshold": 1})
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "Duration", "ExtendedStatistic": "p99", "Threshold": 24000}
    )
    # CloudWatch must be able to use the key to publish to the encrypted topic.
    template.has_resource_properties(
        "AWS::KMS::Key",
        {"KeyPolicy": {"Statement": Match.array_with([Match.object_like({"Principal": {"Service": "cloudwatch.amazonaws.com"}})])}},
    )


def test_default_has_no_canary_warmup_or_vpc(default):
    template, construct = default
    template.resource_count_is("AWS::CodeDeploy::DeploymentGroup", 0)
    template.resource_count_is("AWS::Events::Rule", 0)
    template.resource_count_is("AWS::EC2::SecurityGroup", 0)
    assert construct.deployment_group is None and construct.warmup_rule is None


# --- props --------------------------------------------------------------------------------


def test_sizing_props():
    stack, _ = build(
        memory_mib=4096,
        timeout=Duration.seconds(60),
        ephemeral_storage_mib=2048,
        reserved_concurrency=20,
        provisioned_concurrency=3,
        environment={"LOG_LEVEL": "DEBUG"},
        log_retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "MemorySize": 4096,
            "Timeout": 60,
            "EphemeralStorage": {"Size": 2048},
            "ReservedConcurrentExecutions": 20,
            "Environment": {"Variables": Match.object_like({"LOG_LEVEL": "DEBUG", "PLATFORM": "lambda"})},
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Alias", {"ProvisionedConcurrencyConfig": {"ProvisionedConcurrentExecutions": 3}}
    )
    template.has_resource("AWS::Logs::LogGroup", {"Properties": {"RetentionInDays": 30}, "DeletionPolicy": "Delete"})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "Duration", "Threshold": 48000})


def test_arm64_follows_the_image():
    stack, construct = build(image_props={"platform": ecr_assets.Platform.LINUX_ARM64})
    template_of(stack).has_resource_properties("AWS::Lambda::Function", {"Architectures": ["arm64"]})


def test_http_api_endpoint_with_iam_auth_throttling_and_access_logs():
    stack, construct = build(endpoint_type=LambdaEndpointType.HTTP_API, throttle_rate_limit=10, throttle_burst_limit=20)
    template = template_of(stack)
    assert construct.function_url is None and construct.http_api is not None and construct.access_log_group is not None
    assert "ApiEndpoint" in json.dumps(cdk.Stack.of(construct).resolve(construct.url))
    template.resource_count_is("AWS::Lambda::Url", 0)
    template.has_resource_properties("AWS::ApiGatewayV2::Route", {"RouteKey": "$default", "AuthorizationType": "AWS_IAM"})
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {"ThrottlingRateLimit": 10, "ThrottlingBurstLimit": 20},
            "AccessLogSettings": {
                "DestinationArn": {"Fn::GetAtt": [Match.string_like_regexp("SentimentAccessLogs"), "Arn"]},
                "Format": Match.string_like_regexp(r"\$context.requestId"),
            },
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Principal": "apigateway.amazonaws.com", "FunctionName": {"Ref": Match.string_like_regexp("SentimentAlias")}},
    )


def test_no_endpoint():
    stack, construct = build(endpoint_type=LambdaEndpointType.NONE)
    template = template_of(stack)
    template.resource_count_is("AWS::Lambda::Url", 0)
    template.resource_count_is("AWS::ApiGatewayV2::Api", 0)
    assert construct.url is None and construct.function_url is None and construct.http_api is None


def test_public_endpoint_needs_an_explicit_prop_and_warns():
    stack, _ = build(auth_type=lambda_.FunctionUrlAuthType.NONE)
    template_of(stack).has_resource_properties("AWS::Lambda::Url", {"AuthType": "NONE"})
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("auth_type=NONE"))
    assert len(warnings) == 1


def test_iam_endpoint_does_not_warn(default):
    _, construct = default
    stack = cdk.Stack.of(construct)
    assert Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("auth_type")) == []


def test_vpc_placement_in_a_shared_network():
    app, stack = new_stack()
    network = SharedNetwork(stack, "Network")
    image = ModelImage(stack, "Image")
    LambdaInference(stack, "Sentiment", image=image, vpc=network.vpc)
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"VpcConfig": {"SubnetIds": Match.array_with([{"Ref": Match.string_like_regexp("PrivateSubnet1")}]), "SecurityGroupIds": Match.any_value()}},
    )
    template.has_resource_properties(
        "AWS::IAM::Role",
        {"ManagedPolicyArns": [{"Fn::Join": ["", Match.array_with([Match.string_like_regexp("AWSLambdaVPCAccessExecutionRole")])]}]},
    )


def test_warmup_calls_health_on_the_alias():
    stack, construct = build(warmup_interval=Duration.minutes(5))
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(5 minutes)",
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Ref": Match.string_like_regexp("SentimentAlias")},
                        "Input": Match.serialized_json(Match.object_like({"rawPath": "/health", "version": "2.0"})),
                        "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60},
                    }
                )
            ],
        },
    )
    assert warmup_event()["requestContext"]["http"]["method"] == "GET"


def test_given_alarm_topic_and_thresholds():
    app, stack = new_stack()
    topic = sns.Topic(stack, "Ops")
    image = ModelImage(stack, "Image")
    construct = LambdaInference(
        stack,
        "Sentiment",
        image=image,
        alarm_topic=topic,
        error_alarm_threshold=3,
        throttle_alarm_threshold=7,
        p99_duration_alarm_threshold=Duration.seconds(2),
    )
    template = template_of(stack)
    assert construct.topic is topic
    template.resource_count_is("AWS::SNS::Topic", 1)
    template.resource_count_is("AWS::KMS::Key", 0)
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "Errors", "Threshold": 3, "AlarmActions": [{"Ref": Match.string_like_regexp("Ops")}]})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "Throttles", "Threshold": 7})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "Duration", "Threshold": 2000})


def test_canary_deployment_rolls_back_on_the_alarms():
    stack, construct = build(deployment_config=codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES)
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::CodeDeploy::DeploymentGroup",
        {
            "DeploymentConfigName": "CodeDeployDefault.LambdaCanary10Percent5Minutes",
            "AlarmConfiguration": {"Enabled": True, "Alarms": Match.any_value()},
            "AutoRollbackConfiguration": {
                "Enabled": True,
                "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST", "DEPLOYMENT_STOP_ON_ALARM"],
            },
        },
    )
    alarms = template.find_resources("AWS::CodeDeploy::DeploymentGroup")
    group = next(iter(alarms.values()))
    assert len(group["Properties"]["AlarmConfiguration"]["Alarms"]) == 3
    template.has_resource("AWS::Lambda::Alias", {"UpdatePolicy": {"CodeDeployLambdaAliasUpdate": Match.any_value()}})
    assert construct.deployment_group is not None


def test_grant_invoke_covers_the_alias_and_its_url(default):
    app, stack = new_stack()
    image = ModelImage(stack, "Image")
    construct = LambdaInference(stack, "Sentiment", image=image)
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    construct.grant_invoke(caller)
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": Match.string_like_regexp("Caller")}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like({"Action": "lambda:InvokeFunction"}),
                        Match.object_like({"Action": "lambda:InvokeFunctionUrl"}),
                    ]
                )
            },
        },
    )


def test_grant_invoke_covers_the_http_api():
    app, stack = new_stack()
    image = ModelImage(stack, "Image")
    construct = LambdaInference(stack, "Sentiment", image=image, endpoint_type=LambdaEndpointType.HTTP_API)
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    construct.grant_invoke(caller)
    template_of(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Action": "execute-api:Invoke"})])}},
    )


def test_metric_helpers_use_the_alias(default):
    _, construct = default
    stack = cdk.Stack.of(construct)
    for metric in (construct.metric_errors(), construct.metric_throttles(), construct.metric_invocations(), construct.metric_duration(statistic="p99")):
        assert metric.namespace == "AWS/Lambda"
        assert set(metric.dimensions) == {"FunctionName", "Resource"}
    assert construct.metric_duration(statistic="p99").statistic == "p99"
    assert stack.resolve(construct.metric_errors().dimensions["Resource"])


def test_public_attributes(default):
    _, construct = default
    for name in ("function", "alias", "url", "function_url", "http_api", "access_log_group", "alarms", "topic",
                 "role", "log_group", "image", "warmup_rule", "deployment_group", "auth_type", "endpoint_type"):
        assert hasattr(construct, name), name
    assert construct.warmup_rule is None and construct.deployment_group is None and construct.access_log_group is None


def test_generic_metric_is_the_alias_metric(default):
    _, construct = default
    metric = construct.metric("ConcurrentExecutions", statistic="Maximum")
    assert (metric.namespace, metric.metric_name, metric.statistic) == ("AWS/Lambda", "ConcurrentExecutions", "Maximum")
    assert set(metric.dimensions) == {"FunctionName", "Resource"}


def test_description_is_generic_by_default_and_settable(default):
    template, _ = default
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Description": Match.string_like_regexp(r"^Sequence classification inference \(")}
    )
    stack, _ = build(description="Reviews sentiment")
    template_of(stack).has_resource_properties("AWS::Lambda::Function", {"Description": "Reviews sentiment"})


# --- bad props ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"memory_mib": 64}, "memory_mib must be between 128 and 10240"),
        ({"memory_mib": 20000}, "memory_mib must be between 128 and 10240"),
        ({"timeout": Duration.minutes(16)}, "timeout must be between 1 second and 15 minutes"),
        ({"endpoint_type": LambdaEndpointType.HTTP_API, "timeout": Duration.seconds(60)}, "HTTP API waits at most 30 seconds"),
        ({"architecture": lambda_.Architecture.ARM_64}, "does not match the image platform"),
        ({"ephemeral_storage_mib": 100}, "ephemeral_storage_mib must be between 512 and 10240"),
        ({"reserved_concurrency": 0}, "reserved_concurrency must be at least 1"),
        ({"provisioned_concurrency": -1}, "provisioned_concurrency must not be negative"),
        ({"reserved_concurrency": 2, "provisioned_concurrency": 5}, "cannot exceed reserved_concurrency"),
        ({"throttle_rate_limit": 0}, "throttle_rate_limit and throttle_burst_limit must be at least 1"),
        ({"warmup_interval": Duration.seconds(30)}, "warmup_interval must be at least 1 minute"),
        ({"error_alarm_threshold": 0}, "error_alarm_threshold must be at least 1"),
        ({"vpc_subnets": cdk.aws_ec2.SubnetSelection(subnet_type=cdk.aws_ec2.SubnetType.PUBLIC)}, "vpc_subnets needs vpc"),
        ({"environment": {"AWS_REGION": "x"}}, "reserved by Lambda"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_fails_when_props_are_invalid(props, message):
    with pytest.raises(ValueError, match=message):
        build(**props)


def test_fails_when_the_old_network_prop_is_given():
    # 0.2 placed every construct with vpc= and vpc_subnets=; network= is gone.
    app, stack = new_stack()
    network = SharedNetwork(stack, "Network")
    image = ModelImage(stack, "Image")
    with pytest.raises(TypeError):
        LambdaInference(stack, "Sentiment", image=image, network=network)
