"""Issue 16 on the CDK side: the service's EMF metrics and alarms on every target, the tracing
sidecars, the dashboard, the budget and the drift check. One app holds everything (synthesized
once); the stage-level checks read the session's synthesized stages, whose cdk-nag, cfn-lint and
checkov runs (test_checks.py) cover prod's tracing sidecars, dashboard and budget."""

from __future__ import annotations

import dataclasses
import fnmatch
import json

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk.assertions import Match, Template

from ml_inference_cdk import (
    CostBudget,
    DriftCheck,
    EksInference,
    EndpointCapacity,
    FargateInference,
    InferenceDashboard,
    LambdaInference,
    ModelImage,
    SageMakerEndpoint,
    ServiceMonitoring,
    SharedNetwork,
    TraceCollector,
)
from ml_inference_cdk.constructs._alarms import encrypted_alarm_topic
from ml_inference_cdk.constructs._tracing import ADOT_COLLECTOR_IMAGE
from ml_inference_cdk.constructs.eks.addons import emf_pipeline
from tests.cdk.eks_support import by_kind, manifests_of, validate
from tests.conftest import STAGES, cdk_json_context

REGION = cdk.Environment(region="eu-west-1")
LABELS = ("negative", "neutral", "positive")
SERVICE_ALARMS = {"service_p99_latency", "service_error_rate"}


@pytest.fixture(scope="module")
def app_of_everything(tmp_path_factory):
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("observability")), context=cdk_json_context())
    stack = cdk.Stack(app, "Obs", env=REGION)
    image = ModelImage(stack, "Image")
    vpc = SharedNetwork(stack, "Network").vpc
    three_labels = ServiceMonitoring(
        namespace="Team/Inference",
        p99_latency=Duration.millis(750),
        error_rate_percent=2.5,
        drift=DriftCheck(labels=LABELS, label_share_percent=(20, 60), min_mean_confidence=0.8, min_predictions=20),
    )
    targets = {
        "lambda": LambdaInference(
            stack,
            "Fn",
            image=image,
            deployment_config=codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES,
            monitoring=three_labels,
        ),
        "fargate": FargateInference(stack, "Tasks", image=image, vpc=vpc, tracing=TraceCollector()),
        "eks": EksInference(stack, "Pods", image=image, vpc=vpc, tracing=TraceCollector(memory_limit_mib=512)),
        "sagemaker": SageMakerEndpoint(
            stack, "Endpoint", image=image, capacity=EndpointCapacity.serverless(), monitoring=ServiceMonitoring(drift=None)
        ),
    }
    topic = encrypted_alarm_topic(stack, cdk.RemovalPolicy.DESTROY)
    dashboard = InferenceDashboard(stack, "Dashboard", targets=list(targets.values()), title="Everything")
    budget = CostBudget(stack, "Budget", monthly_limit_usd=250, tags={"project": "p", "stage": "s"}, topic=topic)
    assembly = app.synth()
    template = assembly.get_stack_artifact(stack.artifact_id).template
    return template, targets, dashboard, budget


def _resources(template, resource_type):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def _alarm_metrics(template, logical_prefix):
    [alarm] = [v for k, v in _resources(template, "AWS::CloudWatch::Alarm").items() if k.startswith(logical_prefix)]
    return alarm


# -- the service's metrics: one Service per deployment, the same alarms on every target -----------


def test_every_target_tells_the_container_its_metrics(app_of_everything):
    template, targets, _, _ = app_of_everything
    services = {name: t.service_metrics.service for name, t in targets.items()}
    assert services == {
        "lambda": "Obs-Fn",
        "fargate": "Obs-Tasks",
        "eks": "Obs-Pods",
        "sagemaker": "Obs-Endpoint",
    }
    [function] = [
        f for f in _resources(template, "AWS::Lambda::Function").values() if "ImageUri" in f["Properties"].get("Code", {})
    ]
    assert function["Properties"]["Environment"]["Variables"].items() >= {
        "METRICS_NAMESPACE": "Team/Inference",
        "METRICS_SERVICE": "Obs-Fn",
        "PLATFORM": "lambda",
    }.items()
    [task] = _resources(template, "AWS::ECS::TaskDefinition").values()
    inference = next(c for c in task["Properties"]["ContainerDefinitions"] if c["Name"] == "Inference")
    assert {"Name": "METRICS_SERVICE", "Value": "Obs-Tasks"} in inference["Environment"]
    assert {"Name": "METRICS_NAMESPACE", "Value": "MLInference"} in inference["Environment"]
    [model] = _resources(template, "AWS::SageMaker::Model").values()
    assert model["Properties"]["PrimaryContainer"]["Environment"]["METRICS_SERVICE"] == "Obs-Endpoint"
    deployment = by_kind(manifests_of(template))["Deployment"]
    env = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["METRICS_SERVICE"] == "Obs-Pods" and env["PLATFORM"] == "eks"


