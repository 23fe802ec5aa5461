"""MlInference-Pipeline: source, synth, self-mutation, assets, the three stages, the approval, the
smoke steps and what they may do, the source rule, and the stateful ids (snapshot included)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import REPO, cdk_json_context, mask_hashes

PINNED = json.loads((Path(__file__).parent / "stateful_ids.json").read_text())


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def _resources(template, resource_type):
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == resource_type}


def _stages(template):
    [pipeline] = _resources(template, "AWS::CodePipeline::Pipeline").values()
    return {stage["Name"]: stage["Actions"] for stage in pipeline["Properties"]["Stages"]}


def _buildspec(template, project_logical_id):
    return json.loads(template["Resources"][project_logical_id]["Properties"]["Source"]["BuildSpec"])


def _project_of(template, action):
    return action["Configuration"]["ProjectName"]["Ref"]


def test_snapshot(synthesized_pipeline, json_snapshot):
    assert mask_hashes(synthesized_pipeline.template) == json_snapshot


def test_the_pipeline_runs_source_synth_self_mutation_assets_then_dev_staging_prod(synthesized_pipeline):
    assert list(_stages(synthesized_pipeline.template)) == ["Source", "Build", "UpdatePipeline", "Assets", "Dev", "Staging", "Prod"]


def test_the_source_is_the_configured_connection_and_branch(synthesized_pipeline):
    [source] = _stages(synthesized_pipeline.template)["Source"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    from ml_inference_cdk.config import PIPELINE

    assert source["Configuration"] == {
        "ConnectionArn": PIPELINE.connection_arn, "FullRepositoryId": PIPELINE.repository,
        "BranchName": PIPELINE.branch, "DetectChanges": True,
    }


def test_the_synth_step_runs_the_readme_commands_into_cdk_out_pipeline(synthesized_pipeline):
    template = synthesized_pipeline.template
    [synth] = _stages(template)["Build"]
    spec = _buildspec(template, _project_of(template, synth))
    assert spec["phases"]["build"]["commands"] == ["make test", "make synth-pipeline"]
    assert spec["artifacts"]["base-directory"] == "cdk.out.pipeline"
    from tests.test_readme import readme_commands

    assert {"make test", "make synth-pipeline"} <= set(readme_commands())
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^synth-pipeline:.*\n\t\$\(CDK\) synth --quiet -c pipeline=true --output \$\(PIPELINE_OUT\)", makefile, re.M)
    assert "PIPELINE_OUT := cdk.out.pipeline" in makefile


def test_self_mutation_uses_the_pinned_cli(synthesized_pipeline):
    template = synthesized_pipeline.template
    [mutate] = _stages(template)["UpdatePipeline"]
    spec = _buildspec(template, _project_of(template, mutate))
    pinned = json.loads((REPO / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert spec["phases"]["install"]["commands"] == [f"npm install -g aws-cdk@{pinned}"]
    assert spec["phases"]["build"]["commands"] == ["cdk -a . deploy MlInference-Pipeline --require-approval=never --verbose"]


def test_each_docker_image_is_built_once_without_attestations(synthesized_pipeline):
    template = synthesized_pipeline.template
    docker = [a for a in _stages(template)["Assets"] if "Image" in a["Name"]]
    # The server, lambda and training images: one build each, for every stack and stage that uses them.
    assert len(docker) == 3
    for action in docker:
        project = template["Resources"][_project_of(template, action)]["Properties"]
        assert {"Name": "BUILDX_NO_DEFAULT_ATTESTATIONS", "Type": "PLAINTEXT", "Value": "1"} in project["Environment"]["EnvironmentVariables"]
        assert project["Environment"]["PrivilegedMode"] is True
        install = json.loads(project["Source"]["BuildSpec"])["phases"]["install"]["commands"]
        assert install == ["npm install -g cdk-assets@4.7.3"]


def _deploys(actions):
    """{stack name: run order} of the Deploy (execute change set) actions."""
    return {a["Name"].removesuffix(".Deploy"): a["RunOrder"] for a in actions if a["Name"].endswith(".Deploy")}


@pytest.mark.parametrize("stage", ["Dev", "Staging", "Prod"])
def test_a_stage_deploys_the_network_first_and_the_rest_in_parallel(synthesized_pipeline, stage):
    actions = _stages(synthesized_pipeline.template)[stage]
    deploys = _deploys(actions)
    name = stage.lower()
    network = deploys[f"MlInference-Network-{name}"]
    assert deploys[f"MlInference-Lambda-{name}"] == network  # no VPC: beside the network
    in_vpc = [deploys[f"MlInference-{t}-{name}"] for t in ("Fargate", "Eks")]
    if name != "dev":  # dev's SageMaker endpoint is serverless: outside any VPC
        in_vpc.append(deploys[f"MlInference-SageMaker-{name}"])
    assert set(in_vpc) == {network + 2}  # after the network (its Prepare runs in between), together


@pytest.mark.parametrize("stage", ["Dev", "Staging", "Prod"])
def test_every_deployed_target_gets_a_smoke_step_after_the_deploys(synthesized_pipeline, stage):
    template = synthesized_pipeline.template
    actions = _stages(template)[stage]
    last_deploy = max(_deploys(actions).values())
    smokes = {a["Name"]: a for a in actions if a["Name"].startswith("Smoke-")}
    assert set(smokes) == {"Smoke-Lambda", "Smoke-Fargate", "Smoke-Eks", "Smoke-SageMaker"}
    for name, action in smokes.items():
        assert action["RunOrder"] == last_deploy + 1
        target = name.removeprefix("Smoke-")
        commands = _buildspec(template, _project_of(template, action))["phases"]["build"]["commands"]
        assert commands == [f"python3 -m ml_inference_cli smoke --stack MlInference-{target} --stage {stage.lower()} "
                            "--region us-east-1 --labels NEGATIVE,POSITIVE --p95-ms 1000 --wait 900"]


def test_prod_waits_for_a_manual_approval_before_anything_deploys(synthesized_pipeline):
    stages = _stages(synthesized_pipeline.template)
    [approval] = [a for a in stages["Prod"] if a["ActionTypeId"]["Category"] == "Approval"]
    assert approval["Name"] == "Promote-to-prod" and approval["RunOrder"] == 1
    assert min(_deploys(stages["Prod"]).values()) > 1
    assert not [a for s in ("Dev", "Staging") for a in stages[s] if a["ActionTypeId"]["Category"] == "Approval"]


def _smoke_policy(template, stage, target):
    [policy] = [r for lid, r in _resources(template, "AWS::IAM::Policy").items() if lid.startswith(f"Pipeline{stage}Smoke{target}")]
    return [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if not _is_codebuild_own(s)]


def _is_codebuild_own(statement):
    text = json.dumps(statement)
    return any(marker in text for marker in ("logs:", "codebuild:", "ArtifactsBucket"))


def test_smoke_steps_may_read_their_stack_and_call_their_endpoint_only(synthesized_pipeline):
    template = synthesized_pipeline.template
    fargate = _smoke_policy(template, "Dev", "Fargate")
    assert [s["Action"] for s in fargate] == ["cloudformation:DescribeStacks"]
    assert json.dumps(fargate[0]["Resource"]).endswith(':stack/MlInference-Fargate-dev/*"]]}')
    [_, invoke] = _smoke_policy(template, "Prod", "Lambda")
    assert invoke["Action"] == "lambda:InvokeFunctionUrl"
    assert invoke["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}
    assert "function:MlInference-Lambda-prod-*" in json.dumps(invoke["Resource"])
    realtime = _smoke_policy(template, "Prod", "SageMaker")
    assert [s["Action"] for s in realtime][1] == ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"]
    assert realtime[1]["Condition"] == {"StringEquals": {"aws:ResourceTag/project": "ml-inference", "aws:ResourceTag/stage": "prod"}}
    async_ = {json.dumps(s["Action"]): s for s in _smoke_policy(template, "Staging", "SageMaker")}
    assert '["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointAsync"]' in async_
    assert "mlinference-sagemaker-staging-*/async-inputs/*" in json.dumps(async_['"s3:PutObject"']["Resource"])
    kms = async_['["kms:Decrypt", "kms:GenerateDataKey"]']
    assert kms["Condition"]["StringEquals"]["aws:ResourceTag/stage"] == "staging"
    assert "kms:ViaService" in kms["Condition"]["StringEquals"]


def test_a_placeholder_source_synthesizes_and_a_rule_stops_its_deploy(synthesized_pipeline):
    rule = synthesized_pipeline.template["Rules"]["SourceIsConfigured"]
    from ml_inference_cdk.config import PLACEHOLDER_CONNECTION_ARN, PLACEHOLDER_REPOSITORY

    asserted = [a["Assert"]["Fn::Not"][0]["Fn::Equals"] for a in rule["Assertions"]]
    # The configured values, each compared with its placeholder: equal (false, the deploy fails) today.
    assert asserted == [[PLACEHOLDER_REPOSITORY] * 2, [PLACEHOLDER_CONNECTION_ARN] * 2]
    for assertion in rule["Assertions"]:
        description = assertion["AssertDescription"]
        assert "\n" not in description and "ml_inference_cdk/config.py" in description
        assert description.startswith("PipelineConfig.")


def test_the_stages_inside_the_pipeline_keep_every_pinned_stateful_id(synthesized_pipeline):
    for stage, stacks in synthesized_pipeline.stages.items():
        for stack_id, template in stacks.items():
            pinned = PINNED["ids"][stack_id].get(stage) or PINNED["ids"][stack_id]["*"]
            assert {i: template["Resources"][i]["Type"] for i in pinned} == pinned, (stage, stack_id)


def test_the_pipelines_stateful_ids_are_pinned(synthesized_pipeline):
    resources = synthesized_pipeline.template["Resources"]
    pinned = PINNED["ids"]["MlInference-Pipeline"]["*"]
    for logical_id, resource_type in pinned.items():
        assert resources[logical_id]["Type"] == resource_type, f"{logical_id} was renamed or removed: that replaces it"
    unpinned = {i: r["Type"] for i, r in resources.items() if r["Type"] in PINNED["types"] and i not in pinned}
    assert not unpinned, f"new stateful resources: pin them in tests/cdk/stateful_ids.json: {unpinned}"


def test_the_artifact_bucket_logs_its_access(synthesized_pipeline):
    resources = synthesized_pipeline.template["Resources"]
    logging = resources["PipelineArtifactsBucketAEA9A052"]["Properties"]["LoggingConfiguration"]
    assert logging == {"DestinationBucketName": {"Ref": "ArtifactAccessLogsF8325158"}, "LogFilePrefix": "artifacts/"}


def test_build_logs_have_retention_and_outlive_the_stack(synthesized_pipeline):
    [log_group] = _resources(synthesized_pipeline.template, "AWS::Logs::LogGroup").values()
    assert log_group["Properties"]["RetentionInDays"] == 90 and log_group["DeletionPolicy"] == "Retain"


def test_nag_reports_only_the_placeholder_warning(synthesized_pipeline):
    report = json.loads((synthesized_pipeline.outdir / "validation-report.json").read_text())
    found = {(v["ruleName"], v["severity"]) for p in report["pluginReports"] for v in p["violations"]}
    # Beside the placeholder source, the warnings every default stage's synth prints (docs/security.md):
    # internal load balancers (no certificate) and an EKS cluster without admin roles.
    assert found == {("Annotation::ml-inference:pipeline-source-placeholder", "warning"),
                     ("Annotation::ml-inference:internalLoadBalancer", "warning"),
                     ("Annotation::ml-inference:noClusterAdmins", "warning")}


# -- variations: a one-stage pipeline with one or two targets keeps these synths cheap ----------


def _small_pipeline(tmp_path, **config_changes):
    import aws_cdk as cdk

    from ml_inference_cdk.config import PIPELINE, get_stage_config
    from ml_inference_cdk.stacks.pipeline_stack import PipelineStack

    stage_changes = config_changes.pop("stage", {})
    config = dataclasses.replace(PIPELINE, stages=("dev",), approval_before=(), **config_changes)
    stage = dataclasses.replace(get_stage_config("dev"), **{"targets": ("Lambda",), **stage_changes})
    app = cdk.App(outdir=str(tmp_path), context=cdk_json_context())
    stack = PipelineStack(app, "MlInference-Pipeline", config=config, stages=[stage],
                          env=cdk.Environment(account=config.account, region=config.region))
    return stack, app.synth().get_stack_artifact(stack.artifact_id).template


def test_a_stage_deploys_and_smoke_tests_only_its_targets_and_a_configured_source_passes_the_rule(tmp_path):
    stack, template = _small_pipeline(
        tmp_path,
        repository="acme/ml-inference",
        connection_arn="arn:aws:codeconnections:eu-west-1:123456789012:connection/1a2b3c4d-0000-1111-2222-333344445555",
        stage={"targets": ("Lambda", "Fargate")},
    )
    actions = _stages(template)["Dev"]
    # Stack kinds without an endpoint (the stage's observability, its training) deploy, with no smoke step.
    assert set(_deploys(actions)) == {"MlInference-Network-dev", "MlInference-Lambda-dev", "MlInference-Fargate-dev",
                                      "MlInference-Observability-dev", "MlInference-Training-dev"}
    assert {a["Name"] for a in actions if a["Name"].startswith("Smoke-")} == {"Smoke-Lambda", "Smoke-Fargate"}
    assert set(stack.smoke_steps["dev"]) == {"Lambda", "Fargate"}
    for assertion in template["Rules"]["SourceIsConfigured"]["Assertions"]:
        left, right = assertion["Assert"]["Fn::Not"][0]["Fn::Equals"]
        assert left != right  # Not(Equals) holds: the deploy goes ahead


def test_a_stage_in_another_account_assumes_its_smoke_role_and_gets_cross_account_keys(tmp_path):
    role = "arn:aws:iam::222222222222:role/ml-inference-smoke"
    _, template = _small_pipeline(tmp_path, account="111111111111", stage={"account": "222222222222", "smoke_role_arn": role})
    [smoke] = [a for a in _stages(template)["Dev"] if a["Name"] == "Smoke-Lambda"]
    command = _buildspec(template, _project_of(template, smoke))["phases"]["build"]["commands"][0]
    assert command.endswith(f"--role-arn {role}")
    assert _smoke_policy(template, "Dev", "Lambda") == [{"Action": "sts:AssumeRole", "Effect": "Allow", "Resource": role}]
    assert _resources(template, "AWS::KMS::Key"), "cross-account artifacts need a key the stage account can use"


def test_fails_when_a_stage_names_an_account_and_the_pipeline_does_not(tmp_path):
    with pytest.raises(ValueError, match="set PipelineConfig.account too"):
        _small_pipeline(tmp_path, stage={"account": "222222222222"})


def test_fails_when_a_stage_in_another_account_has_no_smoke_role(tmp_path):
    with pytest.raises(ValueError, match="give each a smoke_role_arn"):
        _small_pipeline(tmp_path, account="111111111111", stage={"account": "222222222222"})
