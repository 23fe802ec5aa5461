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

    model_dir: Path = Field(Path("/opt/ml/model"), description="The model: a directory exported by `python -m "
                            "inference.export` (ONNX; what the images hold), or a Hugging Face save_pretrained "
                            "directory for the PyTorch backend.")
    model_version: str | None = Field(None, description="Overrides the version read from model_info.json.")
    platform: str = Field("local", description="Deployment target, a metric dimension: lambda, fargate, eks, sagemaker.")
    max_text_chars: int = Field(20_000, ge=1, description="Longest accepted text, in characters.")
    max_batch_size: int = Field(64, ge=1, description="Most texts in one batch request.")
    max_body_bytes: int = Field(1_048_576, ge=1, description="Largest accepted request body, in bytes.")
    max_tokens: int | None = Field(None, ge=2, description="Truncate inputs to this many tokens (default: the model's maximum).")
    backend: Literal["auto", "onnx", "pytorch"] = Field(
        "auto", description="auto: ONNX Runtime if MODEL_DIR has model.onnx (from inference.export), else PyTorch.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="PyTorch device; auto = CUDA when a GPU is present.")
    num_threads: int = Field(0, ge=0, description="Threads per forward pass; 0 = the CPUs this container may use "
                             "(its cgroup quota, not the host's cores).")
    ort_spinning: bool = Field(True, description="Let ONNX Runtime's threads spin-wait between operators "
                               "(ONNX Runtime's default: ~2 ms faster per int8 request; false saves CPU).")
    inference_concurrency: int = Field(1, ge=1, description="Forward passes allowed at once without the batcher.")
    dynamic_batching: bool | None = Field(
        None, description="Queue requests and run them in shared forward passes; default: on, except on Lambda.")
    batch_max_texts: int = Field(32, ge=1, description="Most texts in one forward pass of the batcher.")
    batch_max_tokens: int = Field(2048, ge=16, description="Most padded tokens (texts x longest) in one forward pass.")
    batch_max_wait_ms: float = Field(0.0, ge=0, le=1000, description="Wait this long for more texts when a forward "
                                     "pass is not full (0: run what is queued at once).")
    batch_padding_waste: float = Field(0.1, ge=0, description="Group texts of similar length: most padding per "
                                       "forward pass, as a fraction of its real tokens.")
    queue_max_texts: int = Field(256, ge=1, description="Texts waiting at most; beyond, requests get an immediate "
                                 "OVERLOAD_STATUS with Retry-After.")
    queue_max_seconds: float = Field(2.0, ge=0, description="Refuse requests when the queue holds more than this "
                                     "many seconds of work at the recent rate (0: only QUEUE_MAX_TEXTS).")
    overload_status: Literal[429, 503] = Field(503, description="Status answered when the queue is full.")
    request_read_timeout_seconds: float = Field(10.0, gt=0, description="A client has this long for a request's "
                                                "headers (from the connection, or the previous answer), then as "
                                                "long again for its body; then 408 and the connection closes.")
    max_connections: int = Field(256, ge=1, description="Connections (or requests) the server handles at once; "
                                 "beyond, uvicorn answers 503 and closes. Bounds the memory bodies in transit take.")
    docs_enabled: bool = Field(True, description="Serve the API's description at /docs, /redoc and /openapi.json; "
                               "the CDK constructs set false behind an internet-facing load balancer.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="DEBUG also logs input text.")
    metrics_namespace: str = Field("MLInference", min_length=1, max_length=255,
                                   description="CloudWatch namespace of the EMF metrics.")
    metrics_service: str = Field("ml-inference", min_length=1, max_length=255,
                                 description="The Service dimension of every EMF metric: one value per deployment "
                                 "(the CDK constructs set it), so dashboards and alarms tell deployments apart.")
    emf_metrics: bool = Field(True, description="Print CloudWatch Embedded Metric Format lines to stdout.")
    tracing: Literal["off", "otlp"] | None = Field(
        None, description="OpenTelemetry traces over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (otlp), or none (off); "
        "default: on only when OTEL_TRACES_EXPORTER=otlp. OTEL_SDK_DISABLED=true always turns it off.")
    allow_pickled_weights: bool = Field(
        False, description="Let the PyTorch backend load pickled weights (pytorch_model.bin), which can run code "
        "when loaded; default: safetensors only. The images set it from their ALLOW_PICKLED_WEIGHTS build arg.")

    @property
    def batching(self) -> bool:
        """Dynamic batching: on for the server targets; Lambda runs one request per environment."""
        if self.dynamic_batching is not None:
            return self.dynamic_batching
        return self.platform.lower() != "lambda"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value
