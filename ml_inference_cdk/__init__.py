"""CDK constructs that serve a Hugging Face sequence classifier on AWS from one container."""

from .constructs import LambdaEndpoint, LambdaInference, ModelImage, SharedNetwork

__all__ = ["LambdaEndpoint", "LambdaInference", "ModelImage", "SharedNetwork"]
__version__ = "0.1.0"
