"""The L3 constructs, one module or package per construct; `_alarms`, `_buckets`, `_placement`,
`_checks`, `_service_metrics`, `_tracing` and `_workflows` hold what they share."""

from ._service_metrics import DriftCheck, ServiceMetrics, ServiceMonitoring
from ._tracing import TraceCollector
from .budget import CostBudget
from .dashboard import InferenceDashboard
from .eks import EksInference
from .fargate_inference import FargateInference
from .lambda_inference import LambdaEndpointType, LambdaInference
from .load_balancer_auth import LoadBalancerAuth
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
from .training import BaseModel, QualityGate, TrainingCompute, TrainingImage, TrainingPipeline, TrainingPrefixes

__all__ = [
    "BaseModel",
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
    "LoadBalancerAuth",
    "ModelData",
    "ModelImage",
    "Precision",
    "QualityGate",
    "SageMakerEndpoint",
    "ServiceMetrics",
    "ServiceMonitoring",
    "SharedNetwork",
    "TraceCollector",
    "TrafficShifting",
    "TrainingCompute",
    "TrainingImage",
    "TrainingPipeline",
    "TrainingPrefixes",
]
