"""The model behind the service: a small backend interface and its PyTorch implementation.

The API only knows ``Classifier``; a later ONNX backend or a dynamic batcher implements the
same ``predict``.
"""

from __future__ import annotations

import inspect
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .model_info import read_model_info


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    truncated: bool


class Classifier(Protocol):
    """A loaded model. ``predict`` is blocking and thread-safe; callers run it off the event loop."""

    model_version: str
    untrained: bool

    def predict(self, texts: Sequence[str]) -> list[Prediction]: ...


def available_cpus() -> int:
    """CPUs this process may use: the cgroup v2 quota (containers) or the affinity mask."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cpus = min(cpus, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return cpus


class TransformersClassifier:
    """A Hugging Face sequence-classification model on CPU with PyTorch."""

    def __init__(self, model_dir: Path, *, model_version: str | None = None, max_tokens: int | None = None,
                 num_threads: int = 0) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        torch.set_num_threads(num_threads or available_cpus())
        self._torch = torch
        self.model_dir = Path(model_dir)
        self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        # float32: CPU kernels for half precision are slow or missing.
        self._model = AutoModelForSequenceClassification.from_pretrained(self.model_dir, dtype=torch.float32).eval()
        # Tokenizers may emit inputs the model does not take (DistilBERT has no token_type_ids).
        self._input_names = set(inspect.signature(self._model.forward).parameters)
        config = self._model.config
        self._labels = [config.id2label[i] for i in range(config.num_labels)]
        # The usable length is the smaller of what the tokenizer and the position embeddings allow.
        limits = [getattr(config, "max_position_embeddings", None), self._tokenizer.model_max_length, max_tokens]
        self.max_length = min(n for n in limits if isinstance(n, int) and 0 < n < 1_000_000)
        info = read_model_info(self.model_dir, model_version)
        self.model_version = info.model_version
        self.untrained = info.untrained
        # Fast tokenizers fail with "Already borrowed" when called from two threads at once.
        self._tokenizer_lock = threading.Lock()

    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        with self._tokenizer_lock:
            encoded = self._tokenizer(list(texts), truncation=True, max_length=self.max_length, padding=True,
                                      return_tensors="pt")
        # A fast tokenizer keeps what truncation cut off in each encoding's `overflowing`.
        truncated = [bool(encoding.overflowing) for encoding in encoded.encodings]
        inputs = {name: tensor for name, tensor in encoded.items() if name in self._input_names}
        with self._torch.inference_mode():
            probabilities = self._model(**inputs).logits.float().softmax(dim=-1)
        confidences, indices = probabilities.max(dim=-1)
        return [
            Prediction(label=self._labels[index], confidence=float(confidence), truncated=cut)
            for index, confidence, cut in zip(indices.tolist(), confidences.tolist(), truncated, strict=True)
        ]
