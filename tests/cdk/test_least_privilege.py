"""Least privilege that says what it grants: wildcards only where IAM allows nothing else, one
stage's resources only, the EKS endpoint closed to the internet, cluster admins named."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import cfnlint
import pytest

from ml_inference_cdk.config import StageConfig
from ml_inference_cdk.constructs._iam import WILDCARD_ACTIONS
from ml_inference_cdk.constructs.eks.endpoint_access import (
    NON_PUBLIC_IPV4,
    PUBLIC_ADDRESS_BUDGET,
    check_public_access_cidrs,
    public_addresses,
)
from ml_inference_cdk.constructs.sagemaker.batch import transform_job_prefix
from tests.conftest import STACK_IDS, STAGES


@lru_cache(maxsize=1)
def iam_actions() -> dict[str, Any]:
    """cfn-lint's copy of IAM's action data: which resource types each action can name."""
    return json.loads((Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json").read_text())


#: Actions cfn-lint's data gives a resource type that our calls of them cannot name, so '*' is the
#: grant that works (each in a WILDCARD_ACTIONS group of its own, with this reason there too).
NAMES_NO_RESOURCE_HERE = {
    # Its resource type is a CloudWatch metrics dataset; the training job writes plain namespace
    # metrics (bounded by a cloudwatch:namespace condition), which belong to no dataset.
    "cloudwatch:putmetricdata",
    # Its resource type is model-package, yet a list call names no package: the workflow lists one
    # group's approved packages by group name.
    "sagemaker:listmodelpackages",
}


def resource_types(action: str) -> list[str]:
    if action.lower() in NAMES_NO_RESOURCE_HERE:
        return []
    service, name = action.lower().split(":")
    return iam_actions()[service]["Actions"][name].get("Resources", [])


def statements(template: dict[str, Any]):
    """(logical id, statement) of every identity policy statement in the template."""
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy":
            documents = [properties["PolicyDocument"]]
        elif resource["Type"] == "AWS::IAM::Role":
            documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        else:
            continue
        for document in documents:
            for statement in document["Statement"]:
                yield logical_id, statement


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("stage", STAGES)
def test_wildcard_grants_hold_only_actions_iam_cannot_scope(synthesized, stage):
    for stack_id in STACK_IDS:
        for logical_id, statement in statements(synthesized(stage).templates[stack_id]):
            if "*" in _list(statement["Resource"]):
                scopable = [action for action in _list(statement["Action"]) if resource_types(action)]
                assert not scopable, f"{stack_id}/{logical_id} grants {scopable} on '*'"


def test_wildcard_reasons_name_actions_iam_cannot_scope():
    for group, (actions, _) in WILDCARD_ACTIONS.items():
        assert not [action for action in actions if resource_types(action)], group


def test_the_scopable_check_can_fail():
    assert resource_types("sagemaker:ListTags") and resource_types("ec2:CreateNetworkInterface")
    assert not resource_types("logs:PutResourcePolicy") and not resource_types("ec2:DescribeVpcs")


def _sagemaker(synthesized, stage="prod"):
    return synthesized(stage).templates["MlInference-SageMaker"]


def test_sagemaker_network_interfaces_stay_in_the_stage_vpc(synthesized):
    template = _sagemaker(synthesized)
    grants = [s for key, s in statements(template) if key.startswith("EndpointExecutionRole")]
    eni = [s for s in grants if any(a.startswith(("ec2:Create", "ec2:Delete")) for a in _list(s["Action"]))]
    assert len(eni) == 2
    [named] = [s for s in eni if isinstance(s["Resource"], list)]
    assert named["Action"] == "ec2:CreateNetworkInterface" and "Condition" not in named
    kinds = sorted(part for arn in named["Resource"] for part in arn["Fn::Join"][1] if isinstance(part, str) and part.startswith(":"))
    assert kinds == [":security-group/", ":subnet/", ":subnet/"]
    [interfaces] = [s for s in eni if not isinstance(s["Resource"], list)]
    assert set(interfaces["Action"]) == {
        "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission",
    }
    assert interfaces["Resource"]["Fn::Join"][1][-1] == ":network-interface/*"
    vpc = interfaces["Condition"]["ArnEquals"]["ec2:Vpc"]["Fn::Join"][1]
    assert vpc[-2] == ":vpc/" and vpc[-1]["Fn::GetStackOutput"]["StackName"] == "MlInference-Network-prod"


def test_serverless_endpoint_has_no_network_grants(synthesized):
    grants = [s for key, s in statements(_sagemaker(synthesized, "dev")) if key.startswith("EndpointExecutionRole")]
    assert not [s for s in grants if any(a.startswith("ec2:") for a in _list(s["Action"]))]


@pytest.mark.parametrize("stage", STAGES)
def test_batch_state_machine_touches_only_its_own_jobs(synthesized, stage):
    template = _sagemaker(synthesized, stage)
    machine = [s for key, s in statements(template) if key.startswith("EndpointBatchTransformRole")]
    sagemaker_grants = [s for s in machine if any(a.startswith("sagemaker:") for a in _list(s["Action"]))]
    [grant] = sagemaker_grants
    assert set(grant["Action"]) >= {"sagemaker:CreateTransformJob", "sagemaker:StopTransformJob", "sagemaker:ListTags"}
    tail = grant["Resource"]["Fn::Join"][1][-1]
    assert tail.startswith(":transform-job/mlinference-sagemaker-") and tail.endswith("-*")
    prefix = tail.removeprefix(":transform-job/").removesuffix("-*")
    assert len(prefix) <= 30
    [machine_resource] = [r for key, r in template["Resources"].items()
                          if r["Type"] == "AWS::StepFunctions::StateMachine" and key.startswith("EndpointBatchTransformStateMachine")]
    definition = "".join(p for p in machine_resource["Properties"]["DefinitionString"]["Fn::Join"][1] if isinstance(p, str))
    assert f"\"TransformJobName.$\":\"States.Format('{prefix}-{{}}', States.Hash($$.Execution.Id, 'MD5'))\"" in definition
    # The model's role writes only these jobs' log streams.
    model = [s for key, s in statements(template) if key.startswith("EndpointExecutionRole")]
    [writes] = [s for s in model if "logs:PutLogEvents" in _list(s["Action"]) and "TransformJobs" in json.dumps(s)]
    assert writes["Resource"]["Fn::Join"][1][-1] == f":log-group:/aws/sagemaker/TransformJobs:log-stream:{prefix}-*"


def test_job_prefixes_differ_between_stages(synthesized):
    prefixes = set()
    for stage in STAGES:
        for _, statement in statements(_sagemaker(synthesized, stage)):
            if "sagemaker:CreateTransformJob" in _list(statement["Action"]):
                prefixes.add(statement["Resource"]["Fn::Join"][1][-1])
    assert len(prefixes) == 3


def test_job_prefix_fits_any_stack_name():
    import aws_cdk as cdk
    from constructs import Construct

    app = cdk.App()
    for index, name in enumerate(("S", "Very--Long-Stack-Name-" + "X" * 100, "MlInference-SageMaker-prod")):
        prefix = transform_job_prefix(Construct(cdk.Stack(app, f"Stack{index}", stack_name=name), "Batch"))
        assert len(prefix) + 1 + 32 <= 63 and prefix == prefix.lower()
        assert all(c.isalnum() or c == "-" for c in prefix) and prefix[0].isalnum()


# -- the EKS API endpoint -------------------------------------------------------------------

DISGUISES = {
    "everything": ["0.0.0.0/0"],
    "two-halves": ["0.0.0.0/1", "128.0.0.0/1"],
    "quarters": ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"],
    "ipv6-everything": ["::/0"],
    "ipv6-global-unicast": ["2000::/3"],
    "cloud-slash-8": ["3.0.0.0/8"],
    "many-small": [f"52.{i}.0.0/24" for i in range(0, 256)] + [f"54.{i}.0.0/24" for i in range(0, 2)],
    "slash-15": ["52.94.0.0/15"],
}


@pytest.mark.parametrize("cidrs", DISGUISES.values(), ids=DISGUISES.keys())
def test_fails_when_a_public_cidr_is_in_disguise(cidrs):
    with pytest.raises(ValueError, match="opens the API endpoint to the internet"):
        check_public_access_cidrs(cidrs)
    with pytest.raises(ValueError, match="opens the API endpoint to the internet"):
        StageConfig(name="test", eks_endpoint_public_cidrs=tuple(cidrs))


@pytest.mark.parametrize(
    "cidrs",
    [["203.0.113.0/24"], ["198.51.100.7/32", "192.0.2.0/24"], ["52.94.0.0/16"], ["10.0.0.0/8", "52.94.1.0/24"],
     ["2001:db8::/32"], ["2a05:d018::/48"]],
    ids=["office", "two-networks", "one-slash-16", "private-counts-nothing", "ipv6-documentation", "ipv6-site"],
)
def test_named_networks_are_allowed(cidrs):
    assert len(check_public_access_cidrs(cidrs)) == len(cidrs)


@pytest.mark.parametrize("cidr", ["10.0.0.1/8", "300.0.0.0/24", "203.0.113.9", "not-a-cidr"])
def test_fails_when_a_cidr_is_malformed(cidr):
    with pytest.raises(ValueError, match="endpoint_public_cidrs entry"):
        check_public_access_cidrs([cidr])


def test_public_address_count():
    import ipaddress

    assert public_addresses(ipaddress.ip_network("0.0.0.0/0")) == 2**32 - sum(b.num_addresses for b in NON_PUBLIC_IPV4)
    assert public_addresses(ipaddress.ip_network("10.0.0.0/8")) == 0
    assert public_addresses(ipaddress.ip_network("52.94.0.0/16")) == PUBLIC_ADDRESS_BUDGET
    blocks = sorted(NON_PUBLIC_IPV4)
    assert all(not a.overlaps(b) for a, b in zip(blocks, blocks[1:]))  # the subtraction needs disjoint blocks


# -- cluster admins ---------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_cluster_admins_are_named(synthesized, stage):
    template = synthesized(stage).templates["MlInference-Eks"]
    value = template["Outputs"]["ClusterAdminRoleArns"]["Value"]
    admins = value["Fn::Join"][1] if "Fn::Join" in value else [value]  # a join of one is that one
    assert admins == [{"Fn::GetAtt": ["ServiceClusterKubectlProviderHandlerServiceRoleE306ED99", "Arn"]}]
    entries = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::EKS::AccessEntry"]
    assert [entry["PrincipalArn"] for entry in entries] == admins  # no one else is admin
    report = json.loads((synthesized(stage).outdir / "validation-report.json").read_text())
    rules = {violation["ruleName"] for plugin in report["pluginReports"] for violation in plugin["violations"]}
    assert "Annotation::ml-inference:noClusterAdmins" in rules
