"""Reading the Kubernetes manifests back out of a synthesized template, and validating them."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import kubernetes_validate

MANIFEST_TYPE = "Custom::AWSCDK-EKS-KubernetesResource"
#: A deploy-time value (a token: image URI, subnet id, certificate ARN) in an extracted manifest.
TOKEN = "TOKEN"


def manifests_of(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Kubernetes object the template applies, tokens replaced by TOKEN."""
    objects = []
    for resource in template["Resources"].values():
        if resource["Type"] != MANIFEST_TYPE:
            continue
        manifest = resource["Properties"]["Manifest"]
        if isinstance(manifest, dict):
            [separator, parts] = manifest["Fn::Join"]
            manifest = separator.join(part if isinstance(part, str) else TOKEN for part in parts)
        objects.extend(json.loads(manifest))
    return objects


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds: dict[str, dict[str, Any]] = {}
    for obj in objects:
        assert obj["kind"] not in kinds, f"two {obj['kind']} objects: tests expect one of each"
        kinds[obj["kind"]] = obj
    return kinds


# Custom resources have no schema in kubernetes-validate. These follow the CRDs that EKS Auto
# Mode installs (eks.amazonaws.com/v1 IngressClassParams; karpenter.sh/v1 NodePool), strict:
# only the fields we set are listed, and nothing unknown is allowed.
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}, "labels": {"type": "object"}},
    "additionalProperties": False,
}
_KEY_VALUE = {
    "type": "object",
    "required": ["key", "value"],
    "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
    "additionalProperties": False,
}
CRD_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("eks.amazonaws.com/v1", "IngressClassParams"): {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "eks.amazonaws.com/v1"},
            "kind": {"const": "IngressClassParams"},
            "metadata": _METADATA,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "scheme": {"enum": ["internal", "internet-facing"]},
                    "ipAddressType": {"enum": ["ipv4", "dualstack"]},
                    "subnets": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"ids": {"type": "array", "minItems": 1, "items": {"type": "string"}}},
                    },
                    "certificateARNs": {"type": "array", "items": {"type": "string"}},
                    "loadBalancerAttributes": {"type": "array", "items": _KEY_VALUE},
                    "tags": {"type": "array", "items": _KEY_VALUE},
                },
            },
        },
    },
    ("karpenter.sh/v1", "NodePool"): {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "karpenter.sh/v1"},
            "kind": {"const": "NodePool"},
            "metadata": _METADATA,
            "spec": {
                "type": "object",
                "required": ["template"],
                "additionalProperties": False,
                "properties": {
                    "template": {
                        "type": "object",
                        "required": ["spec"],
                        "additionalProperties": False,
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["nodeClassRef", "requirements"],
                                "additionalProperties": False,
                                "properties": {
                                    "nodeClassRef": {
                                        "type": "object",
                                        "required": ["group", "kind", "name"],
                                        "additionalProperties": False,
                                        "properties": {
                                            "group": {"type": "string"},
                                            "kind": {"type": "string"},
                                            "name": {"type": "string"},
                                        },
                                    },
                                    "requirements": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["key", "operator"],
                                            "additionalProperties": False,
                                            "properties": {
                                                "key": {"type": "string"},
                                                "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]},
                                                "values": {"type": "array", "items": {"type": "string"}},
                                            },
                                        },
                                    },
                                    "taints": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["key", "effect"],
                                            "additionalProperties": False,
                                            "properties": {
                                                "key": {"type": "string"},
                                                "value": {"type": "string"},
                                                "effect": {"enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]},
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "limits": {
                        "type": "object",
                        "additionalProperties": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                    },
                    "disruption": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "consolidationPolicy": {"enum": ["WhenEmpty", "WhenEmptyOrUnderutilized"]},
                            "consolidateAfter": {"type": "string", "pattern": "^(([0-9]+(s|m|h))+|Never)$"},
                        },
                    },
                },
            },
        },
    },
}


def validate(obj: dict[str, Any], kubernetes_version: str) -> None:
    """Validate one object strictly: kubernetes-validate's schemas, or CRD_SCHEMAS for custom kinds."""
    key = (obj["apiVersion"], obj["kind"])
    if key in CRD_SCHEMAS:
        jsonschema.Draft202012Validator(CRD_SCHEMAS[key]).validate(obj)
        return
    used = kubernetes_validate.validate(obj, kubernetes_version, strict=True)
    # kubernetes-validate falls back to an older schema when it lacks the version asked for.
    assert used == kubernetes_version, f"validated against Kubernetes {used}, not {kubernetes_version}"