@pytest.mark.parametrize("name", ["lambda", "fargate", "eks", "sagemaker"])
def test_every_target_has_the_service_alarms(app_of_everything, name):
    template, targets, _, _ = app_of_everything
    target = targets[name]
    assert SERVICE_ALARMS <= set(target.alarms)
    resolved = {key: cdk.Stack.of(target).resolve(alarm.alarm_arn) for key, alarm in target.alarms.items()}
    logical = {key: value["Fn::GetAtt"][0] for key, value in resolved.items()}
    latency = template["Resources"][logical["service_p99_latency"]]["Properties"]
    assert latency["MetricName"] == "RequestLatency" and latency["ExtendedStatistic"] == "p99"
    assert latency["Namespace"] == target.service_metrics.namespace
    assert sorted(latency["Dimensions"], key=lambda d: d["Name"]) == [
        {"Name": "Platform", "Value": name},
        {"Name": "Service", "Value": target.service_metrics.service},
    ]
    assert latency["AlarmActions"] == [cdk.Stack.of(target).resolve(target.topic.topic_arn)]
    errors = template["Resources"][logical["service_error_rate"]]["Properties"]
    by_id = {m["Id"]: m for m in errors["Metrics"]}
    [expression] = [m for m in errors["Metrics"] if "Expression" in m]
    assert expression["Expression"] == f"100 * FILL({name}_errors, 0) / ({name}_requests + IF({name}_requests > 0, 0, 1))"
    five_xx = by_id[f"{name}_errors"]["MetricStat"]["Metric"]
    assert {"Name": "StatusClass", "Value": "5xx"} in five_xx["Dimensions"] and five_xx["MetricName"] == "Requests"
    assert {d["Name"] for d in by_id[f"{name}_requests"]["MetricStat"]["Metric"]["Dimensions"]} == {"Service", "Platform"}


def test_thresholds_come_from_monitoring(app_of_everything):
    template, targets, _, _ = app_of_everything
    custom, default = targets["lambda"], targets["fargate"]
    assert template["Resources"][_logical(custom, "service_p99_latency")]["Properties"]["Threshold"] == 750
    assert template["Resources"][_logical(custom, "service_error_rate")]["Properties"]["Threshold"] == 2.5
    assert template["Resources"][_logical(default, "service_p99_latency")]["Properties"]["Threshold"] == 1000
    assert template["Resources"][_logical(default, "service_error_rate")]["Properties"]["Threshold"] == 5


def test_lambda_rollbacks_stay_on_the_function_alarms(app_of_everything):
    template, targets, _, _ = app_of_everything
    [group] = _resources(template, "AWS::CodeDeploy::DeploymentGroup").values()
    names = [alarm["Name"] for alarm in group["Properties"]["AlarmConfiguration"]["Alarms"]]
    own = {key: targets["lambda"].alarms[key] for key in ("errors", "throttles", "p99_duration")}
    assert names == [cdk.Stack.of(targets["lambda"]).resolve(a.alarm_name) for a in own.values()]


# -- drift ---------------------------------------------------------------------------------------


def test_drift_alarms_watch_every_configured_label(app_of_everything):
    template, targets, _, _ = app_of_everything
    target = targets["lambda"]
    assert {f"drift_label_share_{label}" for label in LABELS} | {"drift_mean_confidence"} <= set(target.alarms)
    share = template["Resources"][_logical(target, "drift_label_share_neutral")]["Properties"]
    assert share["Threshold"] == 1 and share["EvaluationPeriods"] == 3 and share["DatapointsToAlarm"] == 2
    by_id = {m["Id"]: m for m in share["Metrics"]}
    [flag] = [m for m in share["Metrics"] if m.get("ReturnData", True)]
    assert flag["Expression"] == "IF(lambda_total >= 20 AND (lambda_share < 20 OR lambda_share > 60), 1, 0)"
    assert by_id["lambda_share"]["Expression"] == (
        "100 * FILL(lambda_count1, 0) / (lambda_total + IF(lambda_total > 0, 0, 1))"
    )
    assert by_id["lambda_total"]["Expression"] == "FILL(lambda_count0, 0) + FILL(lambda_count1, 0) + FILL(lambda_count2, 0)"
    counted = [by_id[f"lambda_count{i}"]["MetricStat"] for i in range(3)]
    assert [dict((d["Name"], d["Value"]) for d in c["Metric"]["Dimensions"])["Label"] for c in counted] == list(LABELS)
    assert {c["Metric"]["MetricName"] for c in counted} == {"Predictions"} and {c["Period"] for c in counted} == {3600}
    confidence = template["Resources"][_logical(target, "drift_mean_confidence")]["Properties"]
    assert confidence["ComparisonOperator"] == "LessThanThreshold" and confidence["Threshold"] == 0.8
    [guard] = [m for m in confidence["Metrics"] if "Expression" in m]
    assert guard["Expression"] == "IF(lambda_samples >= 20, lambda_confidence, 1)"


