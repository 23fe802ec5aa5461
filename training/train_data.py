"""train.py's data: local CSV / JSON Lines files or a Hugging Face dataset, checked row by row
before any model loads (bad input raises InputError with one line that says what to fix)."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import random
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # imported as the training package (tests, make train-smoke)
    from .train_args import DEFAULT_DATASET, InputError
except ImportError:  # run as a script from a copy of this folder (SageMaker script mode)
    from train_args import DEFAULT_DATASET, InputError  # type: ignore[no-redef]

DATA_SUFFIXES = (".csv", ".jsonl", ".json")

logger = logging.getLogger("training")


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
        # Rows of data, not code or weights: datasets 4 runs no loading scripts.
        dataset = load_dataset(name, config, split=split)  # nosec B615  # training data the user names
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
    random.Random(seed).shuffle(indices)  # nosec B311  # a reproducible split, not a secret
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


__all__ = ["Columns", "DATA_SUFFIXES", "Data", "Split", "data_files", "load_data", "read_file", "read_files", "read_hub_dataset"]
