"""The model behind the service: a small backend interface, the tokenizing both backends share,
and the PyTorch backend (the reference; CUDA when a GPU is present).

A backend has two halves so the dynamic batcher can sit between them: ``encode`` (text -> token
ids, truncated at the model's maximum) and ``forward`` (token id lists -> probabilities, padded
only to the longest in the call). ``predict`` is both, for callers that do not batch (Lambda).
The ONNX Runtime backend is ``onnx_backend.OnnxClassifier``; ``backends.load_classifier``
picks one from what ``MODEL_DIR`` holds.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .model_info import read_model_info

CGROUP_ROOT = Path("/sys/fs/cgroup")
#: Texts per forward pass when ``predict`` is called without the batcher (a /predict/batch on Lambda).
DIRECT_MAX_TEXTS = 32
#: Padded tokens per forward pass on that path: past this, CPU matrix products gain nothing.
DIRECT_MAX_TOKENS = 4096


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    truncated: bool


@dataclass(frozen=True)
class Encoding:
    """One text, tokenized: its ids (special tokens included, truncated) and whether it was cut."""

    ids: list[int]
    truncated: bool

    def __len__(self) -> int:
        return len(self.ids)


class Classifier(Protocol):
    """A loaded model. ``predict`` is blocking and thread-safe; callers run it off the event loop."""

    model_version: str
    untrained: bool

    def predict(self, texts: Sequence[str]) -> list[Prediction]: ...


@runtime_checkable
class BatchableClassifier(Protocol):
    """A classifier the dynamic batcher can drive: tokenize and forward are separate steps."""

    model_version: str
    untrained: bool
    backend: str
    max_length: int

    def predict(self, texts: Sequence[str]) -> list[Prediction]: ...

    def encode(self, texts: Sequence[str]) -> list[Encoding]: ...

    def forward(self, batch: Sequence[Sequence[int]]) -> np.ndarray: ...

    def to_predictions(self, probabilities: np.ndarray, encodings: Sequence[Encoding]) -> list[Prediction]: ...


# ---------------------------------------------------------------- CPUs


def available_cpus(cgroup_root: Path = CGROUP_ROOT) -> int:
    """CPUs this process may use: the smaller of its affinity mask and its cgroup CPU quota.

    Containers get a quota (ECS task cpu, Kubernetes limits, ``docker run --cpus``), not fewer
    visible cores: ``os.cpu_count()`` shows the host's. Reads cgroup v2 ``cpu.max`` and cgroup v1
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``; a fractional quota rounds down, to at least 1
    (more threads than the quota only get throttled).
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cgroup_cpu_quota(cgroup_root)
    if quota is not None:
        cpus = min(cpus, max(1, int(quota)))
    return max(1, cpus)


