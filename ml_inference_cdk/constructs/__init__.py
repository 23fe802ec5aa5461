"""One module per L3 construct."""

from .eks_inference import EksInference
from .fargate_inference import FargateInference
from .lambda_inference import LambdaEndpoint, LambdaInference
from .model_image import ModelImage
from .network import SharedNetwork
from .sagemaker_endpoint import (
    AsyncOptions,
    BatchTransform,
    EndpointMode,
    ModelData,
    RealTimeOptions,
    SageMakerEndpoint,
    ServerlessOptions,
    TrafficShifting,
)

__all__ = [
    "AsyncOptions",
    "BatchTransform",
    "EksInference",
    "EndpointMode",
    "FargateInference",
    "LambdaEndpoint",
    "LambdaInference",
    "ModelData",
    "ModelImage",
    "RealTimeOptions",
    "SageMakerEndpoint",
    "ServerlessOptions",
    "SharedNetwork",
    "TrafficShifting",
]
