"""TrainingPipeline: models as build artefacts (SageMaker training, the Model Registry, Step
Functions, EventBridge). `image` (TrainingImage, BaseModel), `settings` (TrainingCompute,
QualityGate), `storage` (the bucket), `workflow` (train → gate → register), `rollout`
(approved → production), `pipeline` (the construct and its triggers)."""

from .image import BaseModel, TrainingImage
from .pipeline import DEFAULT_HYPERPARAMETERS, TrainingPipeline
from .rollout import MODEL_PACKAGE_VARIABLE, ModelRollout
from .settings import QualityGate, TrainingCompute
from .storage import TrainingPrefixes
from .workflow import TrainingWorkflow

__all__ = [
    "BaseModel",
    "DEFAULT_HYPERPARAMETERS",
    "MODEL_PACKAGE_VARIABLE",
    "ModelRollout",
    "QualityGate",
    "TrainingCompute",
    "TrainingImage",
    "TrainingPipeline",
    "TrainingPrefixes",
    "TrainingWorkflow",
]
