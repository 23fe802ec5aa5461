"""SageMakerEndpoint and BatchTransform: the inference server on SageMaker.

`capacity` (how the endpoint runs), `model_data` (artifacts from S3 or a directory),
`endpoint`, `batch` (the batch transform state machine), `storage` (the data bucket).
"""

from .batch import BATCH_CONTENT_TYPE, BatchTransform
from .capacity import (
    ASYNC_ENVIRONMENT,
    AsyncCapacity,
    EndpointCapacity,
    EndpointMode,
    RealTimeCapacity,
    ServerlessCapacity,
    TrafficShifting,
    async_environment,
)
from .endpoint import SageMakerEndpoint
from .model_data import ModelData, write_model_archive

__all__ = [
    "ASYNC_ENVIRONMENT",
    "AsyncCapacity",
    "BATCH_CONTENT_TYPE",
    "BatchTransform",
    "EndpointCapacity",
    "EndpointMode",
    "ModelData",
    "RealTimeCapacity",
    "SageMakerEndpoint",
    "ServerlessCapacity",
    "TrafficShifting",
    "async_environment",
    "write_model_archive",
]
