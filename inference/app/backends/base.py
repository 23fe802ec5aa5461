"""What every backend shares: the interface the service and the batcher use, and the tokenizing.

A backend has two halves so the dynamic batcher can sit between them: ``encode`` (text -> token
ids, truncated at the model's maximum) and ``forward`` (token id lists -> probabilities, padded
only to the longest in the call). ``predict`` is both, for callers that do not batch (Lambda).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

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


class EncodeForwardClassifier:
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


