"""Fine-tune a sequence classifier for binary sentiment with the Hugging Face Trainer.

Run it locally::

    python training/train.py --output-dir model/                       # IMDb, distilbert-base-uncased
    python training/train.py --train-file reviews.csv --output-dir model/

or unchanged as a SageMaker training job (script mode): it reads SM_CHANNEL_TRAIN,
SM_CHANNEL_TEST, SM_MODEL_DIR, SM_OUTPUT_DATA_DIR and the job's hyperparameters, which
SageMaker passes on the command line (``--epochs 3 --learning_rate 5e-5``) and as JSON in
SM_HPS (or, without SM_HPS, ``/opt/ml/input/config/hyperparameters.json``). Priority, lowest
first: defaults, SM_* environment variables, SM_HPS / hyperparameters.json, command line.

Data: a Hugging Face dataset (``--dataset``, default IMDb) or local CSV / JSON Lines files
with a ``text`` column and a ``label`` column of 0 (NEGATIVE) or 1 (POSITIVE) (other names:
``--text-column``, ``--label-column``). Everything is loaded and checked before the model is:
bad input stops with one line on stderr and exit code 2.

Output: ``--output-dir`` is a model directory the inference service and ``ModelImage`` take
as is (config with id2label, safetensors weights, tokenizer, ``model_info.json``,
``training_info.json``); ``metrics.json`` (accuracy and F1 on the evaluation split) goes to
``--output-data-dir`` (default: the model directory).

This file is self-contained (no imports from the rest of the repository) so SageMaker can run
it as ``python train.py`` from a copy of this folder.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import inspect
import json
import logging
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

LABELS = ("NEGATIVE", "POSITIVE")
DEFAULT_MODEL = "distilbert-base-uncased"
DEFAULT_DATASET = "stanfordnlp/imdb"
DATA_SUFFIXES = (".csv", ".jsonl", ".json")
HYPERPARAMETERS_FILE = Path("/opt/ml/input/config/hyperparameters.json")
MODEL_INFO_FILE = "model_info.json"  # read by the inference service (inference/app/model_info.py)
TRAINING_INFO_FILE = "training_info.json"
METRICS_FILE = "metrics.json"

logger = logging.getLogger("training")


class InputError(Exception):
    """Bad input found before training: the message says what to fix, on one line."""


# ---------------------------------------------------------------- arguments


def _bool(value: str | bool) -> bool:
    """SageMaker passes booleans as text (``--overwrite-output-dir True``)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "on"):
        return True
    if text in ("0", "false", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0 or not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return number


def _fraction(value: str) -> float:
    number = float(value)
    if not 0 < number < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return number


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    """The command line. Defaults that SageMaker sets come from ``environ``."""
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Fine-tune a binary sentiment classifier (labels 0=NEGATIVE, 1=POSITIVE) with the Hugging Face Trainer.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        # A misspelt hyperparameter must fail, not match the first option it abbreviates.
        allow_abbrev=False,
    )

    group = parser.add_argument_group("model")

    def add(*names: str, **kwargs: Any) -> None:
        # SageMaker users write hyperparameters either way: learning-rate or learning_rate.
        aliases = ["--" + n[2:].replace("-", "_") for n in names if "-" in n[2:]]
        group.add_argument(*names, *aliases, **kwargs)

    add("--model-name-or-path", "--model-name", dest="model_name_or_path", default=DEFAULT_MODEL,
        help="base model: a Hugging Face Hub id (needs internet) or a local save_pretrained directory")
    add("--max-length", type=_positive_int, default=512,
        help="tokens per text; longer texts are truncated (capped at the model's maximum)")
    add("--model-version", default=None,
        help="version the inference service reports (default: <base>-finetuned-<data>@<hash of the weights>)")

    group = parser.add_argument_group("data (a Hub dataset, or local files with columns text and label)")
    add("--dataset", default=None,
        help=f"Hugging Face dataset name (needs internet); the default ({DEFAULT_DATASET}) applies "
             "when no --train-file and no SM_CHANNEL_TRAIN")
    add("--dataset-config", default=None, help="the dataset's configuration name, if it has several")
    add("--train-split", default="train", help="the dataset's training split")
    add("--eval-split", default="test", help="the dataset's evaluation split")
    add("--train-file", "--train", dest="train_file", default=None,
        help="a .csv, .jsonl or .json file, or a folder of them (default: env SM_CHANNEL_TRAIN, "
             "unless --dataset is given)")
    add("--eval-file", "--test-file", "--test", dest="eval_file", default=None,
        help="evaluation file or folder (default: env SM_CHANNEL_TEST); without one, --eval-fraction of "
             "the training files is held out")
    add("--eval-fraction", type=_fraction, default=0.1,
        help="share of the training files held out for evaluation when there is no --eval-file")
    add("--max-train-samples", type=_positive_int, default=None, help="use a random subset of the training data")
    add("--max-eval-samples", type=_positive_int, default=None, help="use a random subset of the evaluation data")
    add("--text-column", default="text", help="the column that holds the text")
    add("--label-column", default="label", help="the column that holds the label: 0 (NEGATIVE) or 1 (POSITIVE)")

    group = parser.add_argument_group("training")
    add("--epochs", "--num-train-epochs", dest="epochs", type=_positive_float, default=2.0, help="passes over the data")
    add("--max-steps", type=int, default=-1, help="stop after this many optimizer steps (overrides --epochs if > 0)")
    add("--batch-size", "--per-device-train-batch-size", dest="batch_size", type=_positive_int, default=16,
        help="training batch size per device")
    add("--eval-batch-size", type=_positive_int, default=None, help="evaluation batch size (default: 2 x --batch-size)")
    add("--learning-rate", "--lr", dest="learning_rate", type=_positive_float, default=2e-5, help="peak learning rate")
    add("--weight-decay", type=float, default=0.01, help="AdamW weight decay")
    add("--warmup-ratio", type=float, default=0.0, help="share of the steps spent warming up the learning rate")
    add("--seed", type=int, default=42, help="seed for the data split, the classifier head and shuffling")
    add("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: a GPU if there is one")
    add("--precision", choices=("auto", "fp32", "fp16", "bf16"), default="auto",
        help="auto: bf16 (or fp16) mixed precision on a GPU, fp32 on CPU")
    add("--logging-steps", type=_positive_int, default=50, help="log the training loss every N steps")

    group = parser.add_argument_group("output")
    add("--output-dir", "--model-dir", dest="output_dir", default=environ.get("SM_MODEL_DIR") or None,
        help="where the model directory is written (env SM_MODEL_DIR); required outside SageMaker")
    add("--output-data-dir", default=environ.get("SM_OUTPUT_DATA_DIR") or None,
        help=f"where {METRICS_FILE} is written (env SM_OUTPUT_DATA_DIR; default: the model directory)")
    add("--overwrite-output-dir", type=_bool, nargs="?", const=True, default=False,
        help="write into a non-empty output directory")
    return parser


