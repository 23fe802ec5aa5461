"""A full-size DistilBERT sentiment classifier with random weights, built offline.

Same shapes and compute as ``distilbert-base-uncased-finetuned-sst-2-english`` (DistilBertConfig
defaults: 6 layers, 768 wide, 12 heads, 30,522-token vocabulary, 512 positions); its answers
mean nothing. The tokenizer is a WordPiece vocabulary of made-up words, so a text of N words
is exactly N + 2 tokens ([CLS] and [SEP]): the benchmark controls token counts precisely.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB_SIZE = 30522
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]  # 70 syllables


def words(count: int = VOCAB_SIZE - len(SPECIAL) - 26) -> list[str]:
    """Made-up lowercase words of 2-3 syllables, each a single token of the vocabulary."""
    made = ("".join(parts) for n in (2, 3) for parts in itertools.product(_SYLLABLES, repeat=n))
    return list(itertools.islice(made, count))


def build_model(out_dir: Path, *, seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import DistilBertConfig, DistilBertForSequenceClassification, PreTrainedTokenizerFast

    out_dir = Path(out_dir)
    if (out_dir / "model_info.json").is_file():
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab_list = SPECIAL + list("abcdefghijklmnopqrstuvwxyz") + words()
    vocab = {token: i for i, token in enumerate(vocab_list)}
    assert len(vocab) == VOCAB_SIZE
    tokenizer = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]", model_max_length=512)
    torch.manual_seed(seed)
    config = DistilBertConfig(vocab_size=VOCAB_SIZE, id2label={0: "NEGATIVE", 1: "POSITIVE"},
                              label2id={"NEGATIVE": 0, "POSITIVE": 1})
    DistilBertForSequenceClassification(config).eval().save_pretrained(out_dir)
    fast.save_pretrained(out_dir)
    info = {"model_version": "distilbert-base-random-bench", "untrained": True}
    (out_dir / "model_info.json").write_text(json.dumps(info, indent=2) + "\n")
    return out_dir


def text_of(tokens: int, rng: random.Random, vocabulary: list[str]) -> str:
    """A text that tokenizes to exactly ``tokens`` tokens ([CLS] and [SEP] included)."""
    return " ".join(rng.choice(vocabulary) for _ in range(max(1, tokens - 2)))
