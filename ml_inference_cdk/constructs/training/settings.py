"""What a training run uses (TrainingCompute) and what a model must reach to be registered (QualityGate)."""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

from aws_cdk import Duration

from ..sagemaker.capacity import INSTANCE_TYPE
from .image import is_gpu_instance_type


@dataclasses.dataclass(frozen=True)
class TrainingCompute:
    """The training job's instance: `TrainingCompute.spot(...)` (managed Spot, resumed from S3
    checkpoints after an interruption) or `TrainingCompute.on_demand(...)`. A GPU instance type
    (ml.g*, ml.p*) gets the CUDA training image."""

    instance_type: str
    max_runtime: Duration
    max_wait: Optional[Duration]
    volume_size_gib: int

    @classmethod
    def spot(
        cls,
        instance_type: str = "ml.m5.xlarge",
        *,
        max_runtime: Optional[Duration] = None,
        max_wait: Optional[Duration] = None,
        volume_size_gib: int = 30,
    ) -> "TrainingCompute":
        """Managed Spot training. `max_runtime`: training time (default 4 hours); `max_wait`:
        training plus waiting for Spot capacity (default twice `max_runtime`, at least it)."""
        runtime = max_runtime or Duration.hours(4)
        wait = max_wait or Duration.seconds(2 * runtime.to_seconds())
        if wait.to_seconds() < runtime.to_seconds():
            raise ValueError("max_wait must be at least max_runtime: it counts the training time too")
        return cls._checked(instance_type, runtime, wait, volume_size_gib)

    @classmethod
    def on_demand(
        cls, instance_type: str = "ml.m5.xlarge", *, max_runtime: Optional[Duration] = None, volume_size_gib: int = 30
    ) -> "TrainingCompute":
        """On-demand instances: no interruptions, no Spot discount."""
        return cls._checked(instance_type, max_runtime or Duration.hours(4), None, volume_size_gib)

    @classmethod
    def _checked(cls, instance_type: str, runtime: Duration, wait: Optional[Duration], volume: int) -> "TrainingCompute":
        if not INSTANCE_TYPE.match(instance_type):
            raise ValueError(f"instance_type {instance_type!r} is not a SageMaker instance type such as ml.m5.xlarge")
        if not 60 <= runtime.to_seconds() <= 28 * 24 * 3600:
            raise ValueError("max_runtime must be between one minute and 28 days")
        if not 1 <= volume <= 16384:
            raise ValueError("volume_size_gib must be between 1 and 16384")
        return cls(instance_type, runtime, wait, volume)

    @property
    def uses_spot(self) -> bool:
        return self.max_wait is not None

    @property
    def gpu(self) -> bool:
        return is_gpu_instance_type(self.instance_type)


@dataclasses.dataclass(frozen=True)
class QualityGate:
    """What a trained model must reach on the evaluation data to be registered: accuracy and F1
    at or above the thresholds and, with `not_worse_than_approved`, at or above the latest
    approved model of the group."""

    min_accuracy: float = 0.85
    min_f1: float = 0.85
    not_worse_than_approved: bool = True

    def __post_init__(self) -> None:
        for name in ("min_accuracy", "min_f1"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= 1):
                raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")


__all__ = ["QualityGate", "TrainingCompute"]
