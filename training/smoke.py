"""``make train-smoke``: train a tiny model on a tiny generated dataset, offline, then serve one
prediction from it with the inference service's own code.

    python -m training.smoke [--keep DIR]

Everything happens in a temporary folder (or ``--keep DIR``): a tiny random DistilBERT-style
base model (``inference.app.dev_model.build_tiny_model``), generated CSV/JSONL reviews, a run
of ``training/train.py`` (in-process, through its command line), and a FastAPI ``TestClient``
on ``inference.app.main.create_app`` with ``MODEL_DIR`` pointing at the result.
Nothing is downloaded. Takes well under a minute on 2 CPUs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_POSITIVE = ["loved", "great", "wonderful", "excellent", "fantastic", "brilliant", "superb", "enjoyable", "best"]
_NEGATIVE = ["hated", "terrible", "awful", "boring", "dreadful", "poor", "worst", "dull", "broken"]
_SUBJECTS = ["movie", "film", "story", "acting", "ending", "product", "service", "food", "staff", "book"]
_FILLERS = ["honestly", "really", "the", "was", "it", "this", "overall", "and", "quite", "so", "i", "a", "what", "is"]
SMOKE_TEXT = "I loved this movie, the acting was wonderful!"


def generate_reviews(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` short reviews, half positive (label 1) and half negative (label 0), shuffled."""
    rng = random.Random(seed)  # nosec B311  # made-up reviews, not secrets
    rows = []
    for i in range(n):
        label = i % 2
        words = rng.sample(_POSITIVE if label else _NEGATIVE, rng.randint(1, 2))
        words += rng.sample(_SUBJECTS, rng.randint(1, 2)) + rng.sample(_FILLERS, rng.randint(1, 5))
        rng.shuffle(words)
        rows.append({"text": " ".join(words).capitalize() + rng.choice([".", "!", "", ", really."]), "label": label})
    rng.shuffle(rows)
    return rows


def build_tiny_base_model(out_dir: Path, *, max_length: int = 64, seed: int = 0) -> Path:
    """A tiny random DistilBERT-style base model, the service's own test model with fresh weights.

    ``inference.app.dev_model.build_tiny_model`` gives the tokenizer and the file layout; its
    weights are drawn deliberately wide (initializer_range 0.5, so random answers vary) and do
    not learn: 100 steps on the smoke data end near 56% accuracy. Redrawn at the usual 0.02 they
    reach 100% in the same steps.
    """
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from inference.app.dev_model import build_tiny_model

    build_tiny_model(out_dir, max_length=max_length, seed=seed, model_version="train-smoke-base")
    config = AutoConfig.from_pretrained(out_dir)  # nosec B615  # the local directory just built
    config.initializer_range = 0.02
    torch.manual_seed(seed)
    AutoModelForSequenceClassification.from_config(config).save_pretrained(out_dir)
    return out_dir


def write_dataset(folder: Path, *, train_rows: int = 256, eval_rows: int = 64, seed: int = 0) -> tuple[Path, Path]:
    """A CSV training file and a JSON Lines evaluation file (both formats the trainer reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    train_file, eval_file = folder / "train.csv", folder / "test.jsonl"
    with train_file.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(generate_reviews(train_rows, seed))
    eval_file.write_text("".join(json.dumps(row) + "\n" for row in generate_reviews(eval_rows, seed + 1)))
    return train_file, eval_file


@dataclass(frozen=True)
class SmokeResult:
    model_dir: Path
    metrics: dict[str, Any]
    prediction: dict[str, Any]
    seconds: float


def smoke_args(base_dir: Path, train_file: Path, eval_file: Path, output_dir: Path, *, max_steps: int) -> list[str]:
    return [
        "--model-name-or-path", str(base_dir),
        "--train-file", str(train_file),
        "--eval-file", str(eval_file),
        "--output-dir", str(output_dir),
        "--max-steps", str(max_steps),
        "--batch-size", "16",
        "--learning-rate", "3e-3",
        "--max-length", "32",
        "--seed", "0",
        "--device", "cpu",
        "--logging-steps", "20",
    ]


def run_smoke(work_dir: Path, *, max_steps: int = 100) -> SmokeResult:
    """Build, train, evaluate, then load the result with the inference service and predict once."""
    import torch
    from fastapi.testclient import TestClient

    from inference.app.main import create_app
    from inference.app.settings import Settings

    from .train import main as train_main

    started = time.perf_counter()
    train_file, eval_file = write_dataset(work_dir / "data")
    base_dir = build_tiny_base_model(work_dir / "base-model")
    model_dir = work_dir / "model"
    # One thread: the matrices are 32 wide, and two threads on a busy 2-CPU machine spent 0.07-0.13 s
    # a step waiting on each other instead of 0.007.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        metrics = train_main(smoke_args(base_dir, train_file, eval_file, model_dir, max_steps=max_steps),
                             environ={}, hyperparameters_file=work_dir / "no-hyperparameters.json")
    finally:
        torch.set_num_threads(threads)

    # Exactly what the service does with MODEL_DIR in a container.
    app = create_app(Settings(model_dir=model_dir, platform="train-smoke", emf_metrics=False), load_on_startup=False)
    app.state.service.load()
    with TestClient(app) as client:
        response = client.post("/predict", json={"text": SMOKE_TEXT})
    response.raise_for_status()
    return SmokeResult(model_dir, metrics, response.json(), time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    parser.add_argument("--max-steps", type=int, default=100, help="training steps")
    args = parser.parse_args(argv)
    # Offline by design: fail at once instead of waiting on a network that is not there.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if args.keep:
        result = run_smoke(args.keep, max_steps=args.max_steps)
    else:
        with tempfile.TemporaryDirectory(prefix="train-smoke-") as work:
            result = run_smoke(Path(work), max_steps=args.max_steps)
    m = result.metrics
    print(f"train-smoke: {m['train_steps']} steps in {m['train_seconds']:.1f} s ({m['seconds_per_step']} s/step), "
          f"eval accuracy {m['accuracy']:.3f}, F1 {m['f1']:.3f}")
    print(f"train-smoke: POST /predict {json.dumps({'text': SMOKE_TEXT})} -> {json.dumps(result.prediction)}")
    print(f"train-smoke: ok in {result.seconds:.1f} s" + (f"; model kept in {result.model_dir}" if args.keep else ""))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
