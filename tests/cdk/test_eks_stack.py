"""MlInference-Eks in every stage: the manifests it applies, validated, and what the stage sets."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from ml_inference_cdk.constructs.eks import DEFAULT_KUBERNETES_VERSION
from tests.cdk.eks_support import by_kind, manifests_of, validate
from tests.conftest import STAGES

STACK = "MlInference-Eks"


def objects(synthesized, stage):
    return manifests_of(synthesized(stage).templates[STACK])


@pytest.mark.parametrize("stage", STAGES)
def test_every_manifest_is_valid_at_the_cluster_version(synthesized, stage):
    template = synthesized(stage).templates[STACK]
    [cluster] = [r for r in template["Resources"].values() if r["Type"] == "AWS::EKS::Cluster"]
    version = cluster["Properties"]["Version"]
    assert version == DEFAULT_KUBERNETES_VERSION.version == "1.36"
    manifests = manifests_of(template)
    assert {m["kind"] for m in manifests} == {
        "Namespace",
        "ServiceAccount",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "IngressClassParams",
        "IngressClass",
        "Ingress",
    }
    for manifest in manifests:
        validate(manifest, version)


def test_validation_is_strict(synthesized):
    # The control: an unknown field, or a wrong type, fails the same validation.
    import jsonschema

    kinds = by_kind(objects(synthesized, "dev"))
    deployment = kinds["Deployment"]
    bad = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(jsonschema.ValidationError):
        validate(bad, "1.36")
    params = kinds["IngressClassParams"]
    with pytest.raises(jsonschema.ValidationError):
        validate({**params, "spec": {**params["spec"], "scheme": "public"}}, "1.36")


def test_deployment_probes_resources_and_security(synthesized):
    kinds = by_kind(objects(synthesized, "prod"))
    deployment = kinds["Deployment"]
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"].endswith(":TOKEN") or "TOKEN" in container["image"]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"] >= 120
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["securityContext"]["runAsUser"] == 10001 and pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["serviceAccountName"] == "inference" and pod["automountServiceAccountToken"] is False
    assert {"name": "PLATFORM", "value": "eks"} in container["env"]
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    zone = [c for c in pod["topologySpreadConstraints"] if c["topologyKey"] == "topology.kubernetes.io/zone"]
    assert zone and zone[0]["whenUnsatisfiable"] == "DoNotSchedule"
    assert kinds["Namespace"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize(("stage", "min_replicas", "max_replicas"), [("dev", 1, 2), ("staging", 2, 4), ("prod", 2, 10)])
def test_hpa_and_pdb_follow_the_stage(synthesized, stage, min_replicas, max_replicas):
    kinds = by_kind(objects(synthesized, stage))
    hpa = kinds["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (min_replicas, max_replicas)
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["spec"]["metrics"]}
    assert targets == {"cpu": 70, "memory": 80}
    assert hpa["spec"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    pdb = kinds["PodDisruptionBudget"]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == kinds["Deployment"]["spec"]["selector"]
    running = synthesized(stage).template(STACK).find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"MetricName": "service_number_of_running_pods"}}
    )
    [alarm] = running.values()
    assert alarm["Properties"]["Threshold"] == min_replicas


def test_ingress_uses_an_internal_auto_mode_alb_without_a_certificate(synthesized):
    kinds = by_kind(objects(synthesized, "dev"))
    params, ingress_class, ingress = kinds["IngressClassParams"], kinds["IngressClass"], kinds["Ingress"]
    assert ingress_class["spec"]["controller"] == "eks.amazonaws.com/alb"
    assert ingress_class["spec"]["parameters"] == {"apiGroup": "eks.amazonaws.com", "kind": "IngressClassParams", "name": params["metadata"]["name"]}
    assert ingress["spec"]["ingressClassName"] == ingress_class["metadata"]["name"]
    # No stage names a certificate: internal, in the private subnets, no web ACL or path rules.
    assert params["spec"]["scheme"] == "internal"
    assert params["spec"]["subnets"]["ids"] == ["TOKEN", "TOKEN"]
    assert not [key for key in ingress["metadata"]["annotations"] if "wafv2" in key or "actions." in key]
    assert [path["path"] for path in ingress["spec"]["rules"][0]["http"]["paths"]] == ["/"]
    assert ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/healthcheck-path"] == "/health"
    assert ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/target-type"] == "ip"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": kinds["Service"]["metadata"]["name"], "port": {"name": "http"}}


@pytest.mark.parametrize("stage", STAGES)
def test_cluster_is_private_logged_and_encrypted(synthesized, stage):
    template = synthesized(stage).template(STACK)
    template.has_resource_properties(
        "AWS::EKS::Cluster",
        {
            "Version": "1.36",
            "ComputeConfig": Match.object_like({"Enabled": True, "NodePools": ["system", "general-purpose"]}),
            "AccessConfig": Match.object_like({"AuthenticationMode": "API", "BootstrapClusterCreatorAdminPermissions": False}),
            "EncryptionConfig": [{"Provider": {"KeyArn": Match.any_value()}, "Resources": ["secrets"]}],
            "Logging": {
                "ClusterLogging": {
                    "EnabledTypes": [{"Type": t} for t in ("api", "audit", "authenticator", "controllerManager", "scheduler")]
                }
            },
            "ResourcesVpcConfig": Match.object_like({"EndpointPrivateAccess": True, "EndpointPublicAccess": False}),
        },
    )
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True, "Description": Match.string_like_regexp("secrets")})
    template.has_resource_properties("AWS::EKS::Addon", {"AddonName": "metrics-server"})
    template.has_resource_properties("AWS::EKS::Addon", {"AddonName": "amazon-cloudwatch-observability"})
    template.has_resource_properties(
        "AWS::EKS::PodIdentityAssociation", {"Namespace": "inference", "ServiceAccount": "inference"}
    )
    for subnet in template.to_json()["Resources"]["ServiceCluster572F72F1"]["Properties"]["ResourcesVpcConfig"]["SubnetIds"]:
        assert subnet["Fn::GetStackOutput"]["StackName"] == f"MlInference-Network-{stage}"


@pytest.mark.parametrize("stage", STAGES)
def test_outputs(synthesized, stage):
    outputs = synthesized(stage).templates[STACK]["Outputs"]
    assert {"ClusterName", "UpdateKubeconfigCommand", "IngressAddressCommand"} <= set(outputs)
    command = outputs["UpdateKubeconfigCommand"]["Value"]["Fn::Join"][1]
    assert command[0].startswith("aws eks update-kubeconfig --name ") and command[-1] == " --region us-east-1"
    assert "kubectl get ingress inference --namespace inference" in outputs["IngressAddressCommand"]["Value"]
    # What `ml-inference smoke` and `make loadtest` read: the Ingress's load balancer, once provisioned.
    assert outputs["Url"]["Value"] == {"Fn::Join": ["", ["http://", {"Fn::GetAtt": ["ServiceIngressHostname4D21532E", "Value"]}]]}


# Stateful resources keep their logical IDs across releases (see test_stacks.STATEFUL_IDS).
EKS_STATEFUL_IDS = {
    "ServiceCluster572F72F1": "AWS::EKS::Cluster",
    "ServiceSecretsKey1628BCBF": "AWS::KMS::Key",
    "ServiceAlarmTopicKey06640ABC": "AWS::KMS::Key",
}


@pytest.mark.parametrize("stage", STAGES)
def test_stateful_logical_ids_are_pinned(synthesized, stage):
    resources = synthesized(stage).templates[STACK]["Resources"]
    for logical_id, resource_type in EKS_STATEFUL_IDS.items():
        assert logical_id in resources, f"{logical_id} ({resource_type}) was renamed: that replaces it"
        assert resources[logical_id]["Type"] == resource_type


@pytest.mark.parametrize(("stage", "deletion"), [("dev", "Delete"), ("staging", "Retain"), ("prod", "Retain")])
def test_keys_follow_the_stage_removal_policy(synthesized, stage, deletion):
    resources = synthesized(stage).templates[STACK]["Resources"]
    assert resources["ServiceSecretsKey1628BCBF"]["DeletionPolicy"] == deletion