def test_drift_defaults_to_the_default_model_labels_and_can_be_off(app_of_everything):
    _, targets, _, _ = app_of_everything
    assert {k for k in targets["fargate"].alarms if k.startswith("drift_")} == {
        "drift_label_share_NEGATIVE",
        "drift_label_share_POSITIVE",
        "drift_mean_confidence",
    }
    assert not [k for k in targets["sagemaker"].alarms if k.startswith("drift_")]


# -- tracing -------------------------------------------------------------------------------------


def test_fargate_tracing_sidecar(app_of_everything):
    template, targets, _, _ = app_of_everything
    [task] = _resources(template, "AWS::ECS::TaskDefinition").values()
    containers = {c["Name"]: c for c in task["Properties"]["ContainerDefinitions"]}
    collector = containers["OtelCollector"]
    assert collector["Image"] == ADOT_COLLECTOR_IMAGE
    assert collector["Essential"] is False and collector["ReadonlyRootFilesystem"] is True
    assert collector["RestartPolicy"]["Enabled"] is True
    assert collector["HealthCheck"]["Command"] == ["CMD", "/healthcheck"]
    assert collector["LogConfiguration"]["Options"]["awslogs-stream-prefix"] == "otel-collector"
    assert collector["Memory"] == 256
    [config] = [e["Value"] for e in collector["Environment"] if e["Name"] == "AOT_CONFIG_CONTENT"]
    config = json.loads(config)
    assert config["exporters"] == {"awsxray": {"region": "eu-west-1"}}
    assert config["receivers"]["otlp"]["protocols"] == {"http": {"endpoint": "127.0.0.1:4318"}}
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["awsxray"]
    app_env = {e["Name"]: e["Value"] for e in containers["Inference"]["Environment"]}
    assert app_env["TRACING"] == "otlp" and app_env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://localhost:4318"
    assert app_env["OTEL_SERVICE_NAME"] == "Obs-Tasks"
    task_role = cdk.Stack.of(targets["fargate"]).resolve(targets["fargate"].task_definition.task_role.role_arn)
    [policy] = [
        p for p in _resources(template, "AWS::IAM::Policy").values()
        if {"Ref": task_role["Fn::GetAtt"][0]} in p["Properties"]["Roles"]
    ]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {"Action": "xray:PutTraceSegments", "Effect": "Allow", "Resource": "*"}
    ]
    assert targets["fargate"].collector_container is not None


