"""A tiny, untrained sequence classifier built offline: for tests and ``make serve``.

It has the shape of a real model (DistilBERT config, a WordPiece tokenizer, ``save_pretrained``
files) so the service loads it exactly like a fine-tuned one; its answers mean nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from .model_info import MODEL_INFO_FILE

UNTRAINED_VERSION = "tiny-random-untrained"

_CORPUS = [
    "I loved this movie, the acting was wonderful and the story moving.",
    "What a terrible film: boring, too long and badly written.",
    "The service was fine, nothing special but not bad either.",
    "Absolutely fantastic experience, I would recommend it to everyone!",
    "The product broke after two days; I want my money back.",
    "It is okay. Some parts were great, others were dull.",
    "Best purchase of the year, works exactly as described.",
    "Never again. Rude staff, cold food, and a long wait.",
    "The quick brown fox jumps over the lazy dog 0123456789.",
]
_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_model(
    out_dir: str | Path,
    labels: Sequence[str] = ("NEGATIVE", "POSITIVE"),
    *,
    max_length: int = 64,
    seed: int = 0,
    model_version: str = UNTRAINED_VERSION,
) -> Path:
    """Build a random-weight DistilBERT-style classifier into ``out_dir`` and return the path.

    ``max_length`` is the model's maximum sequence length in tokens (small, so truncation is
    easy to reach). ``seed`` fixes the weights; the trained vocabulary can differ between builds
    (the trainer breaks ties in no fixed order), so compare answers within one build only.
    The directory gets a ``model_info.json`` that marks the model untrained.
    """
    # Imported here: importing the package must not pay for torch.
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import DistilBertConfig, DistilBertForSequenceClassification, PreTrainedTokenizerFast
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    if len(labels) < 2:
        raise ValueError("a classifier needs at least two labels")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))  # nosec B106  # a special token, not a password
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=_SPECIAL_TOKENS, show_progress=False)
    tokenizer.train_from_iterator(_CORPUS, trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",  # nosec B106  # a special token, not a password
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )

    torch.manual_seed(seed)
    config = DistilBertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        max_position_embeddings=max_length,
        dim=32,
        hidden_dim=64,
        n_layers=2,
        n_heads=2,
        # Wider than the default 0.02 so random logits differ visibly between inputs.
        initializer_range=0.5,
        pad_token_id=tokenizer.token_to_id("[PAD]"),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    model = DistilBertForSequenceClassification(config).eval()
    model.save_pretrained(out)
    fast.save_pretrained(out)
    info = {"model_version": model_version, "untrained": True}
    (out / MODEL_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return out
