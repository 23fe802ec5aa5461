"""The training image without a Docker engine: the Dockerfile (hadolint, what it copies) and its
`train` entry point, run here with a stand-in train.py."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

TRAINING = REPO / "training"
STAND_IN = """import json, os, sys
print(json.dumps({"argv": sys.argv[1:], "env": {k: v for k, v in os.environ.items() if k.startswith("SM_")}}))
if "--fail" in sys.argv:
    print("train.py: error: eval/ holds no .csv, .jsonl or .json files", file=sys.stderr)
    sys.exit(2)
"""


def test_hadolint_passes():
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), str(TRAINING / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_copied_file_exists_in_its_build_context():
    ignored = (TRAINING / ".dockerignore").read_text().splitlines()
    sent = {line[1:].rstrip("/") for line in ignored if line.startswith("!")}
    for line in (TRAINING / "Dockerfile").read_text().splitlines():
        if not line.startswith("COPY "):
            continue
        words = [w for w in shlex.split(line)[1:] if not w.startswith("--")]
        context = REPO / "inference" if "--from=inference" in line else TRAINING
        for source in words[:-1]:
            assert (context / source).exists(), f"{source} is not in {context}"
            if context == TRAINING:
                assert source.rstrip("/") in sent or source.split("/")[0] in sent, f"{source} is excluded by .dockerignore"
    # Every module train.py imports in script mode is in the image.
    assert {"train.py", "train_args.py", "train_data.py"} <= sent


def _opt_ml(tmp_path: Path, channels=("train", "eval")) -> dict[str, str]:
    for channel in channels:
        (tmp_path / "input" / "data" / channel).mkdir(parents=True)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text(STAND_IN)
    return {**{k: v for k, v in os.environ.items() if not k.startswith("SM_")}, "OPT_ML": str(tmp_path)}


def test_the_entry_point_gives_train_py_the_script_mode_environment(tmp_path):
    result = subprocess.run(["bash", str(TRAINING / "docker" / "train")], env=_opt_ml(tmp_path, ("train", "eval", "base")),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    env = json.loads(result.stdout)["env"]
    assert env == {
        "SM_CHANNEL_TRAIN": str(tmp_path / "input/data/train"), "SM_CHANNEL_EVAL": str(tmp_path / "input/data/eval"),
        "SM_CHANNEL_BASE": str(tmp_path / "input/data/base"), "SM_MODEL_DIR": str(tmp_path / "model"),
        "SM_OUTPUT_DATA_DIR": str(tmp_path / "output/data"), "SM_INPUT_CONFIG_DIR": str(tmp_path / "input/config"),
    }
    assert not (tmp_path / "output" / "failure").exists()


def test_a_failure_reaches_sagemaker_as_the_jobs_failure_reason(tmp_path):
    result = subprocess.run(["bash", str(TRAINING / "docker" / "train"), "--fail"], env=_opt_ml(tmp_path),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "eval/ holds no" in result.stderr  # still on stderr, for the job's log
    assert (tmp_path / "output" / "failure").read_text() == \
        "train.py: error: eval/ holds no .csv, .jsonl or .json files\n"
