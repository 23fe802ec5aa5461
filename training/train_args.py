"""train.py's command line: options, SageMaker's environment and hyperparameters.

Priority, lowest first: defaults, SM_* environment variables, SM_HPS (or
``/opt/ml/input/config/hyperparameters.json``), the command line. Standard library only: SageMaker
runs the folder as is.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "distilbert-base-uncased"
#: Its Hub commit (2024-05-06), as BaseModel pins it (ml_inference_cdk.constructs.training.image).
DEFAULT_MODEL_REVISION = "12040accade4e8a0f71eabdb258fecc2e7e948be"
DEFAULT_DATASET = "stanfordnlp/imdb"
HYPERPARAMETERS_FILE = Path("/opt/ml/input/config/hyperparameters.json")
METRICS_FILE = "metrics.json"


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
    add("--model-revision", default=None,
        help=f"the Hub commit of a Hub base model (default: {DEFAULT_MODEL_REVISION[:12]} for {DEFAULT_MODEL}; "
        "required for any other Hub id)")
    add("--allow-pickled-weights", action="store_true",
        help="also load pickled weights (pytorch_model.bin), which can run code when loaded; default: safetensors only")
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
        help="evaluation file or folder (default: env SM_CHANNEL_EVAL, else SM_CHANNEL_TEST); without one, "
             "--eval-fraction of the training files is held out")
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
    add("--export-onnx", type=_bool, nargs="?", const=True, default=False,
        help="also write model.onnx beside the weights (python -m inference.export; needs the inference "
             "package, as in the training image): one directory then serves on SageMaker and bakes into images")

    group = parser.add_argument_group("checkpoints (resume after a Spot interruption)")
    add("--checkpoint-dir", default=None,
        help="save Trainer checkpoints here and resume from the newest one found (SageMaker syncs "
             "/opt/ml/checkpoints with S3); default: no checkpoints")
    add("--save-steps", type=_positive_int, default=500, help="steps between checkpoints (with --checkpoint-dir)")
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
        # The training stack names its evaluation channel "eval"; the SageMaker SDK's examples say "test".
        args.eval_file = environ.get("SM_CHANNEL_EVAL") or environ.get("SM_CHANNEL_TEST") or None
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



__all__ = ["InputError", "build_parser", "hyperparameters_argv", "parse_args", "read_hyperparameters"]