def hyperparameters_argv(text: str, source: str) -> list[str]:
    """SageMaker hyperparameters (a JSON object) as command-line arguments (``--key value``).

    SM_HPS holds typed values (``{"epochs": 3}``); ``hyperparameters.json`` holds strings that the
    SageMaker Python SDK JSON-encoded first (``{"epochs": "3", "model": "\\"name\\""}``): both
    read the same. SageMaker's own keys (``sagemaker_*``) and nulls are skipped.
    """
    try:
        hyperparameters = json.loads(text)
    except ValueError as error:
        raise InputError(f"{source} is not valid JSON: {error}") from None
    if not isinstance(hyperparameters, dict):
        raise InputError(f"{source} must hold a JSON object of hyperparameters")
    argv: list[str] = []
    for key, value in hyperparameters.items():
        if key.startswith("sagemaker_"):
            continue
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        argv += [f"--{key}", str(value)]
    return argv


def read_hyperparameters(environ: Mapping[str, str], path: Path) -> tuple[list[str], str]:
    """The job's hyperparameters as arguments, and where they came from: SM_HPS, else ``path``."""
    if environ.get("SM_HPS"):
        return hyperparameters_argv(environ["SM_HPS"], "SM_HPS"), "SM_HPS"
    if not path.is_file():
        return [], str(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    return hyperparameters_argv(text, str(path)), str(path)


def parse_args(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None,
               hyperparameters_file: Path | None = None) -> argparse.Namespace:
    """Arguments from, lowest priority first: defaults, SM_* env vars, SM_HPS (or hyperparameters.json), ``argv``."""
    environ = os.environ if environ is None else environ
    argv = list(sys.argv[1:] if argv is None else argv)
    if hyperparameters_file is None:
        config_dir = environ.get("SM_INPUT_CONFIG_DIR")
        hyperparameters_file = Path(config_dir) / "hyperparameters.json" if config_dir else HYPERPARAMETERS_FILE
    parser = build_parser(environ)
    file_argv, source = read_hyperparameters(environ, hyperparameters_file)
    if file_argv:
        _, unknown = parser.parse_known_args(file_argv)
        if unknown:
            raise InputError(f"{source}: unknown hyperparameters {' '.join(unknown)}; "
                             "see python train.py --help")
    # Later arguments win in argparse: the command line overrides SM_HPS and the file.
    args = parser.parse_args(file_argv + argv)
    # The channels are defaults: an explicit --dataset wins over SM_CHANNEL_TRAIN.
    if args.train_file is None and args.dataset is None:
        args.train_file = environ.get("SM_CHANNEL_TRAIN") or None
    if args.eval_file is None and args.train_file is not None:
        args.eval_file = environ.get("SM_CHANNEL_TEST") or None
    if args.output_dir is None:
        parser.error("--output-dir is required (where the trained model directory is written)")
    if args.train_file and args.dataset:
        parser.error("give either --dataset (a Hugging Face dataset) or --train-file (local files), not both")
    if args.eval_file and not args.train_file:
        parser.error("--eval-file needs --train-file (a Hugging Face dataset is evaluated on --eval-split)")
    if not 0 <= args.warmup_ratio < 1:
        parser.error("--warmup-ratio must be in [0, 1)")
    if args.max_steps == 0 or args.max_steps < -1:
        parser.error("--max-steps must be a positive number of steps (or -1 to train for --epochs)")
    return args


# ---------------------------------------------------------------- data


@dataclass
class Split:
    """Texts and 0/1 labels, and where they came from (for messages and training_info.json)."""

    texts: list[str]
    labels: list[int]
    source: str

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Iterable[int], source: str) -> Split:
        indices = list(indices)
        return Split([self.texts[i] for i in indices], [self.labels[i] for i in indices], source)


