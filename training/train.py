"""Fine-tune a sequence classifier for binary sentiment with the Hugging Face Trainer.

Run it locally::

    python training/train.py --output-dir model/                       # IMDb, distilbert-base-uncased
    python training/train.py --train-file reviews.csv --output-dir model/

or unchanged as a SageMaker training job (script mode): it reads SM_CHANNEL_TRAIN,
SM_CHANNEL_EVAL (or SM_CHANNEL_TEST), SM_MODEL_DIR, SM_OUTPUT_DATA_DIR and the job's
hyperparameters, which SageMaker passes on the command line (``--epochs 3 --learning_rate 5e-5``)
and as JSON in SM_HPS (or, without SM_HPS, ``/opt/ml/input/config/hyperparameters.json``).
Priority, lowest first: defaults, SM_* environment variables, SM_HPS / hyperparameters.json,
command line (``train_args.py``).

Data: a Hugging Face dataset (``--dataset``, default IMDb) or local CSV / JSON Lines files
with a ``text`` column and a ``label`` column of 0 (NEGATIVE) or 1 (POSITIVE) (other names:
``--text-column``, ``--label-column``). Everything is loaded and checked before the model is
(``train_data.py``): bad input stops with one line on stderr and exit code 2.

Output: ``--output-dir`` is a model directory the inference service and ``ModelImage`` take
as is (config with id2label, safetensors weights, tokenizer, ``model_info.json``,
``training_info.json``; with ``--export-onnx`` also ``model.onnx``); ``metrics.json`` (accuracy
and F1 on the evaluation split) goes to ``--output-data-dir`` (default: the model directory).
``--checkpoint-dir`` saves checkpoints there and resumes from the newest one.

This folder imports nothing from the rest of the repository (``--export-onnx`` excepted, which
needs the inference package the training image carries), so SageMaker runs it as
``python train.py`` from a copy of the folder.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

try:  # imported as the training package (tests, make train-smoke)
    from .train_args import DEFAULT_DATASET, DEFAULT_MODEL, DEFAULT_MODEL_REVISION, METRICS_FILE, InputError, parse_args
    from .train_data import Columns, Data, Split, load_data
except ImportError:  # run as a script from a copy of this folder (SageMaker script mode)
    from train_args import (  # type: ignore[no-redef]
        DEFAULT_DATASET, DEFAULT_MODEL, DEFAULT_MODEL_REVISION, METRICS_FILE, InputError, parse_args)
    from train_data import Columns, Data, Split, load_data  # type: ignore[no-redef]

LABELS = ("NEGATIVE", "POSITIVE")
MODEL_INFO_FILE = "model_info.json"  # read by the inference service (inference/app/model_info.py)
TRAINING_INFO_FILE = "training_info.json"
#: What --export-onnx adds to the model directory (the inference service serves model.onnx when present).
ONNX_FILES = ("model.onnx", "onnx_export.json")

logger = logging.getLogger("training")


# ---------------------------------------------------------------- metrics


def binary_metrics(predictions: Sequence[int], labels: Sequence[int]) -> dict[str, float]:
    """Accuracy, and precision, recall and F1 of the POSITIVE class (1)."""
    pairs = list(zip(predictions, labels, strict=True))
    tp = sum(1 for p, y in pairs if p == 1 and y == 1)
    fp = sum(1 for p, y in pairs if p == 1 and y == 0)
    fn = sum(1 for p, y in pairs if p == 0 and y == 1)
    correct = sum(1 for p, y in pairs if p == y)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": correct / len(pairs) if pairs else 0.0, "f1": f1, "precision": precision, "recall": recall}


def _compute_metrics(eval_prediction: Any) -> dict[str, float]:
    import numpy as np

    logits = eval_prediction.predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    predictions = np.asarray(logits).argmax(axis=-1).tolist()
    return binary_metrics(predictions, np.asarray(eval_prediction.label_ids).tolist())


# ---------------------------------------------------------------- training


class _Encoded:
    """Tokenized texts as a map-style torch dataset; DataCollatorWithPadding pads each batch."""

    def __init__(self, encodings: dict[str, list], labels: list[int], input_names: set[str]) -> None:
        self._columns = {k: v for k, v in encodings.items() if k in input_names}
        self._labels = labels

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = {name: values[index] for name, values in self._columns.items()}
        item["labels"] = self._labels[index]
        return item


def _resolve_device(args: argparse.Namespace) -> tuple[bool, bool, bool, str]:
    """(use_cpu, fp16, bf16, description), or InputError for a combination this machine cannot run."""
    import torch

    cuda = torch.cuda.is_available()
    if args.device == "cuda" and not cuda:
        raise InputError("--device cuda: no CUDA GPU is visible to PyTorch on this machine (use --device cpu)")
    use_cpu = args.device == "cpu" or not cuda
    precision = args.precision
    if precision == "auto":
        precision = "fp32" if use_cpu else ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    if precision == "fp16" and use_cpu:
        raise InputError("--precision fp16 needs a CUDA GPU; use fp32 or bf16 on CPU")
    device = "cpu" if use_cpu else f"cuda ({torch.cuda.get_device_name(0)})"
    return use_cpu, precision == "fp16", precision == "bf16", f"{device}, {precision}"


def _check_output_dir(args: argparse.Namespace) -> Path:
    output_dir = Path(args.output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise InputError(f"--output-dir {output_dir} is a file; pass a directory")
    if output_dir.is_dir() and any(output_dir.iterdir()) and not args.overwrite_output_dir:
        raise InputError(f"--output-dir {output_dir} is not empty; pass an empty or new directory "
                         "(or --overwrite-output-dir)")
    return output_dir


def _check_base(args: argparse.Namespace) -> None:
    """A local base model must be a save_pretrained directory (checked before the data loads)."""
    source = args.model_name_or_path
    local = Path(source)
    if local.is_dir() and not (local / "config.json").is_file():
        raise InputError(f"--model-name-or-path {source} has no config.json; pass a save_pretrained directory "
                         "or a Hugging Face model id")
    if not local.exists() and (source.startswith((".", "/", "~")) or source.count("/") > 1):
        raise InputError(f"--model-name-or-path {source} does not exist")
    if local.is_dir() and not args.allow_pickled_weights and not any(local.glob("*.safetensors")):
        raise InputError(f"--model-name-or-path {source} has no safetensors weights: pickled weights "
                         "(pytorch_model.bin) can run code when loaded; pass --allow-pickled-weights to load them")
    if not local.exists() and args.model_revision is None:
        if source != DEFAULT_MODEL:
            raise InputError(f"--model-name-or-path {source} is a Hub id: pass --model-revision, the commit sha to "
                             "fine-tune, so that every run starts from the same weights")
        args.model_revision = DEFAULT_MODEL_REVISION


def _load_base(args: argparse.Namespace) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = args.model_name_or_path
    local = Path(source)
    # A Hub base at its pinned commit (_check_base set it); safetensors only unless pickled weights are allowed.
    revision = None if local.exists() else args.model_revision
    weights = {} if args.allow_pickled_weights else {"use_safetensors": True}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, revision=revision)
        model = AutoModelForSequenceClassification.from_pretrained(
            source,
            revision=revision,
            **weights,
            num_labels=len(LABELS),
            id2label=dict(enumerate(LABELS)),
            label2id={label: i for i, label in enumerate(LABELS)},
            # A base that already has a classifier head of another size gets a new head.
            ignore_mismatched_sizes=True,
        )
    except (OSError, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        where = "" if local.exists() else " (a Hub id needs internet access)"
        raise InputError(f"cannot load the base model {source}{where}: {message}") from None
    if tokenizer.pad_token is None:
        # GPT-style tokenizers have no padding token; batches need one.
        if tokenizer.eos_token is None:
            raise InputError(f"the tokenizer of {source} has no padding and no end-of-text token")
        tokenizer.pad_token = tokenizer.eos_token
        model.config.pad_token_id = tokenizer.pad_token_id
    return tokenizer, model


def _max_length(args: argparse.Namespace, tokenizer: Any, model: Any) -> int:
    limits = [args.max_length, getattr(model.config, "max_position_embeddings", None), tokenizer.model_max_length]
    return min(n for n in limits if isinstance(n, int) and 0 < n < 1_000_000)


def _weights_hash(model_dir: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(model_dir.glob("*.safetensors")):
        with file.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:12]


def _short_name(source: str) -> str:
    return Path(source.rstrip("/")).name or "model"


def _last_checkpoint(checkpoints: Path | None) -> str | None:
    """The newest Trainer checkpoint in ``checkpoints`` (what a restarted Spot job resumes from), or None."""
    if checkpoints is None or not checkpoints.is_dir():
        return None
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(checkpoints))


def _onnx_exporter() -> Any:
    """inference.export.export, or InputError before any training when it cannot be imported."""
    try:
        from inference.export import export
    except ImportError as error:
        raise InputError(f"--export-onnx needs the inference package and onnxruntime ({error}): run from the "
                         "repository root or in the training image") from None
    return export


def _export_onnx(model_dir: Path) -> None:
    """Add the ONNX model the server image serves (model.onnx) beside the weights, so one directory
    serves on SageMaker (ModelData) and bakes into the images (ModelImage(model_directory=...))."""
    export = _onnx_exporter()
    with tempfile.TemporaryDirectory(prefix="onnx-") as work:
        exported = Path(work) / "onnx"
        export(model_dir, exported, samples=16, log=lambda message: logger.info("onnx: %s", message))
        for name in ONNX_FILES:
            shutil.copyfile(exported / name, model_dir / name)


def _make_readable(model_dir: Path) -> None:
    """safetensors writes its files 0600; the images copy the folder as is and serve as a non-root user."""
    for path in [model_dir, *model_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Check the inputs, fine-tune, evaluate and save. Returns the metrics written to metrics.json."""
    started_at = datetime.now(timezone.utc)
    output_dir = _check_output_dir(args)
    _check_base(args)
    if args.export_onnx:
        _onnx_exporter()
    data = load_data(args)
    logger.info("data: %s: %d training, %d evaluation rows", data.description, len(data.train), len(data.eval))
    use_cpu, fp16, bf16, device = _resolve_device(args)

    import torch
    import transformers
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments, set_seed
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    set_seed(args.seed)  # before the model: the new classifier head is drawn from it
    tokenizer, model = _load_base(args)
    max_length = _max_length(args, tokenizer, model)
    input_names = set(inspect.signature(model.forward).parameters)

    def encode(split: Split) -> _Encoded:
        encodings = tokenizer(split.texts, truncation=True, max_length=max_length)
        return _Encoded(dict(encodings), split.labels, input_names)

    train_dataset, eval_dataset = encode(data.train), encode(data.eval)
    logger.info("base model %s, max length %d tokens, device %s", args.model_name_or_path, max_length, device)

    checkpoints = Path(args.checkpoint_dir) if args.checkpoint_dir else None
    with tempfile.TemporaryDirectory(prefix="trainer-") as scratch:
        # The Trainer's own folder is scratch, or the checkpoint folder: nothing but the final
        # model reaches the model directory (it is baked into the image as is).
        training_args = TrainingArguments(
            output_dir=str(checkpoints) if checkpoints else scratch,
            num_train_epochs=args.epochs,
            max_steps=args.max_steps,
            per_device_train_batch_size=args.batch_size,
            per_device_eval_batch_size=args.eval_batch_size or 2 * args.batch_size,
            learning_rate=args.learning_rate,
            weight_decay=args.weight_decay,
            warmup_steps=args.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of the steps
            seed=args.seed,
            use_cpu=use_cpu,
            fp16=fp16,
            bf16=bf16,
            eval_strategy="no",
            save_strategy="steps" if checkpoints else "no",
            save_steps=args.save_steps,
            save_total_limit=1,
            logging_strategy="steps",
            logging_steps=args.logging_steps,
            report_to="none",
            disable_tqdm=True,
            dataloader_pin_memory=not use_cpu,
        )
        trainer = Trainer(
            model=model,
            args=training_args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=tokenizer,
            data_collator=DataCollatorWithPadding(tokenizer),
            compute_metrics=_compute_metrics,
        )
        resume = _last_checkpoint(checkpoints)
        if resume:
            logger.info("resuming from %s", resume)
        train_output = trainer.train(resume_from_checkpoint=resume)
        evaluation = trainer.evaluate()

    steps = int(train_output.global_step)
    train_seconds = float(train_output.metrics.get("train_runtime", 0.0))
    metrics = {
        "accuracy": evaluation["eval_accuracy"],
        "f1": evaluation["eval_f1"],
        "precision": evaluation["eval_precision"],
        "recall": evaluation["eval_recall"],
        "eval_loss": evaluation["eval_loss"],
        "eval_samples": len(data.eval),
        "train_samples": len(data.train),
        "train_loss": float(train_output.training_loss),
        "train_steps": steps,
        "epochs": round(float(train_output.metrics.get("epoch", 0.0) or 0.0), 4),
        "train_seconds": round(train_seconds, 3),
        "seconds_per_step": round(train_seconds / steps, 4) if steps else None,
        "device": device,
    }
    # One parseable line for the log (and SageMaker metric_definitions): see training/README.md.
    logger.info("metrics: accuracy=%.4f f1=%.4f precision=%.4f recall=%.4f eval_loss=%.4f "
                "train_steps=%d seconds_per_step=%s", metrics["accuracy"], metrics["f1"], metrics["precision"],
                metrics["recall"], metrics["eval_loss"], steps, metrics["seconds_per_step"])

    output_dir.mkdir(parents=True, exist_ok=True)
    model = trainer.model
    model.config.id2label = dict(enumerate(LABELS))
    model.config.label2id = {label: i for i, label in enumerate(LABELS)}
    model.save_pretrained(output_dir)  # safetensors
    tokenizer.save_pretrained(output_dir)
    dataset_name = _short_name(args.train_file if args.train_file else args.dataset or DEFAULT_DATASET)
    dataset_name = Path(dataset_name).stem or "data"
    version = args.model_version or (
        f"{_short_name(args.model_name_or_path)}-finetuned-{dataset_name}@{_weights_hash(output_dir)}")
    _write_json(output_dir / MODEL_INFO_FILE, {"model_version": version, "untrained": False})
    hyperparameters = {key: getattr(args, key) for key in (
        "epochs", "max_steps", "batch_size", "learning_rate", "weight_decay", "warmup_ratio", "max_length", "seed",
        "precision", "max_train_samples", "max_eval_samples")}
    hyperparameters["max_length_used"] = max_length
    info = {
        "model_version": version,
        "base_model": args.model_name_or_path,
        "data": data.details,
        "labels": dict(enumerate(LABELS)),
        "hyperparameters": hyperparameters,
        "metrics": metrics,
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                     "transformers": transformers.__version__},
    }
    _write_json(output_dir / TRAINING_INFO_FILE, info)
    metrics_dir = Path(args.output_data_dir) if args.output_data_dir else output_dir
    _write_json(metrics_dir / METRICS_FILE, {"model_version": version, **metrics})
    if args.export_onnx:
        _export_onnx(output_dir)
    _make_readable(output_dir)
    logger.info("saved model %s to %s, metrics to %s", version, output_dir, metrics_dir / METRICS_FILE)
    return {"model_version": version, **metrics}


class _StdoutHandler(logging.Handler):
    """Writes to whatever sys.stdout is at the time (tests and callers may swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:  # noqa: BLE001 (logging must never break training)
            self.handleError(record)


def _configure_logging() -> None:
    # Our logger only: configuring the root logger would also print other libraries' records twice.
    if not any(isinstance(h, _StdoutHandler) for h in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None,
         hyperparameters_file: Path | None = None) -> dict[str, Any]:
    """The command line. Bad input: one line on stderr and ``SystemExit(2)``, before any training."""
    _configure_logging()
    try:
        args = parse_args(argv, environ, hyperparameters_file)
        started = time.perf_counter()
        result = train(args)
    except InputError as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    logger.info("done in %.1f s", time.perf_counter() - started)
    return result


__all__ = ["Columns", "Data", "InputError", "LABELS", "Split", "binary_metrics", "load_data", "main", "parse_args", "train"]

if __name__ == "__main__":
    main()