def cgroup_cpu_quota(cgroup_root: Path = CGROUP_ROOT) -> float | None:
    """The cgroup CPU quota in CPUs (1.5 = 150 ms per 100 ms), or None when there is none."""
    try:  # cgroup v2: "max 100000" or "150000 100000"
        quota, period = (cgroup_root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    for folder in ("cpu", "cpu,cpuacct", "cpuacct,cpu", "."):  # cgroup v1: quota -1 means none
        try:
            quota_us = int((cgroup_root / folder / "cpu.cfs_quota_us").read_text())
            period_us = int((cgroup_root / folder / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    return None


# ---------------------------------------------------------------- shared helpers


class TextEncoder:
    """Tokenizes with a ``tokenizers.Tokenizer`` (Rust; no transformers needed), truncating at
    ``max_length``. Never pads: the forward pass pads each batch to its own longest text."""

    def __init__(self, tokenizer: Any, max_length: int, pad_id: int) -> None:
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length)
        # Configured once and never changed again: concurrent encodes are then safe ("Already
        # borrowed" only happens when the settings change while another thread encodes).
        self._tokenizer = tokenizer
        self.max_length = max_length
        self.pad_id = pad_id

    def encode(self, texts: Sequence[str]) -> list[Encoding]:
        if not texts:
            return []
        encoded = self._tokenizer.encode_batch(list(texts))
        # What truncation cut off lands in each encoding's `overflowing`.
        return [Encoding(ids=list(e.ids), truncated=bool(e.overflowing)) for e in encoded]

    def pad(self, batch: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """input_ids and attention_mask (int64, right-padded to the longest in ``batch``)."""
        longest = max(len(ids) for ids in batch)
        input_ids = np.full((len(batch), longest), self.pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(batch), longest), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
        return input_ids, attention_mask


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def labels_from_config(config: dict) -> list[str]:
    id2label = {int(k): str(v) for k, v in (config.get("id2label") or {}).items()}
    count = max(id2label, default=-1) + 1
    return [id2label.get(i, f"LABEL_{i}") for i in range(count)]


def usable_length(*limits: Any) -> int:
    """The smallest real limit (tokenizers report "no limit" as a huge number)."""
    usable = [n for n in limits if isinstance(n, int) and not isinstance(n, bool) and 0 < n < 1_000_000]
    return min(usable) if usable else 512


def length_groups(lengths: Sequence[int], max_texts: int, max_tokens: int) -> list[list[int]]:
    """Indices of ``lengths`` grouped for forward passes: sorted by length so each pass pads
    little, each pass at most ``max_texts`` texts and ``max_tokens`` padded tokens."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    current: list[int] = []
    for index in order:
        # Sorted ascending: the text being added is the longest so far.
        if current and (len(current) >= max_texts or lengths[index] * (len(current) + 1) > max_tokens):
            groups.append(current)
            current = []
        current.append(index)
    if current:
        groups.append(current)
    return groups


class _EncodeForwardClassifier:
    """``predict`` and ``to_predictions`` on top of a subclass's ``encode`` and ``forward``."""

    encoder: TextEncoder
    labels: list[str]

    def encode(self, texts: Sequence[str]) -> list[Encoding]:
        return self.encoder.encode(texts)

    def forward(self, batch: Sequence[Sequence[int]]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_predictions(self, probabilities: np.ndarray, encodings: Sequence[Encoding]) -> list[Prediction]:
        indices = probabilities.argmax(axis=-1)
        return [
            Prediction(label=self.labels[int(index)], confidence=float(row[int(index)]), truncated=encoding.truncated)
            for row, index, encoding in zip(probabilities, indices, encodings, strict=True)
        ]

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        encodings = self.encode(texts)
        probabilities = np.zeros((len(encodings), len(self.labels)))
        for group in length_groups([len(e) for e in encodings], DIRECT_MAX_TEXTS, DIRECT_MAX_TOKENS):
            probabilities[group] = self.forward([encodings[i].ids for i in group])
        return self.to_predictions(probabilities, encodings)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


# ---------------------------------------------------------------- PyTorch


class TransformersClassifier(_EncodeForwardClassifier):
    """A Hugging Face sequence-classification model with PyTorch: CPU, or CUDA when present."""

    backend = "pytorch"

    def __init__(self, model_dir: Path, *, model_version: str | None = None, max_tokens: int | None = None,
                 num_threads: int = 0, device: str = "auto") -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cpu":
            torch.set_num_threads(num_threads or available_cpus())
        self.device = device
        self._torch = torch
        self.model_dir = Path(model_dir)
        tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        # float32: CPU kernels for half precision are slow or missing, and it is the reference.
        self._model = AutoModelForSequenceClassification.from_pretrained(
            self.model_dir, dtype=torch.float32).eval().to(device)
        # Tokenizers may emit inputs the model does not take (DistilBERT has no token_type_ids).
        self._takes_token_types = "token_type_ids" in inspect.signature(self._model.forward).parameters
        config = self._model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        # The usable length is the smaller of what the tokenizer and the position embeddings allow.
        self.max_length = usable_length(getattr(config, "max_position_embeddings", None),
                                        tokenizer.model_max_length, max_tokens)
        from tokenizers import Tokenizer

        # A private copy of the Rust tokenizer: the HF wrapper re-configures its own on every call.
        backend_tokenizer = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.encoder = TextEncoder(backend_tokenizer, self.max_length, pad_id)
        info = read_model_info(self.model_dir, model_version)
        self.model_version = info.model_version
        self.untrained = info.untrained

    def forward(self, batch: Sequence[Sequence[int]]) -> np.ndarray:
        input_ids, attention_mask = self.encoder.pad(batch)
        inputs = {"input_ids": self._torch.from_numpy(input_ids).to(self.device),
                  "attention_mask": self._torch.from_numpy(attention_mask).to(self.device)}
        if self._takes_token_types:
            inputs["token_type_ids"] = self._torch.zeros_like(inputs["input_ids"])
        with self._torch.inference_mode():
            logits = self._model(**inputs).logits.float()
        return softmax(logits.cpu().numpy())
