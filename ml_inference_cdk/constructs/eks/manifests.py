"""The Kubernetes objects of EksInference, built as Python data from its props.

Pure functions, no CDK constructs: each returns the manifest dicts that `add_manifest`
applies, so the tests can read and validate exactly what the cluster receives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from .._exposure import NOT_FOUND_BODY, PRIVATE_PATHS, TLS_POLICY

CONTAINER_PORT = 8080
SERVICE_PORT = 80
HEALTH_PATH = "/health"
#: The image's user (inference/Dockerfile: `USER 10001:10001`).
IMAGE_UID = 10001
#: Where Auto Mode's own NodeClass lives; GPU node pools refer to it.
AUTO_MODE_NODE_CLASS = {"group": "eks.amazonaws.com", "kind": "NodeClass", "name": "default"}
GPU_RESOURCE = "nvidia.com/gpu"
#: The inference container's name (container log files are named after it).
CONTAINER_NAME = "inference"

#: The Ingress action (an annotation) that answers 404 for the private paths on an internet-facing ALB.
PRIVATE_PATHS_ACTION = "private-paths"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_dns_label(name: str) -> bool:
    """Whether `name` is an RFC 1123 label: what Kubernetes requires of namespaces and names."""
    return len(name) <= 63 and bool(_DNS_LABEL.match(name))


def cpu_quantity(millicores: int) -> str:
    """1000 -> "1", 1500 -> "1500m": the shortest Kubernetes CPU quantity."""
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def memory_quantity(mib: int) -> str:
    """2048 -> "2Gi", 1536 -> "1536Mi": the shortest Kubernetes memory quantity."""
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


@dataclass(frozen=True)
class WorkloadSpec:
    """Everything the Deployment, Service, HPA and PDB are built from."""

    name: str
    namespace: str
    image_uri: str
    service_account: str
    cpu_request_millicores: int
    cpu_limit_millicores: int
    memory_request_mib: int
    memory_limit_mib: int
    min_replicas: int
    max_replicas: int
    cpu_target_percent: int
    memory_target_percent: int
    scale_down_stabilization_seconds: int
    environment: Mapping[str, str] = field(default_factory=dict)
    gpu_count: int = 0
    gpu_node_pool: Optional[str] = None
    max_unavailable: int = 1
    tmp_size_mib: int = 1024
    termination_grace_seconds: int = 30
    #: The tracing sidecar (an OpenTelemetry collector image and its configuration), or None.
    collector_image: Optional[str] = None
    collector_config: Optional[str] = None
    collector_cpu_millicores: int = 250
    collector_memory_mib: int = 256
    #: A rollout that makes no progress for this long is marked failed (Progressing=False); the
    #: old pods keep serving (maxUnavailable 0) and the pipeline's smoke test stops promotion.
    progress_deadline_seconds: int = 600

    @property
    def labels(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": self.name, "app.kubernetes.io/component": "inference"}

    @property
    def selector(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": self.name}


def namespace(name: str) -> dict[str, Any]:
    # Pod Security Admission "restricted": the pods below meet it, and nothing weaker gets in.
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            },
        },
    }


def service_account(name: str, namespace_name: str) -> dict[str, Any]:
    # EKS Pod Identity maps this account to an IAM role; no IRSA annotation is needed.
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace_name},
        "automountServiceAccountToken": False,
    }


def _restricted_security_context() -> dict[str, Any]:
    # What Pod Security "restricted" asks of every container, init containers included.
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }


def collector_sidecar(spec: WorkloadSpec) -> dict[str, Any]:
    """The tracing collector as a native sidecar (an init container that keeps running): it starts
    before the app and stops after it, so the last spans still leave."""
    assert spec.collector_image is not None and spec.collector_config is not None
    return {
        "name": "otel-collector",
        "image": spec.collector_image,
        "imagePullPolicy": "IfNotPresent",
        "restartPolicy": "Always",
        "env": [{"name": "AOT_CONFIG_CONTENT", "value": spec.collector_config}],
        # Requests keep the HPA's utilisation meaningful (it sums every container's).
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": cpu_quantity(spec.collector_cpu_millicores), "memory": memory_quantity(spec.collector_memory_mib)},
        },
        "livenessProbe": {"exec": {"command": ["/healthcheck"]}, "periodSeconds": 20, "timeoutSeconds": 5, "failureThreshold": 3},
        "securityContext": _restricted_security_context(),
    }


def deployment(spec: WorkloadSpec) -> dict[str, Any]:
    limits: dict[str, Any] = {
        "cpu": cpu_quantity(spec.cpu_limit_millicores),
        "memory": memory_quantity(spec.memory_limit_mib),
    }
    requests: dict[str, Any] = {
        "cpu": cpu_quantity(spec.cpu_request_millicores),
        "memory": memory_quantity(spec.memory_request_mib),
    }
    if spec.gpu_count:
        limits[GPU_RESOURCE] = str(spec.gpu_count)
        requests[GPU_RESOURCE] = str(spec.gpu_count)
    probe = {"httpGet": {"path": HEALTH_PATH, "port": "http"}, "timeoutSeconds": 5}
    env = {"PLATFORM": "eks", "MODEL_DIR": "/opt/ml/model", "PORT": str(CONTAINER_PORT), **spec.environment}
    container = {
        "name": CONTAINER_NAME,
        "image": spec.image_uri,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": CONTAINER_PORT, "protocol": "TCP"}],
        "env": [{"name": key, "value": value} for key, value in env.items()],
        "resources": {"requests": requests, "limits": limits},
        # The model loads in seconds on CPU; 5 s x 36 leaves three minutes for slow nodes.
        "startupProbe": {**probe, "periodSeconds": 5, "failureThreshold": 36},
        "readinessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3, "successThreshold": 1},
        "livenessProbe": {**probe, "periodSeconds": 20, "failureThreshold": 3},
        # The load balancer keeps sending for a few seconds after a pod leaves the endpoints.
        "lifecycle": {"preStop": {"sleep": {"seconds": 10}}},
        "securityContext": _restricted_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    pod_spec: dict[str, Any] = {
        "serviceAccountName": spec.service_account,
        # The app never calls the Kubernetes API; Pod Identity mounts its own token.
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": spec.termination_grace_seconds,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": IMAGE_UID,
            "runAsGroup": IMAGE_UID,
            "fsGroup": IMAGE_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": memory_quantity(spec.tmp_size_mib)}}],
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": spec.selector},
            },
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": spec.selector},
            },
        ],
    }
    if spec.collector_image is not None:
        pod_spec["initContainers"] = [collector_sidecar(spec)]
    if spec.gpu_count:
        pod_spec["nodeSelector"] = {"karpenter.sh/nodepool": spec.gpu_node_pool}
        pod_spec["tolerations"] = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": spec.labels},
        # No `replicas`: the HPA owns the count, and re-applying a fixed number would reset it.
        "spec": {
            "selector": {"matchLabels": spec.selector},
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": spec.progress_deadline_seconds,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            "template": {"metadata": {"labels": spec.labels}, "spec": pod_spec},
        },
    }


def service(spec: WorkloadSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": spec.labels},
        "spec": {
            "type": "ClusterIP",
            "selector": spec.selector,
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def horizontal_pod_autoscaler(spec: WorkloadSpec) -> dict[str, Any]:
    def utilization(resource: str, percent: int) -> dict[str, Any]:
        return {
            "type": "Resource",
            "resource": {"name": resource, "target": {"type": "Utilization", "averageUtilization": percent}},
        }

    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": spec.labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicas": spec.min_replicas,
            "maxReplicas": spec.max_replicas,
            "metrics": [utilization("cpu", spec.cpu_target_percent), utilization("memory", spec.memory_target_percent)],
            "behavior": {
                # Up at once: double, or add 4 pods, every 15 s, whichever is more.
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "selectPolicy": "Max",
                    "policies": [
                        {"type": "Percent", "value": 100, "periodSeconds": 15},
                        {"type": "Pods", "value": 4, "periodSeconds": 15},
                    ],
                },
                # Down only after the window, and by at most half a minute-period at a time.
                "scaleDown": {
                    "stabilizationWindowSeconds": spec.scale_down_stabilization_seconds,
                    "selectPolicy": "Max",
                    "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
                },
            },
        },
    }


def pod_disruption_budget(spec: WorkloadSpec) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": spec.labels},
        "spec": {
            "maxUnavailable": spec.max_unavailable,
            "selector": {"matchLabels": spec.selector},
            # Pods that never got ready may be evicted, or a bad rollout blocks node drains.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def ingress_class_params(
    name: str,
    *,
    internal: bool,
    subnet_ids: Sequence[str],
    certificate_arn: Optional[str],
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "scheme": "internal" if internal else "internet-facing",
        "loadBalancerAttributes": [{"key": "routing.http.drop_invalid_header_fields.enabled", "value": "true"}],
    }
    if subnet_ids:
        # Explicit subnets: Auto Mode then needs no kubernetes.io/role/elb tags on the VPC.
        spec["subnets"] = {"ids": list(subnet_ids)}
    if certificate_arn:
        spec["certificateARNs"] = [certificate_arn]
    return {
        "apiVersion": "eks.amazonaws.com/v1",
        "kind": "IngressClassParams",
        "metadata": {"name": name},
        "spec": spec,
    }


def ingress_class(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": name},
        "spec": {
            "controller": "eks.amazonaws.com/alb",
            "parameters": {"apiGroup": "eks.amazonaws.com", "kind": "IngressClassParams", "name": name},
        },
    }


def ingress(
    spec: WorkloadSpec, *, ingress_class_name: str, https: bool, web_acl_arn: Optional[str] = None
) -> dict[str, Any]:
    """The Ingress. With `web_acl_arn` (an internet-facing ALB) the WAF web ACL is associated and
    the private paths (metrics, API docs) get the load balancer's own 404."""
    annotations = {
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/healthcheck-path": HEALTH_PATH,
        "alb.ingress.kubernetes.io/healthcheck-interval-seconds": "15",
        "alb.ingress.kubernetes.io/healthy-threshold-count": "2",
        "alb.ingress.kubernetes.io/unhealthy-threshold-count": "3",
        "alb.ingress.kubernetes.io/target-group-attributes": "deregistration_delay.timeout_seconds=30",
    }
    if https:
        annotations["alb.ingress.kubernetes.io/listen-ports"] = '[{"HTTP": 80}, {"HTTPS": 443}]'
        annotations["alb.ingress.kubernetes.io/ssl-redirect"] = "443"
        annotations["alb.ingress.kubernetes.io/ssl-policy"] = TLS_POLICY
    paths: list[dict[str, Any]] = []
    if web_acl_arn is not None:
        # EKS Auto Mode supports WAF v2 by this annotation (only the WAF Classic ones are not).
        annotations["alb.ingress.kubernetes.io/wafv2-acl-arn"] = web_acl_arn
        annotations[f"alb.ingress.kubernetes.io/actions.{PRIVATE_PATHS_ACTION}"] = json.dumps(
            {
                "type": "fixed-response",
                "fixedResponseConfig": {"contentType": "application/json", "statusCode": "404",
                                        "messageBody": NOT_FOUND_BODY},
            }
        )
        paths = [
            {
                "path": path,
                "pathType": "Prefix",
                "backend": {"service": {"name": PRIVATE_PATHS_ACTION, "port": {"name": "use-annotation"}}},
            }
            for path in PRIVATE_PATHS
        ]
    paths.append(
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": spec.name, "port": {"name": "http"}}}}
    )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": spec.labels, "annotations": annotations},
        "spec": {
            "ingressClassName": ingress_class_name,
            "rules": [{"http": {"paths": paths}}],
        },
    }


