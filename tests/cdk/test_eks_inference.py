"""EksInference: every default, the props that change it, and the props it refuses."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks

from ml_inference_cdk import EksInference, ModelImage, SharedNetwork
from tests.cdk.eks_support import by_kind, manifests_of, validate
from tests.cdk.support import SERVICE_ALARM_KEYS, new_stack, template_of

REGION = cdk.Environment(region="us-east-1")
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1234-5678-9abc-0123456789ab"


def build(image_props=None, **props):
    app, stack = new_stack(env=REGION)
    image = ModelImage(stack, "Image", **(image_props or {}))
    if not {"vpc", "cluster"} & set(props):
        props["vpc"] = SharedNetwork(stack, "Network").vpc
    construct = EksInference(stack, "Service", image=image, **props)
    return stack, construct


@pytest.fixture(scope="module")
def default():
    stack, construct = build()
    return template_of(stack), construct


@pytest.fixture(scope="module")
def everything(tmp_path_factory):
    # Every optional feature at once, in an app with cdk-nag on: the acknowledgements live in the
    # construct, so any app that uses it is clean.
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("eks-everything")))
    stack = cdk.Stack(app, "Consumer", env=REGION)
    admin = iam.Role.from_role_arn(stack, "Admin", "arn:aws:iam::123456789012:role/platform-admin", mutable=False)
    construct = EksInference(
        stack,
        "Service",
        image=ModelImage(stack, "Image"),
        vpc=SharedNetwork(stack, "Network").vpc,
        endpoint_public_cidrs=["203.0.113.0/24"],
        admin_roles=[admin],
        namespace="ml",
        name="classifier",
        cpu_request_millicores=1500,
        cpu_limit_millicores=4000,
        memory_request_mib=3072,
        memory_limit_mib=6144,
        environment={"LOG_LEVEL": "DEBUG"},
        min_replicas=3,
        max_replicas=12,
        cpu_target_percent=60,
        memory_target_percent=75,
        scale_down_stabilization=Duration.minutes(10),
        max_unavailable=2,
        progress_deadline=Duration.minutes(15),
        gpu_count=1,
        internal=True,
        certificate=acm.Certificate.from_certificate_arn(stack, "Cert", CERTIFICATE),
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises on any unacknowledged finding
    return Template.from_stack(stack), construct


def test_minimal_use(default):
    _, construct = default
    for name in ("cluster", "namespace", "service_account", "service_account_role", "manifests", "alarms", "topic", "addons", "secrets_key"):
        assert getattr(construct, name) is not None, name
    assert construct.namespace == "inference" and construct.service_account == "inference"
    assert set(construct.alarms) == {"running_pods", "container_restarts", "cpu_saturation", "memory_saturation"} | SERVICE_ALARM_KEYS
    assert set(construct.addons) == {"metrics-server", "amazon-cloudwatch-observability"}


def test_default_cluster(default):
    template, _ = default
    template.resource_count_is("AWS::EKS::Cluster", 1)
    template.has_resource_properties(
        "AWS::EKS::Cluster",
        {
            "Version": "1.36",
            "ComputeConfig": Match.object_like({"Enabled": True}),
            "ResourcesVpcConfig": Match.object_like(
                {
                    "EndpointPrivateAccess": True,
                    "EndpointPublicAccess": False,
                    "SubnetIds": Match.array_with([{"Ref": Match.string_like_regexp("PrivateSubnet1")}]),
                }
            ),
        },
    )
    template.has_resource("AWS::KMS::Key", {"Properties": Match.object_like({"EnableKeyRotation": True}), "DeletionPolicy": "Retain"})
    # The kubectl provider reaches the private endpoint from inside the VPC.
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Description": Match.string_like_regexp("kubectl"), "VpcConfig": Match.object_like({"SubnetIds": Match.any_value()})}
    )
    template.resource_count_is("AWS::EKS::AccessEntry", 1)  # the kubectl provider's, no one else


def test_default_manifests_are_valid(default):
    template, construct = default
    objects = manifests_of(template.to_json())
    assert len(objects) == 9
    for obj in objects:
        validate(obj, "1.36")
    kinds = by_kind(objects)
    assert kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    assert (kinds["HorizontalPodAutoscaler"]["spec"]["minReplicas"], kinds["HorizontalPodAutoscaler"]["spec"]["maxReplicas"]) == (2, 10)
    assert "certificateARNs" not in kinds["IngressClassParams"]["spec"]
    assert set(construct.manifests) == set(kinds)
    # A rollout stuck for 10 minutes is marked failed; the old pods keep serving (maxUnavailable 0).
    assert kinds["Deployment"]["spec"]["progressDeadlineSeconds"] == 600


def test_url_is_read_from_the_ingress_once_its_load_balancer_exists(default):
    template, construct = default
    [(logical_id, value)] = template.find_resources("Custom::AWSCDK-EKS-KubernetesObjectValue").items()
    assert value["Properties"] | {"ServiceToken": None, "ClusterName": None} == {
        "ServiceToken": None, "ClusterName": None, "ObjectType": "ingress", "ObjectName": "inference",
        "ObjectNamespace": "inference", "JsonPath": ".status.loadBalancer.ingress[0].hostname", "TimeoutSeconds": 600,
    }
    assert any("manifestIngress" in dependency for dependency in value["DependsOn"])
    stack = cdk.Stack.of(construct)
    assert stack.resolve(construct.url) == {"Fn::Join": ["", ["http://", {"Fn::GetAtt": [logical_id, "Value"]}]]}


def test_pod_identity_role_holds_no_permissions(default):
    template, construct = default
    role_id = cdk.Stack.of(construct).get_logical_id(construct.service_account_role.node.default_child)
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like({"Action": ["sts:AssumeRole", "sts:TagSession"], "Principal": {"Service": "pods.eks.amazonaws.com"}})
                ]
            },
            "Description": Match.string_like_regexp("inference pods"),
        },
    )
    policies = template.find_resources("AWS::IAM::Policy")
    assert not [p for p in policies.values() if {"Ref": role_id} in p["Properties"]["Roles"]]
    template.has_resource_properties(
        "AWS::EKS::PodIdentityAssociation",
        {"Namespace": "inference", "ServiceAccount": "inference", "RoleArn": {"Fn::GetAtt": [role_id, "Arn"]}},
    )
    template.has_resource_properties(
        "AWS::EKS::PodIdentityAssociation", {"Namespace": "amazon-cloudwatch", "ServiceAccount": "cloudwatch-agent"}
    )


def test_manifests_are_applied_in_order(default):
    template, _ = default
    resources = template.find_resources("Custom::AWSCDK-EKS-KubernetesResource")
    namespace_id = next(key for key in resources if "Namespace" in key)
    workload = next(value for key, value in resources.items() if "Workload" in key)
    depends = set(workload["DependsOn"])
    assert namespace_id in depends
    assert any("MetricsServer" in d for d in depends) and any("PodIdentity" in d for d in depends)


def test_default_alarms(default):
    template, construct = default
    topic = {"Ref": Match.string_like_regexp("ServiceAlarmTopic")}
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "ContainerInsights",
            "MetricName": "service_number_of_running_pods",
            "Threshold": 2,
            "ComparisonOperator": "LessThanThreshold",
            "TreatMissingData": "breaching",
            "AlarmActions": [topic],
            "Dimensions": Match.array_with([{"Name": "Namespace", "Value": "inference"}, {"Name": "Service", "Value": "inference"}]),
        },
    )
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "pod_number_of_container_restarts", "Threshold": 3})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "pod_cpu_utilization_over_pod_limit", "Threshold": 90})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "pod_memory_utilization_over_pod_limit", "Threshold": 90})
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})


def test_metric_helpers(default):
    _, construct = default
    assert construct.metric_running_pods().metric_name == "service_number_of_running_pods"
    assert construct.metric_cpu_utilization().namespace == "ContainerInsights"
    assert construct.metric_memory_utilization().metric_name == "pod_memory_utilization_over_pod_limit"
    assert construct.metric_container_restarts().statistic == "Sum"
    assert construct.metric_network_rx_bytes(period=Duration.minutes(5)).period.to_minutes() == 5


def test_every_prop(everything):
    template, construct = everything
    objects = manifests_of(template.to_json())
    for obj in objects:
        validate(obj, "1.36")
    kinds = by_kind(objects)
    assert set(kinds) == set(construct.manifests) and "NodePool" in kinds
    deployment = kinds["Deployment"]
    assert deployment["metadata"]["name"] == "classifier" and deployment["metadata"]["namespace"] == "ml"
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"] == {
        "requests": {"cpu": "1500m", "memory": "3Gi", "nvidia.com/gpu": "1"},
        "limits": {"cpu": "4", "memory": "6Gi", "nvidia.com/gpu": "1"},
    }
    assert {"name": "LOG_LEVEL", "value": "DEBUG"} in container["env"]
    assert pod["nodeSelector"] == {"karpenter.sh/nodepool": kinds["NodePool"]["metadata"]["name"]}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    pool = kinds["NodePool"]["spec"]
    assert {"key": "eks.amazonaws.com/instance-family", "operator": "In", "values": ["g5"]} in pool["template"]["spec"]["requirements"]
    assert pool["template"]["spec"]["nodeClassRef"] == {"group": "eks.amazonaws.com", "kind": "NodeClass", "name": "default"}
    assert pool["limits"] == {"nvidia.com/gpu": 12}
    hpa = kinds["HorizontalPodAutoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 12)
    assert {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]} == {"cpu": 60, "memory": 75}
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 600
    assert kinds["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 2
    assert deployment["spec"]["progressDeadlineSeconds"] == 900
    assert construct.url.startswith("https://")
    params = kinds["IngressClassParams"]["spec"]
    assert params["scheme"] == "internal" and params["certificateARNs"] == [CERTIFICATE]
    assert params["subnets"]["ids"] == ["TOKEN", "TOKEN"]
    assert kinds["Ingress"]["metadata"]["annotations"]["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    template.has_resource_properties(
        "AWS::EKS::Cluster",
        {"ResourcesVpcConfig": Match.object_like({"EndpointPublicAccess": True, "PublicAccessCidrs": ["203.0.113.0/24"]})},
    )
    template.has_resource_properties(
        "AWS::EKS::AccessEntry",
        {
            "PrincipalArn": "arn:aws:iam::123456789012:role/platform-admin",
            "AccessPolicies": [Match.object_like({"AccessScope": {"Type": "cluster"}})],
        },
    )
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "service_number_of_running_pods", "Threshold": 3})
    # Internal with a certificate: HTTPS inside the VPC, no web ACL, everything reachable.
    assert construct.internal and construct.web_acl is None
    assert "alb.ingress.kubernetes.io/wafv2-acl-arn" not in kinds["Ingress"]["metadata"]["annotations"]
    # The admin role is named beside the kubectl provider's, and synth has nothing to warn about.
    assert len(construct.cluster_admin_role_arns) == 2
    assert "arn:aws:iam::123456789012:role/platform-admin" in construct.cluster_admin_role_arns
    warnings = Annotations.from_stack(cdk.Stack.of(construct)).find_warning("*", Match.any_value())
    assert not [w for w in warnings if "ml-inference:" in str(w.entry.data)]


def test_existing_cluster_without_addons_or_alarms():
    app, stack = new_stack(env=REGION)
    provider = eks.KubectlProvider.from_kubectl_provider_attributes(
        stack, "Provider", service_token="arn:aws:lambda:us-east-1:123456789012:function:kubectl"
    )
    cluster = eks.Cluster.from_cluster_attributes(stack, "Existing", cluster_name="platform", kubectl_provider=provider)
    topic = sns.Topic(stack, "Ops")
    construct = EksInference(
        stack, "Service", image=ModelImage(stack, "Image"), cluster=cluster, metrics_server=False, container_insights=False, alarm_topic=topic
    )
    template = template_of(stack)
    template.resource_count_is("AWS::EKS::Cluster", 0)
    template.resource_count_is("AWS::EKS::Addon", 0)
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)
    template.resource_count_is("AWS::KMS::Key", 0)
    template.has_resource_properties("AWS::EKS::PodIdentityAssociation", {"ClusterName": "platform"})
    assert construct.cluster is cluster and construct.alarms == {} and construct.secrets_key is None
    # Without a VPC to read, Auto Mode finds the load balancer's subnets by their tags.
    assert "subnets" not in construct.manifests["IngressClassParams"]["spec"]
    for obj in manifests_of(template.to_json()):
        validate(obj, "1.36")


def test_plain_vpc_placement():
    app, stack = new_stack(env=REGION)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    construct = EksInference(stack, "Service", image=ModelImage(stack, "Image"), vpc=vpc, container_insights=False)
    assert construct.cluster.vpc is vpc


def test_arm64_gpu_pool_uses_graviton_families():
    app, stack = new_stack(env=REGION)
    construct = EksInference(
        stack,
        "Service",
        image=ModelImage(stack, "Image", platform=ecr_assets.Platform.LINUX_ARM64),
        vpc=SharedNetwork(stack, "Network").vpc,
        gpu_count=1,
        gpu_instance_families=["g5g"],
        container_insights=False,
    )
    requirements = construct.manifests["NodePool"]["spec"]["template"]["spec"]["requirements"]
    assert {"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]} in requirements


def test_kubectl_layer_for_another_version():
    from aws_cdk import aws_lambda as lambda_

    app, stack = new_stack(env=REGION)
    layer = lambda_.LayerVersion.from_layer_version_arn(stack, "Layer", "arn:aws:lambda:us-east-1:123456789012:layer:kubectl:1")
    construct = EksInference(
        stack,
        "Service",
        image=ModelImage(stack, "Image"),
        vpc=SharedNetwork(stack, "Network").vpc,
        version=eks.KubernetesVersion.V1_35,
        kubectl_layer=layer,
        container_insights=False,
    )
    assert isinstance(construct.cluster, eks.Cluster)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"namespace": "Inference"}, "is not a Kubernetes name"),
        ({"name": "x" * 64}, "is not a Kubernetes name"),
        ({"namespace": "kube-inference"}, "reserved for Kubernetes"),
        ({"cpu_request_millicores": 50}, "requests must be at least"),
        ({"cpu_limit_millicores": 500}, "must be at least cpu_request_millicores"),
        ({"memory_limit_mib": 1024}, "must be at least memory_request_mib"),
        ({"min_replicas": 0}, "min_replicas must be at least 1"),
        ({"min_replicas": 5, "max_replicas": 2}, "must be at least min_replicas"),
        ({"cpu_target_percent": 99}, "cpu_target_percent must be between 10 and 95"),
        ({"memory_target_percent": 5}, "memory_target_percent must be between 10 and 95"),
        ({"max_unavailable": 0}, "max_unavailable must be at least 1"),
        ({"max_unavailable": 2}, "must be below min_replicas"),
        ({"gpu_count": 9}, "gpu_count must be between 0 and 8"),
        ({"gpu_count": 1, "gpu_instance_families": ["m5"]}, "must name NVIDIA GPU families"),
        ({"endpoint_public_cidrs": ["0.0.0.0/0"]}, "opens the API endpoint to the internet"),
        ({"cpu_alarm_threshold_percent": 0}, "cpu_alarm_threshold_percent must be between 1 and 100"),
        ({"restart_alarm_threshold": 0}, "restart_alarm_threshold must be at least 1"),
        ({"progress_deadline": Duration.minutes(2)}, "progress_deadline must be at least 3 minutes"),
        ({"version": eks.KubernetesVersion.V1_35}, "pip install aws-cdk.lambda-layer-kubectl-v35"),
    ],
    ids=[
        "uppercase-namespace",
        "long-name",
        "kube-namespace",
        "tiny-request",
        "cpu-limit",
        "memory-limit",
        "min-replicas",
        "max-under-min",
        "cpu-target",
        "memory-target",
        "pdb-zero",
        "pdb-all",
        "gpus",
        "gpu-family",
        "open-endpoint",
        "cpu-alarm",
        "restart-alarm",
        "progress-deadline",
        "no-kubectl-layer",
    ],
)
def test_fails_when_props_are_invalid(props, message):
    with pytest.raises(ValueError, match=message):
        build(**props)


def test_fails_when_placement_is_missing_or_ambiguous():
    app, stack = new_stack(env=REGION)
    image = ModelImage(stack, "Image")
    network = SharedNetwork(stack, "Network")
    provider = eks.KubectlProvider.from_kubectl_provider_attributes(
        stack, "Provider", service_token="arn:aws:lambda:us-east-1:123456789012:function:kubectl"
    )
    cluster = eks.Cluster.from_cluster_attributes(stack, "Existing", cluster_name="platform", kubectl_provider=provider)
    with pytest.raises(ValueError, match=r"pass vpc= \(for example SharedNetwork\(...\).vpc\) or cluster="):
        EksInference(stack, "A", image=image)
    with pytest.raises(ValueError, match="give vpc or cluster, not both"):
        EksInference(stack, "B", image=image, vpc=network.vpc, cluster=cluster)
    with pytest.raises(ValueError, match="vpc_subnets needs vpc"):
        EksInference(stack, "C", image=image, vpc_subnets=network.private_subnets)


def test_attributes_without_container_insights():
    stack, construct = build(container_insights=False, metrics_server=False)
    assert construct.cloudwatch_agent_role is None and construct.topic is None and construct.alarms == {}
    assert construct.addons == {} and construct.container_insights_log_retention == []
    template_of(stack).resource_count_is("AWS::EKS::Addon", 0)


def test_generic_metric_is_a_container_insights_metric(default):
    _, construct = default
    metric = construct.metric("pod_cpu_utilization", statistic="Maximum")
    assert (metric.namespace, metric.statistic) == ("ContainerInsights", "Maximum")
    assert set(metric.dimensions) == {"ClusterName", "Namespace", "Service"}


def test_gpu_pods_run_the_cuda_image():
    stack, construct = build(gpu_count=1, container_insights=False)
    assets = [child.node.id for child in stack.node.find_child("Image").node.children if child.node.id.endswith("Asset")]
    assert assets == ["ServerGpuAsset"]
    assert construct.image_target == "server-gpu"
    container = construct.manifests["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == construct.image_uri
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    _, cpu = build(container_insights=False)
    assert cpu.image_target == "server"
