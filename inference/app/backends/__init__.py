"""The model backends, and which one serves ``MODEL_DIR``.

``base``: the interface (``Classifier``, ``BatchableClassifier``) and the tokenizing all share;
``onnx``: ONNX Runtime, for a directory written by ``python -m inference.export`` (the image's
default); ``pytorch``: PyTorch, for a Hugging Face ``save_pretrained`` directory (the reference).
``load_classifier`` picks by what ``MODEL_DIR`` holds; ``BACKEND`` forces one.
"""

from __future__ import annotations

from pathlib import Path

from ..settings import Settings
from .base import BatchableClassifier, Classifier, Encoding, Prediction
from .onnx import is_onnx_model_dir

__all__ = ["BatchableClassifier", "Classifier", "Encoding", "Prediction", "detect_backend", "load_classifier"]


def detect_backend(model_dir: Path) -> str:
    """"onnx" if ``model_dir`` holds an exported ONNX model, else "pytorch"."""
    return "onnx" if is_onnx_model_dir(model_dir) else "pytorch"


def load_classifier(settings: Settings) -> BatchableClassifier:
    backend = settings.backend if settings.backend != "auto" else detect_backend(settings.model_dir)
    if backend == "onnx":
        if not is_onnx_model_dir(settings.model_dir):
            raise ValueError(f"BACKEND=onnx but {settings.model_dir} has no model.onnx: "
                             "export it with `python -m inference.export MODEL_DIR OUT_DIR`")
        from .onnx import OnnxClassifier

        return OnnxClassifier(settings.model_dir, model_version=settings.model_version,
                              max_tokens=settings.max_tokens, num_threads=settings.num_threads,
                              spinning=settings.ort_spinning)
    # Imported only here: an ONNX image has no torch and no transformers.
    from .pytorch import TransformersClassifier

    return TransformersClassifier(settings.model_dir, model_version=settings.model_version,
                                  max_tokens=settings.max_tokens, num_threads=settings.num_threads,
                                  device=settings.device, allow_pickled_weights=settings.allow_pickled_weights)