def gpu_node_pool(
    name: str, *, instance_families: Sequence[str], max_gpus: int, architecture: str = "amd64"
) -> dict[str, Any]:
    # Auto Mode's GPU AMIs carry the NVIDIA driver and device plugin: a NodePool is all it needs.
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {
                    "nodeClassRef": dict(AUTO_MODE_NODE_CLASS),
                    "requirements": [
                        {
                            "key": "eks.amazonaws.com/instance-family",
                            "operator": "In",
                            "values": list(instance_families),
                        },
                        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
                        {"key": "kubernetes.io/arch", "operator": "In", "values": [architecture]},
                    ],
                    # Only pods that tolerate this (the inference pods) land on GPU nodes.
                    "taints": [{"key": GPU_RESOURCE, "effect": "NoSchedule"}],
                }
            },
            "limits": {GPU_RESOURCE: max_gpus},
            "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "5m"},
        },
    }


def all_manifests(
    spec: WorkloadSpec,
    *,
    ingress_class_name: str,
    internal: bool,
    subnet_ids: Sequence[str],
    certificate_arn: Optional[str],
    gpu_instance_families: Sequence[str],
    architecture: str,
    web_acl_arn: Optional[str] = None,
) -> dict[str, dict[str, Any]]:
    """Every object of the workload by kind; a GPU NodePool when `spec` asks for GPUs."""
    manifests = {
        "Namespace": namespace(spec.namespace),
        "ServiceAccount": service_account(spec.service_account, spec.namespace),
        "Deployment": deployment(spec),
        "Service": service(spec),
        "HorizontalPodAutoscaler": horizontal_pod_autoscaler(spec),
        "PodDisruptionBudget": pod_disruption_budget(spec),
        "IngressClassParams": ingress_class_params(
            ingress_class_name, internal=internal, subnet_ids=subnet_ids, certificate_arn=certificate_arn
        ),
        "IngressClass": ingress_class(ingress_class_name),
        "Ingress": ingress(
            spec, ingress_class_name=ingress_class_name, https=certificate_arn is not None, web_acl_arn=web_acl_arn
        ),
    }
    if spec.gpu_count:
        assert spec.gpu_node_pool is not None
        manifests["NodePool"] = gpu_node_pool(
            spec.gpu_node_pool,
            instance_families=gpu_instance_families,
            max_gpus=spec.gpu_count * spec.max_replicas,
            architecture=architecture,
        )
    return manifests
