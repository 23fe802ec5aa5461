"""CDK constructs that serve a Hugging Face sequence classifier on AWS from one container.

The constructs load lazily (PEP 562): `from ml_inference_cdk import ModelImage` works as usual,
while `ml_inference_cdk.decision` (the `ml-inference` cost model) starts without loading the CDK.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module(".constructs", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
