"""CDK constructs that serve a Hugging Face sequence classifier on AWS from one container."""

from .constructs import FargateInference, LambdaEndpoint, LambdaInference, ModelImage, SharedNetwork

__all__ = ["FargateInference", "LambdaEndpoint", "LambdaInference", "ModelImage", "SharedNetwork"]
__version__ = "0.1.0"