@dataclass
class Data:
    train: Split
    eval: Split
    description: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Columns:
    """The names of the text and label columns (``--text-column``, ``--label-column``)."""

    text: str = "text"
    label: str = "label"

    def check(self, source: str, found: Iterable[Any] | None) -> None:
        found = [str(name) for name in (found or []) if name is not None]
        missing = [name for name in (self.text, self.label) if name not in found]
        if missing:
            raise InputError(f"{source} has no {' or '.join(repr(m) for m in missing)} column "
                             f"(found: {', '.join(found) or 'none'}); the data needs columns "
                             f"{self.text!r} (the text) and {self.label!r} (0 or 1); other names: "
                             "--text-column, --label-column")


class _RowChecker:
    """Collects every bad row of one source and reports the first few in one line."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.texts: list[str] = []
        self.labels: list[int] = []
        self.bad_labels: list[str] = []
        self.bad_texts: list[str] = []

    def add(self, where: str, text: Any, label: Any) -> None:
        label_value = _label(label)
        if label_value is None:
            self.bad_labels.append(f"{where}: {label!r}"[:80])
        if not isinstance(text, str) or not text.strip():
            self.bad_texts.append(f"{where}: {text!r}"[:80])
        if label_value is not None and isinstance(text, str) and text.strip():
            self.texts.append(text)
            self.labels.append(label_value)

    def result(self) -> Split:
        if self.bad_labels:
            raise InputError(f"{self.source}: {len(self.bad_labels)} label(s) outside {{0, 1}} "
                             f"({_first(self.bad_labels)}); labels must be 0 (NEGATIVE) or 1 (POSITIVE)")
        if self.bad_texts:
            raise InputError(f"{self.source}: {len(self.bad_texts)} text(s) empty or not a string "
                             f"({_first(self.bad_texts)}); every row needs a non-empty text")
        if not self.texts:
            raise InputError(f"{self.source} is empty: it needs at least one row with a text and a label")
        return Split(self.texts, self.labels, self.source)


def _first(items: list[str], n: int = 3) -> str:
    return "; ".join(items[:n]) + ("; ..." if len(items) > n else "")


def _label(value: Any) -> int | None:
    """0 or 1 from an int or its text ("0", " 1 "); anything else (2, -1, "pos", True, 1.5) is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in (0, 1) else None
    if isinstance(value, float):
        return int(value) if value in (0.0, 1.0) else None
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return int(value.strip())
    return None


