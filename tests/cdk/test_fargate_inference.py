"""FargateInference: every default, every prop, and the props it refuses."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match

from ml_inference_cdk import FargateInference, ModelImage, SharedNetwork
from tests.cdk.support import SERVICE_ALARM_KEYS, new_stack, template_of

REGION = cdk.Environment(region="us-east-1")  # the CDK's own ALB access-log policy for a known region


def build(image_props=None, env=REGION, **props):
    app, stack = new_stack(env=env)
    image = ModelImage(stack, "Image", **(image_props or {}))
    if not {"vpc", "cluster"} & set(props):
        props["vpc"] = SharedNetwork(stack, "Network").vpc
    construct = FargateInference(stack, "Service", image=image, **props)
    return stack, construct


@pytest.fixture(scope="module")
def default():
    stack, construct = build()
    return template_of(stack), construct


def test_minimal_use():
    app, stack = new_stack(env=REGION)
    image = ModelImage(stack, "Image")
    network = SharedNetwork(stack, "Network")
    service = FargateInference(stack, "Service", image=image, vpc=network.vpc)
    for name in ("service", "load_balancer", "load_balancer_security_group", "target_group", "cluster", "task_definition",
                 "container", "log_group", "access_log_bucket", "scaling", "listener", "alarms", "topic", "url"):
        assert getattr(service, name) is not None, name
    assert service.certificate is None


def test_default_task(default):
    template, _ = default
    template.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "Cpu": "2048",
            "Memory": "4096",
            "RequiresCompatibilities": ["FARGATE"],
            "RuntimePlatform": {"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"},
            "Volumes": [{"Name": "tmp"}],
            "ContainerDefinitions": [
                Match.object_like(
                    {
                        "PortMappings": [Match.object_like({"ContainerPort": 8080, "Protocol": "tcp"})],
                        "ReadonlyRootFilesystem": True,
                        "MountPoints": [{"ContainerPath": "/tmp", "SourceVolume": "tmp", "ReadOnly": False}],
                        "HealthCheck": Match.object_like(
                            {"Command": ["CMD", "python", "-m", "inference.app.healthcheck"], "StartPeriod": 60}
                        ),
                        "LogConfiguration": Match.object_like({"LogDriver": "awslogs"}),
                        "Environment": Match.array_with([{"Name": "PLATFORM", "Value": "fargate"}]),
                    }
                )
            ],
        },
    )
    template.has_resource("AWS::Logs::LogGroup", {"Properties": {"RetentionInDays": 14}, "DeletionPolicy": "Retain"})


def test_default_task_role_holds_no_permissions(default):
    template, construct = default
    task_role_id = cdk.Stack.of(construct).get_logical_id(construct.task_definition.task_role.node.default_child)
    policies = template.find_resources("AWS::IAM::Policy")
    assert not [p for p in policies.values() if {"Ref": task_role_id} in p["Properties"]["Roles"]]


def test_default_service_is_private_and_rolls_back(default):
    template, _ = default
    template.has_resource_properties(
        "AWS::ECS::Service",
        {
            "DesiredCount": 1,
            "LaunchType": "FARGATE",
            "HealthCheckGracePeriodSeconds": 60,
            "DeploymentConfiguration": {
                "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
                "MinimumHealthyPercent": 100,
                "MaximumPercent": 200,
            },
            "NetworkConfiguration": {
                "AwsvpcConfiguration": Match.object_like(
                    {"AssignPublicIp": "DISABLED", "Subnets": Match.array_with([{"Ref": Match.string_like_regexp("PrivateSubnet1")}])}
                )
            },
        },
    )


def test_rollback_on_alarms_adds_the_5xx_and_latency_alarms_to_the_deployment(default):
    template, _ = default
    service = next(iter(template.find_resources("AWS::ECS::Service").values()))
    assert "Alarms" not in service["Properties"]["DeploymentConfiguration"]
    stack, construct = build(rollback_on_alarms=True)
    alarms = construct.alarms
    template_of(stack).has_resource_properties(
        "AWS::ECS::Service",
        {
            "DeploymentConfiguration": Match.object_like({
                "Alarms": {
                    "AlarmNames": [
                        {"Ref": stack.get_logical_id(alarms["http_5xx"].node.default_child)},
                        {"Ref": stack.get_logical_id(alarms["p99_latency"].node.default_child)},
                    ],
                    "Enable": True,
                    "Rollback": True,
                },
                "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
            })
        },
    )


def test_default_cluster_has_container_insights(default):
    template, _ = default
    template.has_resource_properties(
        "AWS::ECS::Cluster", {"ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]}
    )


def test_default_load_balancer(default):
    # No certificate: internal, in the private subnets, plain HTTP from the VPC only.
    template, construct = default
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {
            "Scheme": "internal",
            "Subnets": Match.array_with([{"Ref": Match.string_like_regexp("PrivateSubnet1")}]),
            "LoadBalancerAttributes": Match.array_with(
                [
                    {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
                    {"Key": "access_logs.s3.enabled", "Value": "true"},
                ]
            ),
        },
    )
    template.has_resource_properties("AWS::ElasticLoadBalancingV2::Listener", {"Port": 80, "Protocol": "HTTP"})
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "Port": 8080,
            "TargetType": "ip",
            "HealthCheckPath": "/health",
            "TargetGroupAttributes": Match.array_with([{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]),
        },
    )
    assert construct.url.startswith("http://")
    listener = template.find_resources("AWS::ElasticLoadBalancingV2::Listener")
    [metadata] = [r["Metadata"]["checkov"]["skip"] for r in listener.values()]
    assert {skip["id"] for skip in metadata} == {"CKV_AWS_2", "CKV_AWS_103"}


def test_only_the_load_balancer_reaches_the_tasks(default):
    template, _ = default
    ingress = template.find_resources("AWS::EC2::SecurityGroupIngress", {"Properties": {"FromPort": 8080}})
    [rule] = ingress.values()
    assert "SourceSecurityGroupId" in rule["Properties"] and "CidrIp" not in rule["Properties"]
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": "Listeners of the inference load balancer",
            "SecurityGroupIngress": [Match.object_like({"CidrIp": {"Fn::GetAtt": [Match.string_like_regexp("NetworkVpc"), "CidrBlock"]}, "FromPort": 80})],
        },
    )


def test_access_log_bucket_is_encrypted_private_and_expiring(default):
    template, construct = default
    template.has_resource(
        "AWS::S3::Bucket",
        {
            "Properties": Match.object_like(
                {
                    "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                    "LifecycleConfiguration": {"Rules": [{"ExpirationInDays": 90, "Status": "Enabled"}]},
                }
            ),
            "DeletionPolicy": "Retain",
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])}},
    )


def test_default_scaling(default):
    template, _ = default
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 1, "MaxCapacity": 10})
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
                    "TargetValue": 70,
                    "ScaleInCooldown": 300,
                    "ScaleOutCooldown": 60,
                }
            )
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "PredefinedMetricSpecification": Match.object_like({"PredefinedMetricType": "ALBRequestCountPerTarget"}),
                    "TargetValue": 1000,
                }
            )
        },
    )


def test_default_alarms(default):
    template, construct = default
    assert set(construct.alarms) == {"http_5xx", "p99_latency", "unhealthy_hosts", "running_tasks"} | SERVICE_ALARM_KEYS
    topic = {"Ref": Match.string_like_regexp("ServiceAlarmTopic")}
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"Threshold": 5, "Metrics": Match.array_with([Match.object_like({"Expression": "FILL(elb, 0) + FILL(target, 0)"})]), "AlarmActions": [topic]},
    )
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "TargetResponseTime", "ExtendedStatistic": "p99", "Threshold": 1})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "UnHealthyHostCount", "Threshold": 1})
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"Namespace": "ECS/ContainerInsights", "MetricName": "RunningTaskCount", "Threshold": 1, "ComparisonOperator": "LessThanThreshold", "TreatMissingData": "breaching"},
    )
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})


def test_https_with_a_certificate_redirects_http():
    app, stack = new_stack(env=REGION)
    certificate = acm.Certificate.from_certificate_arn(
        stack, "Cert", "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1234-5678-9abc-0123456789ab"
    )
    image = ModelImage(stack, "Image")
    construct = FargateInference(stack, "Service", image=image, vpc=SharedNetwork(stack, "Network").vpc, certificate=certificate)
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Port": 443, "Protocol": "HTTPS", "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06", "Certificates": [{"CertificateArn": Match.any_value()}]},
    )
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Port": 80, "DefaultActions": [Match.object_like({"Type": "redirect", "RedirectConfig": Match.object_like({"Port": "443", "Protocol": "HTTPS"})})]},
    )
    assert construct.url.startswith("https://")


def test_internal_load_balancer_listens_to_the_vpc_only():
    stack, _ = build(internal=True)
    template = template_of(stack)
    template.has_resource_properties("AWS::ElasticLoadBalancingV2::LoadBalancer", {"Scheme": "internal"})
    groups = template.find_resources("AWS::EC2::SecurityGroup", {"Properties": {"GroupDescription": "Listeners of the inference load balancer"}})
    [group] = groups.values()
    assert all(rule.get("CidrIp") != "0.0.0.0/0" for rule in group["Properties"]["SecurityGroupIngress"])


def test_sizing_arm64_spot_and_scaling_props():
    stack, construct = build(
        image_props={"platform": ecr_assets.Platform.LINUX_ARM64},
        cpu=4096,
        memory_mib=8192,
        min_tasks=2,
        max_tasks=6,
        cpu_target_percent=60,
        requests_per_target_per_minute=500,
        spot_weight=3,
        on_demand_base=1,
        environment={"LOG_LEVEL": "DEBUG"},
        health_check_grace_period=Duration.seconds(120),
        deregistration_delay=Duration.seconds(10),
    )
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {"Cpu": "4096", "Memory": "8192", "RuntimePlatform": Match.object_like({"CpuArchitecture": "ARM64"})},
    )
    template.has_resource_properties(
        "AWS::ECS::Service",
        {
            "DesiredCount": 2,
            "HealthCheckGracePeriodSeconds": 120,
            "CapacityProviderStrategy": [
                {"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1},
                {"CapacityProvider": "FARGATE_SPOT", "Weight": 3},
            ],
        },
    )
    template.has_resource_properties("AWS::ECS::ClusterCapacityProviderAssociations", {"CapacityProviders": Match.array_with(["FARGATE_SPOT"])})
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 2, "MaxCapacity": 6})
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {"TargetTrackingScalingPolicyConfiguration": Match.object_like({"TargetValue": 60})})
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {"TargetTrackingScalingPolicyConfiguration": Match.object_like({"TargetValue": 500})})
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {"TargetGroupAttributes": Match.array_with([{"Key": "deregistration_delay.timeout_seconds", "Value": "10"}])},
    )
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "RunningTaskCount", "Threshold": 2})


def test_existing_cluster_and_alarm_topic():
    app, stack = new_stack(env=REGION)
    network = SharedNetwork(stack, "Network")
    cluster = ecs.Cluster(stack, "Shared", vpc=network.vpc)
    topic = sns.Topic(stack, "Ops")
    image = ModelImage(stack, "Image")
    construct = FargateInference(stack, "Service", image=image, cluster=cluster, alarm_topic=topic)
    template = template_of(stack)
    template.resource_count_is("AWS::ECS::Cluster", 1)
    template.resource_count_is("AWS::KMS::Key", 0)
    assert construct.cluster is cluster and construct.topic is topic


def test_plain_vpc_placement():
    app, stack = new_stack(env=REGION)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    image = ModelImage(stack, "Image")
    FargateInference(stack, "Service", image=image, vpc=vpc)
    template_of(stack).has_resource_properties(
        "AWS::ECS::Service",
        {"NetworkConfiguration": {"AwsvpcConfiguration": Match.object_like({"Subnets": Match.array_with([{"Ref": Match.string_like_regexp("VpcPrivateSubnet1")}])})}},
    )


def test_metric_helpers(default):
    _, construct = default
    assert construct.metric_cpu_utilization().metric_name == "CPUUtilization"
    assert construct.metric_memory_utilization().metric_name == "MemoryUtilization"
    assert construct.metric_request_count().metric_name == "RequestCount"
    assert construct.metric_target_response_time().statistic == "p99"
    assert construct.metric_unhealthy_hosts().metric_name == "UnHealthyHostCount"
    assert construct.metric_running_tasks().namespace == "ECS/ContainerInsights"
    assert "FILL" in construct.metric_http_5xx().expression


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"cpu": 3000}, "cpu must be one of"),
        ({"cpu": 2048, "memory_mib": 2048}, "is not valid with cpu 2048"),
        ({"min_tasks": 0}, "min_tasks must be at least 1"),
        ({"min_tasks": 5, "max_tasks": 2}, "must be at least min_tasks"),
        ({"cpu_target_percent": 95}, "cpu_target_percent must be between 10 and 90"),
        ({"requests_per_target_per_minute": 0}, "requests_per_target_per_minute must be at least 1"),
        ({"spot_weight": -1}, "must not be negative"),
        ({"on_demand_base": 2}, "set spot_weight too"),
        ({"http_5xx_alarm_threshold": 0}, "http_5xx_alarm_threshold must be at least 1"),
    ],
    ids=["cpu", "memory", "min-tasks", "max-under-min", "cpu-target", "requests", "spot", "base-without-spot", "5xx-threshold"],
)
def test_fails_when_props_are_invalid(props, message):
    with pytest.raises(ValueError, match=message):
        build(**props)


def test_fails_when_placement_is_missing_or_ambiguous():
    app, stack = new_stack(env=REGION)
    image = ModelImage(stack, "Image")
    network = SharedNetwork(stack, "Network")
    cluster = ecs.Cluster(stack, "Shared", vpc=network.vpc)
    with pytest.raises(ValueError, match=r"pass vpc= \(for example SharedNetwork\(...\).vpc\) or cluster="):
        FargateInference(stack, "A", image=image)
    with pytest.raises(ValueError, match="give vpc or cluster, not both"):
        FargateInference(stack, "B", image=image, vpc=network.vpc, cluster=cluster)
    with pytest.raises(ValueError, match="vpc_subnets needs vpc"):
        FargateInference(stack, "C", image=image, vpc_subnets=network.private_subnets)


def test_task_subnets_follow_vpc_subnets():
    app, stack = new_stack(env=REGION)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    image = ModelImage(stack, "Image")
    FargateInference(stack, "Service", image=image, vpc=vpc, vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC))
    template_of(stack).has_resource_properties(
        "AWS::ECS::Service",
        {"NetworkConfiguration": {"AwsvpcConfiguration": Match.object_like({"Subnets": Match.array_with([{"Ref": Match.string_like_regexp("VpcPublicSubnet1")}])})}},
    )


def test_generic_metric_is_the_service_metric(default):
    _, construct = default
    metric = construct.metric("CPUUtilization", statistic="Maximum")
    assert (metric.namespace, metric.statistic) == ("AWS/ECS", "Maximum")
    assert set(metric.dimensions) == {"ClusterName", "ServiceName"}


def test_access_logs_in_an_env_agnostic_stack():
    # No region at synth: the bucket policy picks the ELB account at deploy time, and admits the
    # log-delivery service principal that regions opened since August 2022 use.
    stack, construct = build(env=None)
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {"LoadBalancerAttributes": Match.array_with([{"Key": "access_logs.s3.enabled", "Value": "true"}])},
    )
    resources = template.to_json()
    mapping = resources["Mappings"]["ElbAccessLogAccounts"]
    assert mapping["us-east-1"] == {"account": "127311923021"} and mapping["eu-west-1"] == {"account": "156460612806"}
    assert "ElbAccessLogAccountKnown" in resources["Conditions"]
    [policy] = template.find_resources("AWS::S3::BucketPolicy").values()
    writers = [statement["Principal"] for statement in policy["Properties"]["PolicyDocument"]["Statement"]
               if statement["Action"] == "s3:PutObject" and "Condition" not in statement and "Principal" in statement]
    services = [p["Service"] for p in writers if "Service" in p]
    assert "logdelivery.elasticloadbalancing.amazonaws.com" in services
    [account] = [p["AWS"] for p in writers if "AWS" in p]
    assert account["Fn::If"][0] == "ElbAccessLogAccountKnown"
    assert "Fn::FindInMap" in json.dumps(account["Fn::If"][1])
    [lb] = template.find_resources("AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    assert any("AccessLogsPolicy" in dependency for dependency in lb["DependsOn"])
