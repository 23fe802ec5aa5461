"""EksInference: the inference server on Amazon EKS (Auto Mode).

`inference` is the construct; `cluster` builds a new cluster, `manifests` the Kubernetes
objects (pure functions), `addons` the EKS add-ons.
"""

from .cluster import ALL_CLUSTER_LOGGING, DEFAULT_KUBERNETES_VERSION
from .inference import EksInference

__all__ = ["ALL_CLUSTER_LOGGING", "DEFAULT_KUBERNETES_VERSION", "EksInference"]