def test_eks_tracing_sidecar_and_pod_role(app_of_everything):
    template, targets, _, _ = app_of_everything
    objects = manifests_of(template)
    for obj in objects:
        validate(obj, "1.36")
    pod = by_kind(objects)["Deployment"]["spec"]["template"]["spec"]
    [sidecar] = pod["initContainers"]
    assert sidecar["name"] == "otel-collector" and sidecar["restartPolicy"] == "Always"
    assert sidecar["image"] == ADOT_COLLECTOR_IMAGE
    assert sidecar["resources"]["limits"]["memory"] == "512Mi"
    assert sidecar["securityContext"]["readOnlyRootFilesystem"] is True
    assert sidecar["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["TRACING"] == "otlp" and env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://localhost:4318"
    role = cdk.Stack.of(targets["eks"]).resolve(targets["eks"].service_account_role.role_arn)["Fn::GetAtt"][0]
    [policy] = [p for p in _resources(template, "AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {"Action": "xray:PutTraceSegments", "Effect": "Allow", "Resource": "*"}
    ]


def test_no_tracing_by_default():
    app = cdk.App(context=cdk_json_context())
    stack = cdk.Stack(app, "Plain", env=REGION)
    service = FargateInference(stack, "Tasks", image=ModelImage(stack, "Image"), vpc=SharedNetwork(stack, "Network", nat_gateways=0).vpc)
    template = Template.from_stack(stack)
    [task] = template.find_resources("AWS::ECS::TaskDefinition").values()
    [container] = task["Properties"]["ContainerDefinitions"]
    assert not {e["Name"] for e in container["Environment"]} & {"TRACING", "OTEL_EXPORTER_OTLP_ENDPOINT"}
    assert service.collector_container is None
    task_role = stack.resolve(service.task_definition.task_role.role_arn)["Fn::GetAtt"][0]
    roles = [p["Properties"]["Roles"] for p in template.find_resources("AWS::IAM::Policy").values()]
    assert {"Ref": task_role} not in [role for attached in roles for role in attached]


# -- EKS: EMF through the add-on's Fluent Bit ----------------------------------------------------


def test_eks_ships_emf_lines_to_a_log_group_of_their_own(app_of_everything):
    template, targets, _, _ = app_of_everything
    eks = targets["eks"]
    assert eks.metrics_log_group is not None
    group = cdk.Stack.of(eks).resolve(eks.metrics_log_group.log_group_name)
    [addon] = [a for a in _resources(template, "AWS::EKS::Addon").values() if a["Properties"]["AddonName"] == "amazon-cloudwatch-observability"]
    parts = addon["Properties"]["ConfigurationValues"]["Fn::Join"][1]
    assert group in parts
    config = json.loads("".join(part if isinstance(part, str) else "LOGGROUP" for part in parts))
    [(name, pipeline)] = config["containerLogs"]["fluentBit"]["config"]["extraFiles"].items()
    assert name == "emf-inference-inference.conf"
    assert "log_group_name      LOGGROUP" in pipeline and "log_key             log" in pipeline
    assert template["Resources"][group["Ref"]]["Properties"]["RetentionInDays"] == 14


def test_emf_pipeline_tails_only_the_workload_container():
    text = emf_pipeline(namespace="ml", name="classifier", container="inference", log_group_name="/emf")
    [path] = [line.split()[1] for line in text.splitlines() if line.strip().startswith("Path")]
    assert fnmatch.fnmatch("/var/log/containers/classifier-7d9f8c-x2x9z_ml_inference-0123abcd.log", path)
    assert not fnmatch.fnmatch("/var/log/containers/classifier-7d9f8c-x2x9z_ml_otel-collector-0123abcd.log", path)
    assert not fnmatch.fnmatch("/var/log/containers/classifier-7d9f8c-x2x9z_other_inference-0123abcd.log", path)
    assert 'Regex               log "_aws"' in text and "log_format          json/emf" in text
    assert "{{" not in text  # the add-on renders extraFiles with Helm's tpl


# -- dashboard and budget ------------------------------------------------------------------------


def _dashboard(template):
    """The dashboard body as data (tokens replaced), its widget titles and its metric names."""
    [resource] = _resources(template, "AWS::CloudWatch::Dashboard").values()
    body = resource["Properties"]["DashboardBody"]
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in body["Fn::Join"][1]) if isinstance(body, dict) else body
    widgets = json.loads(text)["widgets"]
    titles = [w["properties"].get("title") for w in widgets]
    names = {
        part for w in widgets for line in w["properties"].get("metrics", []) for part in line if isinstance(part, str)
    }
    return widgets, titles, names


def test_dashboard_covers_every_target(app_of_everything):
    template, targets, dashboard, _ = app_of_everything
    widgets, titles, names = _dashboard(template)
    assert [w["type"] for w in widgets[:2]] == ["text", "alarm"]
    assert len(widgets[1]["properties"]["alarms"]) == sum(len(t.alarms) for t in targets.values())
    for title in (
        "Request latency p50 (ms)", "Request latency p99 (ms)", "Requests per minute", "5xx error rate (%)",
        "Overload refusals per minute", "Cold starts", "Queue wait p99 (ms)", "Texts per request (mean)",
        "Lambda: concurrent executions", "Fargate: running tasks", "EKS: running pods",
        "SageMaker: serverless concurrency (share of max)", "SageMaker: ModelLatency and OverheadLatency (µs)",
        "Fargate: load balancer 5xx per minute (ALB and tasks)", "Drift: neutral share of predictions (%)",
        "Drift: POSITIVE share of predictions (%)", "Drift: mean confidence",
    ):
        assert title in titles, title
    for metric in (
        "RequestLatency", "Requests", "ColdStart", "Overloaded", "QueueWait", "TextsPerRequest", "ConcurrentExecutions",
        "RunningTaskCount", "service_number_of_running_pods", "ServerlessConcurrentExecutionsUtilization",
        "ModelLatency", "OverheadLatency", "HTTPCode_ELB_5XX_Count", "Predictions", "Confidence",
    ):
        assert metric in names, metric
    assert dashboard.targets == list(targets.values())


def test_dashboard_of_one_target_shows_only_it():
    app = cdk.App(context=cdk_json_context())
    stack = cdk.Stack(app, "One", env=REGION)
    function = LambdaInference(stack, "Fn", image=ModelImage(stack, "Image"))
    InferenceDashboard(stack, "Dashboard", targets=[function])
    _, titles, names = _dashboard(Template.from_stack(stack).to_json())
    assert "Lambda: concurrent executions" in titles and {"ConcurrentExecutions", "RequestLatency"} <= names
    assert not {"RunningTaskCount", "service_number_of_running_pods", "ModelLatency", "HTTPCode_ELB_5XX_Count"} & names


def test_budget_filters_on_every_tag_and_alerts_the_topic(app_of_everything):
    template, _, _, budget = app_of_everything
    [resource] = _resources(template, "AWS::Budgets::Budget").values()
    data = resource["Properties"]["Budget"]
    assert data["BudgetLimit"] == {"Amount": 250, "Unit": "USD"} and data["TimeUnit"] == "MONTHLY"
    assert data["FilterExpression"] == {
        "And": [
            {"Tags": {"Key": "project", "MatchOptions": ["EQUALS"], "Values": ["p"]}},
            {"Tags": {"Key": "stage", "MatchOptions": ["EQUALS"], "Values": ["s"]}},
        ]
    }
    topic = cdk.Stack.of(budget).resolve(budget.topic.topic_arn)
    notifications = {
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"]): n["Subscribers"]
        for n in resource["Properties"]["NotificationsWithSubscribers"]
    }
    assert notifications == {
        ("FORECASTED", 80): [{"Address": topic, "SubscriptionType": "SNS"}],
        ("ACTUAL", 100): [{"Address": topic, "SubscriptionType": "SNS"}],
    }
    [policy] = [p for p in _resources(template, "AWS::SNS::TopicPolicy").values() if topic in p["Properties"]["Topics"]]
    [publish] = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "AllowBudgetsToPublish"]
    assert publish["Principal"] == {"Service": "budgets.amazonaws.com"} and publish["Action"] == "sns:Publish"
    assert set(publish["Condition"]) == {"StringEquals", "ArnLike"}
    key_statements = [
        s for key in _resources(template, "AWS::KMS::Key").values()
        for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "AllowBudgetsToEncrypt"
    ]
    assert len(key_statements) == 1 and key_statements[0]["Principal"] == {"Service": "budgets.amazonaws.com"}


