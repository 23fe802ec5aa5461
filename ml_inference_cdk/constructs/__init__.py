"""The L3 constructs, one module or package per construct; `_alarms`, `_buckets`, `_placement`,
`_checks`, `_service_metrics` and `_tracing` hold what they share."""

from ._service_metrics import DriftCheck, ServiceMetrics, ServiceMonitoring
from ._tracing import TraceCollector
from .budget import CostBudget
from .dashboard import InferenceDashboard
from .eks import EksInference
from .fargate_inference import FargateInference
from .lambda_inference import LambdaEndpointType, LambdaInference
from .model_image import ModelImage, Precision
from .network import SharedNetwork
from .sagemaker import (
    BatchTransform,
    EndpointCapacity,
    EndpointMode,
    ModelData,
    SageMakerEndpoint,
    TrafficShifting,
)

__all__ = [
    "BatchTransform",
    "CostBudget",
    "DriftCheck",
    "EksInference",
    "EndpointCapacity",
    "EndpointMode",
    "FargateInference",
    "InferenceDashboard",
    "LambdaEndpointType",
    "LambdaInference",
    "ModelData",
    "ModelImage",
    "Precision",
    "SageMakerEndpoint",
    "ServiceMetrics",
    "ServiceMonitoring",
    "SharedNetwork",
    "TraceCollector",
    "TrafficShifting",
]