def data_files(path_text: str, what: str) -> list[Path]:
    """The data files at ``path_text``: the file itself, or every .csv/.jsonl/.json in a folder."""
    path = Path(path_text)
    if not path.exists():
        raise InputError(f"{what} {path} does not exist; pass a .csv, .jsonl or .json file or a folder of them")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise InputError(f"{what} folder {path} holds no .csv, .jsonl or .json files")
        return files
    if path.suffix.lower() not in DATA_SUFFIXES:
        raise InputError(f"{what} {path} is not a .csv, .jsonl or .json file")
    return [path]


def read_file(path: Path, columns: Columns = Columns()) -> Split:
    """A CSV (header row) or JSON Lines / JSON array file with a text and a label column."""
    checker = _RowChecker(str(path))
    try:
        if path.suffix.lower() == ".csv":
            _read_csv(path, columns, checker)
        else:
            _read_json(path, columns, checker)
    except UnicodeDecodeError as error:
        raise InputError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    return checker.result()


def _read_csv(path: Path, columns: Columns, checker: _RowChecker) -> None:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long reviews exceed the 128 KiB default
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            raise InputError(f"{path} is empty: it needs a header row ({columns.text},{columns.label}) "
                             "and at least one row")
        reader.fieldnames = [name.strip() for name in reader.fieldnames]
        columns.check(str(path), reader.fieldnames)
        for row in reader:
            checker.add(f"line {reader.line_num}", row.get(columns.text), row.get(columns.label))


def _read_json(path: Path, columns: Columns, checker: _RowChecker) -> None:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except ValueError as error:
            raise InputError(f"{path} is not valid JSON: {error}") from None
        numbered = [(f"item {i}", row) for i, row in enumerate(rows)]
    else:
        numbered = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                numbered.append((f"line {number}", json.loads(line)))
            except ValueError as error:
                raise InputError(f"{path} line {number} is not valid JSON ({error}); "
                                 "write one JSON object per line") from None
    for where, row in numbered:
        if not isinstance(row, dict):
            raise InputError(f"{path} {where} is not a JSON object; write objects like "
                             f'{{"{columns.text}": "...", "{columns.label}": 1}}')
        columns.check(f"{path} {where}", row.keys())
        checker.add(where, row[columns.text], row[columns.label])


def read_files(path_text: str, what: str, columns: Columns = Columns()) -> Split:
    splits = [read_file(path, columns) for path in data_files(path_text, what)]
    return Split([t for s in splits for t in s.texts], [label for s in splits for label in s.labels],
                 ", ".join(s.source for s in splits))


