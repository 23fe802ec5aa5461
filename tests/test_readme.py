"""The README's shell commands stay true: each one is run here, run by .ci/run, or named below
with the reason it cannot run without an AWS account (or the internet, or a deployed stack).
A new command in the README fails `test_every_command_is_accounted_for` until it is sorted."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
VENV_BIN = Path(sys.executable).parent

# What cannot run here, by pattern, with why.
NEEDS_AWS = [
    (r"^make (diff|deploy|destroy)\b", "talks to CloudFormation in an AWS account"),
    (r"^make loadtest\b", "loads a deployed stack"),
    (r"^make smoke STACK=|^ml-inference smoke --stack ", "smoke-tests a deployed stack"),
    (r"^npx cdk (bootstrap|deploy)\b", "bootstraps or deploys into an AWS account"),
    (r"^git (revert|push)\b", "changes the pipeline's repository"),
    (r"^(URL|NAME|PIPELINE)=\$\(aws |^\$\(aws |^aws ", "reads a deployed stack's outputs with the AWS CLI"),
    (r"^awscurl |^curl .*\$URL|^kubectl ", "calls a deployed endpoint"),
    (r"^make train TRAIN_ARGS=", "downloads IMDb and the base model from the Hugging Face Hub"),
]
# What other checks already run, by pattern, with where.
COVERED = [
    (r"^make test\b", "this suite"),
    (r"^\.venv/bin/python -m build --wheel", "tests/cdk/test_consumer.py builds the wheel"),
    (r"^pip install dist/", "tests/cdk/test_consumer.py installs the wheel in a clean target"),
    (r"^cd examples/consumer$|^python3 -m venv \.venv && \.venv/bin/pip install -r requirements\.txt|"
     r"^\.\./\.\./node_modules/\.bin/cdk synth --app",
     "tests/cdk/test_consumer.py synthesizes examples/consumer from the wheel in a clean venv"),
    (r"^make image(-run|-test)?\b",
     "make image-test builds, runs and checks every image (slow: its own target; CI's image workflow runs it)"),
]
# Run by .ci/run after the suite (each synth is ~25 s of jsii; the suite stays under its budget).
CI_RUN = [r"^make synth\b", r"^npx cdk synth -c stage="]
# Run here.
RUN_HERE = [r"^ml-inference (?!smoke)", r"^make serve\b", r"^ml-inference smoke --url http://127\.0\.0\.1:8080\b"]


def readme_commands() -> list[str]:
    """Every command of the README's shell blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```(?:bash|sh|shell)\n(.*?)```", README.read_text(), re.S):
        current = ""
        for line in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).rstrip()
            if line.endswith("\\"):
                current += line[:-1].strip() + " "
                continue
            current += line.strip()
            if current:
                commands.append(current)
            current = ""
    return commands


def _matches(command: str, patterns: list) -> bool:
    return any(re.search(p if isinstance(p, str) else p[0], command) for p in patterns)


def test_every_command_is_accounted_for():
    kinds = {"aws": NEEDS_AWS, "covered": COVERED, "ci": CI_RUN, "here": RUN_HERE}
    for command in readme_commands():
        matched = [name for name, patterns in kinds.items() if _matches(command, patterns)]
        assert len(matched) == 1, f"README command {command!r} matches {matched or 'nothing'}: sort it in {__file__}"


def test_ci_runs_the_readme_synth_commands():
    ci = (REPO / ".ci" / "run").read_text()
    for command in readme_commands():
        if _matches(command, CI_RUN):
            quiet = command.replace("npx cdk synth ", "quiet_synth ")
            assert command in ci or quiet in ci, f".ci/run must run the README's {command!r}"


def test_app_silences_the_node_banner_before_the_cdk_starts():
    # Direct `npx cdk` runs get what `make` exports: jsii reads it when aws_cdk starts Node.
    source = (REPO / "app.py").read_text()
    assert source.index('setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"') < source.index("from aws_cdk import")


def test_wheel_name_in_the_readme_is_this_version():
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    wheels = set(re.findall(r"ml_inference_cdk-([\d.]+)-py3-none-any\.whl", README.read_text()))
    assert wheels == {version}


def _run_here(pattern: str) -> list[str]:
    return [c for c in readme_commands() if re.search(pattern, c)]


@pytest.mark.parametrize("command", _run_here(r"^ml-inference (?!smoke)"))
def test_ml_inference_commands_run(command, tmp_path):
    # The installed entry point (make synth / make test install the project), from a folder that
    # has the repo's bench/ so relative paths in the README resolve; outputs land in tmp_path.
    executable = shutil.which("ml-inference", path=str(VENV_BIN)) or shutil.which("ml-inference")
    assert executable, "ml-inference is not installed: make synth installs the project into .venv"
    (tmp_path / "bench").symlink_to(REPO / "bench")
    result = subprocess.run([executable, *command.split()[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() or list(tmp_path.glob("*.png"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_make_serve_serves_the_api():
    [command] = _run_here(r"^make serve\b")
    port = _free_port()
    process = subprocess.Popen(command.split(), cwd=REPO, env={**os.environ, "PORT": str(port)},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stdout.read().decode()[-3000:]
            time.sleep(0.5)
        answer = httpx.post(f"http://127.0.0.1:{port}/predict", json={"text": "Loved it."}, timeout=10)
        assert answer.status_code == 200 and 0 <= answer.json()["confidence"] <= 1
        # The README's smoke test of the local service passes against it.
        executable = shutil.which("ml-inference", path=str(VENV_BIN)) or shutil.which("ml-inference")
        smoke = _run_here(r"^ml-inference smoke --url ")
        assert smoke, "the README shows no `ml-inference smoke --url` of the local service"
        for command in smoke:
            argv = [executable, *command.replace(":8080", f":{port}").split()[1:]]
            result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_make_help_lists_every_target():
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, re.M)) - {"help"}
    phony = set(re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split())
    assert targets <= phony | {"setup"}, f"declare these .PHONY: {sorted(targets - phony)}"
    shown = subprocess.run(["make", "--no-print-directory", "help"], cwd=REPO, capture_output=True, text=True).stdout
    listed = set(re.findall(r"make ([a-z][a-z0-9-]*)", shown)) | set(re.findall(r"\|([a-z][a-z0-9-]*)", shown))
    missing = sorted(targets - listed)
    assert not missing, f"make help does not list: {missing}"
