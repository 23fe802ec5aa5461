"""CDK constructs that serve a Hugging Face sequence classifier on AWS from one container."""

from .constructs import (
    AsyncOptions,
    BatchTransform,
    EksInference,
    EndpointMode,
    FargateInference,
    LambdaEndpoint,
    LambdaInference,
    ModelData,
    ModelImage,
    RealTimeOptions,
    SageMakerEndpoint,
    ServerlessOptions,
    SharedNetwork,
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
__version__ = "0.1.0"
