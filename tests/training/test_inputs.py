"""train.py before any training: arguments, SageMaker's environment, and bad input.

Nothing here trains: the ``run_train`` fixture fails the test if the base model is loaded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.training.support import write_csv, write_jsonl
from training.train import Columns, binary_metrics, load_data, parse_args

GOOD_ROWS = [("a great film", 1), ("a dull film", 0), ("loved it", 1), ("hated it", 0)]


def _error(capsys, excinfo) -> str:
    """The one-line message of a clean exit with code 2 (no traceback)."""
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# ---------------------------------------------------------------- bad input, before training


def _missing_train(d: Path) -> list[str]:
    return ["--train-file", str(d / "nope.csv")]


def _missing_eval(d: Path) -> list[str]:
    return ["--train-file", str(write_csv(d / "train.csv", GOOD_ROWS)), "--eval-file", str(d / "nope.jsonl")]


def _wrong_csv_columns(d: Path) -> list[str]:
    return ["--train-file", str(write_csv(d / "train.csv", GOOD_ROWS, header=("review", "sentiment")))]


def _wrong_jsonl_column(d: Path) -> list[str]:
    return ["--train-file", str(write_jsonl(d / "train.jsonl", ['{"sentence": "good", "label": 1}']))]


def _label_two(d: Path) -> list[str]:
    return ["--train-file", str(write_csv(d / "train.csv", [*GOOD_ROWS, ("so so", 2)]))]


def _label_words(d: Path) -> list[str]:
    return ["--train-file", str(write_jsonl(d / "train.jsonl", ['{"text": "good", "label": "pos"}']))]


def _label_negative_in_eval(d: Path) -> list[str]:
    return ["--train-file", str(write_csv(d / "train.csv", GOOD_ROWS)),
            "--eval-file", str(write_jsonl(d / "test.jsonl", ['{"text": "bad", "label": -1}']))]


def _empty_file(d: Path) -> list[str]:
    (d / "train.csv").write_text("")
    return ["--train-file", str(d / "train.csv")]


def _header_only(d: Path) -> list[str]:
    return ["--train-file", str(write_csv(d / "train.csv", []))]


def _empty_jsonl(d: Path) -> list[str]:
    return ["--train-file", str(write_jsonl(d / "train.jsonl", ["", "  "]))]


def _empty_folder(d: Path) -> list[str]:
    (d / "channel").mkdir()
    return ["--train-file", str(d / "channel")]


def _empty_text(d: Path) -> list[str]:
    return ["--train-file", str(write_csv(d / "train.csv", [*GOOD_ROWS, ("  ", 1)]))]


def _not_json(d: Path) -> list[str]:
    return ["--train-file", str(write_jsonl(d / "train.jsonl", ['{"text": "good", "label": 1', "x"]))]


def _base_without_config(d: Path) -> list[str]:
    (d / "base").mkdir()
    return ["--train-file", str(write_csv(d / "train.csv", GOOD_ROWS)), "--model-name-or-path", str(d / "base")]


def _pickled_base(d: Path) -> list[str]:
    (d / "base").mkdir()
    (d / "base" / "config.json").write_text("{}")
    (d / "base" / "pytorch_model.bin").write_bytes(b"pickle")
    return ["--train-file", str(write_csv(d / "train.csv", GOOD_ROWS)), "--model-name-or-path", str(d / "base")]


def _hub_base_without_revision(d: Path) -> list[str]:
    return ["--train-file", str(write_csv(d / "train.csv", GOOD_ROWS)), "--model-name-or-path", "org/base"]


BAD_INPUTS = {
    "missing training file": (_missing_train, r"training data .*nope\.csv does not exist"),
    "missing evaluation file": (_missing_eval, r"evaluation data .*nope\.jsonl does not exist"),
    "wrong CSV columns": (_wrong_csv_columns, r"has no 'text' or 'label' column \(found: review, sentiment\)"),
    "wrong JSONL column": (_wrong_jsonl_column, r"line 1 has no 'text' column \(found: sentence, label\)"),
    "label 2": (_label_two, r"1 label\(s\) outside \{0, 1\} \(line 6: '2'\)"),
    "label 'pos'": (_label_words, r"1 label\(s\) outside \{0, 1\} \(line 1: 'pos'\)"),
    "label -1 in the evaluation file": (_label_negative_in_eval, r"test\.jsonl: 1 label\(s\) outside \{0, 1\}"),
    "empty file": (_empty_file, r"train\.csv is empty"),
    "header only": (_header_only, r"train\.csv is empty"),
    "empty JSON Lines": (_empty_jsonl, r"train\.jsonl is empty"),
    "empty folder": (_empty_folder, r"folder .*channel holds no \.csv, \.jsonl or \.json files"),
    "empty text": (_empty_text, r"1 text\(s\) empty or not a string"),
    "invalid JSON line": (_not_json, r"line 1 is not valid JSON"),
    "base model without config.json": (_base_without_config, r"base has no config\.json"),
    "base model with pickled weights only": (_pickled_base, r"base has no safetensors weights.*--allow-pickled-weights"),
    "Hub base model without a revision": (_hub_base_without_revision, r"org/base is a Hub id: pass --model-revision"),
}


@pytest.mark.parametrize("make_args, message", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_stops_with_a_message_before_training(tmp_path, capsys, run_train, make_args, message):
    out = tmp_path / "model"
    with pytest.raises(SystemExit) as excinfo:
        run_train([*make_args(tmp_path), "--output-dir", str(out)])
    err = _error(capsys, excinfo)
    assert err.startswith("train.py: error: ") and err.count("\n") == 1, err
    assert re.search(message, err), err
    assert not out.exists()


def test_fails_when_the_output_directory_is_not_empty(tmp_path, capsys, run_train):
    out = tmp_path / "model"
    out.mkdir()
    (out / "config.json").write_text("{}")
    with pytest.raises(SystemExit) as excinfo:
        run_train(["--train-file", str(write_csv(tmp_path / "train.csv", GOOD_ROWS)), "--output-dir", str(out)])
    assert "is not empty; pass an empty or new directory (or --overwrite-output-dir)" in _error(capsys, excinfo)


def test_fails_without_an_output_directory(tmp_path, capsys, run_train):
    with pytest.raises(SystemExit) as excinfo:
        run_train(["--train-file", str(write_csv(tmp_path / "train.csv", GOOD_ROWS))])
    assert "--output-dir is required" in _error(capsys, excinfo)


def test_fails_on_unknown_sagemaker_hyperparameters(tmp_path, capsys, run_train):
    environ = {"SM_MODEL_DIR": str(tmp_path / "model"), "SM_HPS": json.dumps({"epochs": 1, "dropout": 0.3})}
    with pytest.raises(SystemExit) as excinfo:
        run_train([], environ)
    assert "SM_HPS: unknown hyperparameters --dropout 0.3" in _error(capsys, excinfo)


def test_runs_as_a_standalone_script_and_exits_2_without_a_traceback(tmp_path):
    """SageMaker runs `python train.py ...` from a copy of training/: no imports from this repo."""
    for module in ("train.py", "train_args.py", "train_data.py"):
        shutil.copy(REPO / "training" / module, tmp_path / module)
    script = tmp_path / "train.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")} | {"PYTHONPATH": ""}
    result = subprocess.run([sys.executable, script, "--train", str(tmp_path / "missing"),
                             "--model_dir", str(tmp_path / "model")],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == f"train.py: error: training data {tmp_path / 'missing'} does not exist; " \
                            "pass a .csv, .jsonl or .json file or a folder of them\n"


# ---------------------------------------------------------------- arguments and SageMaker


def _channels(tmp_path: Path) -> dict[str, str]:
    write_csv(tmp_path / "train" / "part-0.csv", GOOD_ROWS)
    write_jsonl(tmp_path / "test" / "test.jsonl", ['{"text": "fine film", "label": 1}'])
    return {
        "SM_CHANNEL_TRAIN": str(tmp_path / "train"),
        "SM_CHANNEL_TEST": str(tmp_path / "test"),
        "SM_MODEL_DIR": str(tmp_path / "model"),
        "SM_OUTPUT_DATA_DIR": str(tmp_path / "output"),
    }


def test_reads_the_sagemaker_environment_and_hyperparameters(tmp_path):
    environ = _channels(tmp_path) | {"SM_HPS": json.dumps(
        {"epochs": 3, "learning_rate": 5e-05, "model_name_or_path": "org/base", "fp16": None})}
    # SageMaker passes the same hyperparameters as arguments, underscores and all.
    argv = ["--epochs", "3", "--learning_rate", "5e-05", "--model_name_or_path", "org/base"]
    args = parse_args(argv, environ, tmp_path / "absent.json")
    assert (args.train_file, args.eval_file) == (environ["SM_CHANNEL_TRAIN"], environ["SM_CHANNEL_TEST"])
    assert (args.output_dir, args.output_data_dir) == (environ["SM_MODEL_DIR"], environ["SM_OUTPUT_DATA_DIR"])
    assert (args.epochs, args.learning_rate, args.model_name_or_path) == (3.0, 5e-05, "org/base")
    data = load_data(args)
    assert (len(data.train), len(data.eval)) == (4, 1)


def test_the_eval_channel_wins_over_the_test_channel(tmp_path):
    environ = _channels(tmp_path) | {"SM_CHANNEL_EVAL": str(tmp_path / "eval")}
    args = parse_args([], environ, tmp_path / "absent.json")
    assert args.eval_file == str(tmp_path / "eval")


def test_fails_on_export_onnx_without_the_inference_package(tmp_path, capsys, run_train, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_inference(name, *args, **kwargs):
        if name.startswith("inference"):
            raise ImportError("No module named 'inference'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_inference)
    with pytest.raises(SystemExit) as excinfo:
        run_train(["--train-file", str(write_csv(tmp_path / "train.csv", GOOD_ROWS)), "--output-dir",
                   str(tmp_path / "m"), "--export-onnx"])
    assert "--export-onnx needs the inference package" in _error(capsys, excinfo)


def test_the_command_line_wins_over_sm_hps(tmp_path):
    environ = _channels(tmp_path) | {"SM_HPS": json.dumps({"epochs": 3, "batch_size": 8})}
    args = parse_args(["--epochs", "1"], environ, tmp_path / "absent.json")
    assert (args.epochs, args.batch_size) == (1.0, 8)


def test_reads_hyperparameters_json_when_there_is_no_sm_hps(tmp_path):
    # The SageMaker Python SDK JSON-encodes every value into a string.
    hyperparameters = tmp_path / "hyperparameters.json"
    hyperparameters.write_text(json.dumps({"epochs": "2", "model_name_or_path": '"org/base"', "overwrite_output_dir":
                                           "true", "sagemaker_program": '"train.py"'}))
    args = parse_args([], _channels(tmp_path), hyperparameters)
    assert (args.epochs, args.model_name_or_path, args.overwrite_output_dir) == (2.0, "org/base", True)


def test_a_dataset_argument_wins_over_the_training_channel(tmp_path):
    args = parse_args(["--dataset", "stanfordnlp/imdb"], _channels(tmp_path), tmp_path / "absent.json")
    assert (args.dataset, args.train_file, args.eval_file) == ("stanfordnlp/imdb", None, None)


def test_other_column_names(tmp_path):
    train = write_csv(tmp_path / "train.csv", GOOD_ROWS, header=("review", "sentiment"))
    args = parse_args(["--train-file", str(train), "--output-dir", str(tmp_path / "m"), "--text-column", "review",
                       "--label_column", "sentiment", "--eval-fraction", "0.25"], {}, tmp_path / "absent.json")
    data = load_data(args)
    assert (len(data.train), len(data.eval)) == (3, 1)
    assert sorted(data.train.texts + data.eval.texts) == sorted(text for text, _ in GOOD_ROWS)
    assert Columns("review", "sentiment") == Columns(args.text_column, args.label_column)


# ---------------------------------------------------------------- metrics and pins


def test_binary_metrics():
    metrics = binary_metrics([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    assert metrics["accuracy"] == pytest.approx(0.6)
    assert metrics["precision"] == metrics["recall"] == metrics["f1"] == pytest.approx(2 / 3)
    assert binary_metrics([0, 0], [1, 0]) == {"accuracy": 0.5, "f1": 0.0, "precision": 0.0, "recall": 0.0}


def _pins(path: Path) -> dict[str, str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return dict(line.split("==") for line in lines if "==" in line)


def test_training_pins_match_the_inference_service():
    training, inference = _pins(REPO / "training/requirements.txt"), _pins(REPO / "inference/requirements.txt")
    shared = training.keys() & inference.keys()
    assert {"torch", "transformers", "tokenizers", "safetensors"} <= shared
    assert {name: training[name] for name in shared} == {name: inference[name] for name in shared}
    assert {"accelerate", "datasets"} <= training.keys()
