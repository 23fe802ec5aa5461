"""The PyTorch backend: a Hugging Face ``save_pretrained`` directory, the reference (CUDA when present).

Needs torch and transformers; the image's ONNX serving stages have neither, so nothing imports
this module unless ``MODEL_DIR`` holds a Hugging Face directory (or ``BACKEND=pytorch``).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..model_info import read_model_info, safetensors_only
from .base import EncodeForwardClassifier, TextEncoder, softmax, usable_length
from .cpus import available_cpus


class TransformersClassifier(EncodeForwardClassifier):
    """A Hugging Face sequence-classification model with PyTorch: CPU, or CUDA when present."""

    backend = "pytorch"

    def __init__(self, model_dir: Path, *, model_version: str | None = None, max_tokens: int | None = None,
                 num_threads: int = 0, device: str = "auto", allow_pickled_weights: bool = False) -> None:
        import torch
        from tokenizers import Tokenizer
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
        # model_dir is a local directory (MODEL_DIR): nothing comes from the Hub, no revision applies.
        tokenizer = AutoTokenizer.from_pretrained(self.model_dir)  # nosec B615  # a local directory
        # float32: CPU kernels for half precision are slow or missing, and it is the reference.
        self._model = AutoModelForSequenceClassification.from_pretrained(  # nosec B615  # a local directory
            self.model_dir, dtype=torch.float32, **safetensors_only(self.model_dir, allow_pickled_weights)).eval().to(device)
        # Tokenizers may emit inputs the model does not take (DistilBERT has no token_type_ids).
        self._takes_token_types = "token_type_ids" in inspect.signature(self._model.forward).parameters
        config = self._model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        # The usable length is the smaller of what the tokenizer and the position embeddings allow.
        self.max_length = usable_length(getattr(config, "max_position_embeddings", None),
                                        tokenizer.model_max_length, max_tokens)
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
