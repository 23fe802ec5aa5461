"""CDK constructs that serve a Hugging Face sequence classifier on AWS from one container.

The cost and capacity model (`ml-inference cost|recommend`) is the separate package
`ml_inference_cli`, which never imports the CDK.
"""

from .constructs import *  # noqa: F403 - the public API is the constructs package's
from .constructs import __all__ as __all__

__version__ = "0.2.0"
