"""One module per L3 construct."""

from .lambda_inference import LambdaEndpoint, LambdaInference
from .model_image import ModelImage
from .network import SharedNetwork

__all__ = ["LambdaEndpoint", "LambdaInference", "ModelImage", "SharedNetwork"]
