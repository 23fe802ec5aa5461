"""Which backend serves ``MODEL_DIR``: ONNX Runtime for an exported directory (``model.onnx``),
PyTorch for a Hugging Face ``save_pretrained`` directory. ``BACKEND`` forces one."""

from __future__ import annotations

from pathlib import Path

from .classifier import BatchableClassifier
from .onnx_backend import is_onnx_model_dir
from .settings import Settings


def detect_backend(model_dir: Path) -> str:
    """"onnx" if ``model_dir`` holds an exported ONNX model, else "pytorch"."""
    return "onnx" if is_onnx_model_dir(model_dir) else "pytorch"


def load_classifier(settings: Settings) -> BatchableClassifier:
    backend = settings.backend if settings.backend != "auto" else detect_backend(settings.model_dir)
    if backend == "onnx":
        if not is_onnx_model_dir(settings.model_dir):
            raise ValueError(f"BACKEND=onnx but {settings.model_dir} has no model.onnx: "
                             "export it with `python -m inference.export MODEL_DIR OUT_DIR`")
        from .onnx_backend import OnnxClassifier

        return OnnxClassifier(settings.model_dir, model_version=settings.model_version,
                              max_tokens=settings.max_tokens, num_threads=settings.threads,
                              spinning=settings.ort_spinning)
    # Imported only here: an ONNX image has no torch and no transformers.
    from .classifier import TransformersClassifier

    return TransformersClassifier(settings.model_dir, model_version=settings.model_version,
                                  max_tokens=settings.max_tokens, num_threads=settings.threads,
                                  device=settings.device)
