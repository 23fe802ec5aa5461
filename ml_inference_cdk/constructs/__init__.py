"""One module per L3 construct."""

from .fargate_inference import FargateInference
from .lambda_inference import LambdaEndpoint, LambdaInference
from .model_image import ModelImage
from .network import SharedNetwork

__all__ = ["FargateInference", "LambdaEndpoint", "LambdaInference", "ModelImage", "SharedNetwork"]