def test_one_tag_needs_no_and():
    app = cdk.App(context=cdk_json_context())
    stack = cdk.Stack(app, "One", env=REGION)
    CostBudget(stack, "Budget", monthly_limit_usd=10, tags={"project": "p"}, topic=encrypted_alarm_topic(stack, cdk.RemovalPolicy.DESTROY))
    Template.from_stack(stack).has_resource_properties(
        "AWS::Budgets::Budget",
        {"Budget": Match.object_like({"FilterExpression": {"Tags": {"Key": "project", "MatchOptions": ["EQUALS"], "Values": ["p"]}}})},
    )


# -- refused props -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: DriftCheck(labels=("a", "a")), "distinct"),
        (lambda: DriftCheck(labels=("a-b", "a b")), "letters and digits"),
        (lambda: DriftCheck(labels=tuple(f"l{i}" for i in range(11))), "at most 10"),
        (lambda: DriftCheck(label_share_percent=(60, 40)), "low < high"),
        (lambda: DriftCheck(label_share_percent=(0, 101)), "low < high"),
        (lambda: DriftCheck(min_mean_confidence=1.2), "between 0 and 1"),
        (lambda: DriftCheck(min_predictions=0), "min_predictions"),
        (lambda: DriftCheck(period=Duration.seconds(90)), "whole minutes"),
        (lambda: ServiceMonitoring(namespace="AWS/Lambda"), "custom CloudWatch namespace"),
        (lambda: ServiceMonitoring(error_rate_percent=0), "error_rate_percent"),
        (lambda: TraceCollector(image="public.ecr.aws/aws-observability/aws-otel-collector"), "pin"),
        (lambda: TraceCollector(image="public.ecr.aws/aws-observability/aws-otel-collector:latest"), "pin"),
        (lambda: TraceCollector(memory_limit_mib=32), "memory_limit_mib"),
    ],
)
def test_fails_when_monitoring_props_are_invalid(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_fails_when_the_environment_sets_the_metric_dimensions():
    app = cdk.App(context=cdk_json_context())
    stack = cdk.Stack(app, "Bad")
    with pytest.raises(ValueError, match="METRICS_SERVICE is set by the construct"):
        LambdaInference(stack, "Fn", image=ModelImage(stack, "Image"), environment={"METRICS_SERVICE": "other"})


def test_fails_when_dashboard_or_budget_props_are_invalid():
    app = cdk.App(context=cdk_json_context())
    stack = cdk.Stack(app, "Bad")
    with pytest.raises(ValueError, match="at least one inference construct"):
        InferenceDashboard(stack, "Empty", targets=[])
    topic = encrypted_alarm_topic(stack, cdk.RemovalPolicy.DESTROY)
    with pytest.raises(ValueError, match="monthly_limit_usd"):
        CostBudget(stack, "Zero", monthly_limit_usd=0, tags={"project": "p"}, topic=topic)
    with pytest.raises(ValueError, match="at least one cost allocation tag"):
        CostBudget(stack, "NoTags", monthly_limit_usd=5, tags={}, topic=topic)


# -- the stages ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("stage", "amount", "tracing"), [("dev", 400, False), ("staging", 600, False), ("prod", 2000, True)])
def test_each_stage_has_its_budget_rollups_and_tracing(synthesized, stage, amount, tracing):
    result = synthesized(stage)
    template = result.templates["MlInference-Observability"]
    [budget] = _resources(template, "AWS::Budgets::Budget").values()
    assert budget["Properties"]["Budget"]["BudgetLimit"]["Amount"] == amount
    assert {t["Tags"]["Values"][0] for t in budget["Properties"]["Budget"]["FilterExpression"]["And"]} == {"ml-inference", stage}
    rollups = _resources(template, "AWS::CloudWatch::CompositeAlarm")
    assert {k.rstrip("0123456789ABCDEF") for k in rollups} == {"LambdaHealth", "FargateHealth", "EksHealth", "SageMakerHealth", "Drift"}
    assert len(_resources(template, "AWS::CloudWatch::Dashboard")) == 1
    [task] = _resources(result.templates["MlInference-Fargate"], "AWS::ECS::TaskDefinition").values()
    assert len(task["Properties"]["ContainerDefinitions"]) == (2 if tracing else 1)
    pod = by_kind(manifests_of(result.templates["MlInference-Eks"]))["Deployment"]["spec"]["template"]["spec"]
    assert ("initContainers" in pod) == tracing


@pytest.mark.parametrize("stage", STAGES)
def test_eks_has_latency_and_error_alarms_from_emf_in_every_stage(synthesized, stage):
    template = synthesized(stage).template("MlInference-Eks")
    for metric, dimensions in (("RequestLatency", [{"Name": "Platform", "Value": "eks"}]),):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "MetricName": metric,
                "Namespace": "MLInference",
                "Dimensions": Match.array_with(dimensions + [{"Name": "Service", "Value": f"MlInference-Eks-{stage}-Service"}]),
                "AlarmActions": [{"Ref": "ServiceAlarmTopicC581BA4B"}],
            },
        )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"AlarmDescription": "The service answers too many requests with 5xx (eks)", "Threshold": 1.0 if stage == "prod" else 5.0},
    )


def test_a_stage_watches_only_its_targets(tmp_path):
    from ml_inference_cdk.config import get_stage_config
    from ml_inference_cdk.stacks import add_stacks

    app = cdk.App(outdir=str(tmp_path), context=cdk_json_context())
    stacks = add_stacks(app, dataclasses.replace(get_stage_config("dev"), targets=("Lambda",)))
    observability = stacks["Observability"]
    assert observability.dashboard.targets == [stacks["Lambda"].inference]  # type: ignore[attr-defined]
    assert set(observability.rollups) == {"Lambda", "Drift"}  # type: ignore[attr-defined]


def _logical(target, key):
    return cdk.Stack.of(target).resolve(target.alarms[key].alarm_arn)["Fn::GetAtt"][0]
