"""What EksInference checks its props against before it builds anything: the cluster to use or
make, the workload's names, resources and replicas, and GPU placement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_lambda as lambda_

from ..model_image import ModelImage
from . import manifests as k8s
from .endpoint_access import check_public_access_cidrs

#: NVIDIA GPU instance families an Auto Mode NodePool can take.
GPU_FAMILIES = ("g4dn", "g5", "g5g", "g6", "g6e", "g6f", "gr6", "p3", "p4d", "p4de", "p5", "p5e", "p5en")


def check_cluster_props(
    cluster: Optional[eks.ICluster],
    version: Optional[eks.KubernetesVersion],
    kubectl_layer: Optional[lambda_.ILayerVersion],
    endpoint_public_cidrs: Sequence[str],
) -> None:
    if cluster is not None:
        if version is not None or kubectl_layer is not None or endpoint_public_cidrs:
            raise ValueError(
                "version, kubectl_layer and endpoint_public_cidrs configure a new cluster: "
                "set them on the existing cluster instead"
            )
        if cluster.kubectl_provider is None:
            raise ValueError(
                "the existing cluster has no kubectl provider: import it with "
                "Cluster.from_cluster_attributes(kubectl_provider=...) so manifests can be applied"
            )
    check_public_access_cidrs(endpoint_public_cidrs)


def check_workload_props(
    *,
    namespace: str,
    name: str,
    cpu_millicores: tuple[int, int],
    memory_mib: tuple[int, int],
    replicas: tuple[int, int],
    target_percents: tuple[int, int],
    max_unavailable: int,
) -> None:
    """Names, requests against limits, replica counts and HPA targets (each pair: low, high)."""
    for label, value in (("namespace", namespace), ("name", name)):
        if not k8s.is_dns_label(value):
            raise ValueError(
                f"{label} {value!r} is not a Kubernetes name: use lowercase letters, digits and '-', at most 63"
            )
    if namespace.startswith("kube-"):
        raise ValueError(f"namespace {namespace!r} is reserved for Kubernetes: pick another")
    (cpu_request, cpu_limit), (memory_request, memory_limit) = cpu_millicores, memory_mib
    if cpu_request < 100 or memory_request < 128:
        raise ValueError("requests must be at least 100 millicores and 128 MiB: the model does not load in less")
    if cpu_limit < cpu_request:
        raise ValueError(f"cpu_limit_millicores ({cpu_limit}) must be at least cpu_request_millicores ({cpu_request})")
    if memory_limit < memory_request:
        raise ValueError(f"memory_limit_mib ({memory_limit}) must be at least memory_request_mib ({memory_request})")
    min_replicas, max_replicas = replicas
    if min_replicas < 1:
        raise ValueError("min_replicas must be at least 1: an Ingress with no pods answers 503")
    if max_replicas < min_replicas:
        raise ValueError(f"max_replicas ({max_replicas}) must be at least min_replicas ({min_replicas})")
    for label, percent in zip(("cpu_target_percent", "memory_target_percent"), target_percents):
        if not 10 <= percent <= 95:
            raise ValueError(f"{label} must be between 10 and 95, got {percent}")
    if max_unavailable < 1:
        raise ValueError("max_unavailable must be at least 1, or no node could ever be drained")
    if min_replicas > 1 and max_unavailable >= min_replicas:
        raise ValueError(
            f"max_unavailable ({max_unavailable}) must be below min_replicas ({min_replicas}): a drain would take every pod"
        )


def check_gpu_props(gpu_count: int, gpu_instance_families: Sequence[str], image: ModelImage) -> None:
    if gpu_count < 0 or gpu_count > 8:
        raise ValueError(f"gpu_count must be between 0 and 8 (GPUs per pod), got {gpu_count}")
    if not gpu_count:
        return
    if image.is_arm64 and not set(gpu_instance_families) <= {"g5g"}:
        raise ValueError("an arm64 image runs on Graviton GPU instances only: use gpu_instance_families=('g5g',)")
    unknown = [family for family in gpu_instance_families if family not in GPU_FAMILIES]
    if not gpu_instance_families or unknown:
        raise ValueError(
            f"gpu_instance_families must name NVIDIA GPU families ({', '.join(GPU_FAMILIES)}), got {list(gpu_instance_families)}"
        )


__all__ = ["GPU_FAMILIES", "check_cluster_props", "check_gpu_props", "check_workload_props"]
