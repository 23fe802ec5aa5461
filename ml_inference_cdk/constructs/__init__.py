"""The L3 constructs, one module or package per construct; `_alarms`, `_buckets`, `_placement`,
`_checks` and `_workflows` hold what they share."""

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
from .training import BaseModel, QualityGate, TrainingCompute, TrainingImage, TrainingPipeline, TrainingPrefixes

__all__ = [
    "BaseModel",
    "BatchTransform",
    "EksInference",
    "EndpointCapacity",
    "EndpointMode",
    "FargateInference",
    "LambdaEndpointType",
    "LambdaInference",
    "ModelData",
    "ModelImage",
    "Precision",
    "QualityGate",
    "SageMakerEndpoint",
    "SharedNetwork",
    "TrafficShifting",
    "TrainingCompute",
    "TrainingImage",
    "TrainingPipeline",
    "TrainingPrefixes",
]