def read_hub_dataset(name: str, config: str | None, split: str, columns: Columns = Columns()) -> Split:
    """A split of a Hugging Face dataset with a text and a 0/1 label column (downloads it: needs internet)."""
    try:
        from datasets import load_dataset
    except ImportError:
        raise InputError("loading a Hugging Face dataset needs the datasets package: "
                         "pip install -r training/requirements.txt") from None
    source = f"{name}[{split}]" if not config else f"{name}/{config}[{split}]"
    try:
        dataset = load_dataset(name, config, split=split)
    except Exception as error:  # noqa: BLE001 (network, auth, unknown split: all end the same way)
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"cannot load dataset {source} from the Hugging Face Hub ({message}); "
                         "it needs internet access, or pass local files with --train-file") from None
    columns.check(source, dataset.column_names)
    checker = _RowChecker(source)
    for index, (text, label) in enumerate(zip(dataset[columns.text], dataset[columns.label])):
        checker.add(f"row {index}", text, label)
    return checker.result()


def _shuffled(n: int, seed: int) -> list[int]:
    indices = list(range(n))
    random.Random(seed).shuffle(indices)
    return indices


def load_data(args: argparse.Namespace) -> Data:
    """Load and check the training and evaluation data; raises InputError before any model loads."""
    columns = Columns(args.text_column, args.label_column)
    if args.train_file:
        train = read_files(args.train_file, "training data", columns)
        if args.eval_file:
            evaluation = read_files(args.eval_file, "evaluation data", columns)
            details = {"train_files": train.source, "eval_files": evaluation.source}
            description = f"files {train.source} (eval: {evaluation.source})"
        else:
            if len(train) < 2:
                raise InputError(f"{train.source} has {len(train)} row; holding out an evaluation split needs at "
                                 "least 2 (or pass --eval-file)")
            order = _shuffled(len(train), args.seed)
            n_eval = min(len(train) - 1, max(1, round(len(train) * args.eval_fraction)))
            evaluation = train.subset(order[:n_eval], f"{train.source} (held out {n_eval})")
            train = train.subset(order[n_eval:], train.source)
            details = {"train_files": train.source, "eval_fraction": args.eval_fraction}
            description = f"files {train.source} ({n_eval} rows held out for evaluation)"
    else:
        name = args.dataset or DEFAULT_DATASET
        train = read_hub_dataset(name, args.dataset_config, args.train_split, columns)
        evaluation = read_hub_dataset(name, args.dataset_config, args.eval_split, columns)
        details = {"dataset": name, "dataset_config": args.dataset_config,
                   "train_split": args.train_split, "eval_split": args.eval_split}
        description = f"dataset {name} ({args.train_split}/{args.eval_split})"
    # Subsets are random: IMDb's splits are sorted by label, so its first rows are all negative.
    if args.max_train_samples and args.max_train_samples < len(train):
        train = train.subset(_shuffled(len(train), args.seed)[:args.max_train_samples], train.source)
    if args.max_eval_samples and args.max_eval_samples < len(evaluation):
        evaluation = evaluation.subset(_shuffled(len(evaluation), args.seed + 1)[:args.max_eval_samples],
                                       evaluation.source)
    for split, name in ((train, "training"), (evaluation, "evaluation")):
        if len(set(split.labels)) < 2:
            logger.warning("the %s data (%s) has only label %s", name, split.source, split.labels[0])
    details.update(train_samples=len(train), eval_samples=len(evaluation))
    return Data(train, evaluation, description, details)


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


def _load_base(args: argparse.Namespace) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = args.model_name_or_path
    local = Path(source)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForSequenceClassification.from_pretrained(
            source,
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

    with tempfile.TemporaryDirectory(prefix="trainer-") as scratch:
        # Checkpoints are off and the Trainer's own folder is scratch: nothing but the final
        # model reaches the model directory (it is baked into the image as is).
        training_args = TrainingArguments(
            output_dir=scratch,
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
            save_strategy="no",
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
        train_output = trainer.train()
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


if __name__ == "__main__":
    main()
