"""Service settings, read from environment variables (pydantic-settings).

Every field is listed with its env var and default in ``inference/README.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    # Env var names are the field names in upper case: MODEL_DIR, MAX_BATCH_SIZE, ...
    model_config = SettingsConfigDict(frozen=True, protected_namespaces=())

    model_dir: Path = Field(Path("/opt/ml/model"), description="Hugging Face model directory (save_pretrained output).")
    model_version: str | None = Field(None, description="Overrides the version read from model_info.json.")
    platform: str = Field("local", description="Deployment target, a metric dimension: lambda, fargate, eks, sagemaker.")
    max_text_chars: int = Field(20_000, ge=1, description="Longest accepted text, in characters.")
    max_batch_size: int = Field(64, ge=1, description="Most texts in one batch request.")
    max_body_bytes: int = Field(1_048_576, ge=1, description="Largest accepted request body, in bytes.")
    max_tokens: int | None = Field(None, ge=2, description="Truncate inputs to this many tokens (default: the model's maximum).")
    torch_num_threads: int = Field(0, ge=0, description="Threads per forward pass; 0 = the CPUs this container may use.")
    inference_concurrency: int = Field(1, ge=1, description="Forward passes allowed to run at once.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="DEBUG also logs input text.")
    metrics_namespace: str = Field("MLInference", description="CloudWatch namespace of the EMF metrics.")
    emf_metrics: bool = Field(True, description="Print CloudWatch Embedded Metric Format lines to stdout.")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value
