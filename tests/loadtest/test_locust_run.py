"""The load test, run headless for a few seconds against the local server on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local_server import local_server as serve_locally

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "loadtest" / "run.py"


@pytest.fixture(scope="module")
def local_server(tmp_path_factory) -> Iterator[str]:
    """`python -m inference.app.local` (make serve): it builds its tiny untrained model into the folder it runs in."""
    with serve_locally(tmp_path_factory.mktemp("server"), timeout=90) as url:
        yield url


def test_a_short_headless_run_sends_the_mix_and_reports_no_failures(local_server, tmp_path):
    out = tmp_path / "results"
    result = subprocess.run(
        [sys.executable, str(RUNNER), "--host", local_server, "--users", "4", "--spawn-rate", "4", "--duration", "3s",
         "--max-requests", "80", "--out", str(out), "--", "--think-min", "0", "--think-max", "0.05", "--seed", "7"],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((out / "stats_summary.json").read_text())
    endpoints = summary["endpoints"]
    assert set(endpoints) == {"/predict", "/predict/batch", "all"}
    assert endpoints["all"]["failures"] == 0
    assert 10 <= endpoints["all"]["requests"] <= 80 + 4  # the cap, plus the requests in flight when it hit
    assert endpoints["/predict"]["requests"] > endpoints["/predict/batch"]["requests"] > 0
    assert endpoints["all"]["p99_ms"] >= endpoints["all"]["p50_ms"] > 0
    assert (out / "stats_stats.csv").is_file() and (out / "report.html").stat().st_size > 10_000
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("endpoint"))
    assert "p50 ms" in lines[header] and "p95 ms" in lines[header] and "p99 ms" in lines[header]
    assert lines[header + 3].startswith("all")


def test_the_runner_stops_with_exit_code_2_without_a_target(tmp_path):
    result = subprocess.run([sys.executable, str(RUNNER), "--out", str(tmp_path)], cwd=REPO, capture_output=True,
                            text=True, timeout=30, env={k: v for k, v in os.environ.items() if k != "URL"})
    assert result.returncode == 2
    assert "give the target: --host URL" in result.stderr and "Traceback" not in result.stderr


def _run_runner(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUNNER), "--duration", "2s", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env=env)


def test_locust_stops_with_exit_code_2_on_a_bad_mix(tmp_path):
    result = _run_runner("--host", "http://127.0.0.1:9", "--out", str(tmp_path), "--", "--batch-min", "9", "--batch-max", "2")
    assert result.returncode == 2
    assert "--batch-min must be at least 1 and at most --batch-max" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_locust_reads_the_url_from_the_stack_and_stops_with_exit_code_2_when_it_cannot(tmp_path):
    # CloudFormation is pointed at a closed loopback port: nothing leaves this machine.
    env = {**os.environ, "AWS_ENDPOINT_URL_CLOUDFORMATION": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    result = _run_runner("--stack", "MlInference-Fargate", "--stage", "staging", "--out", str(tmp_path), env=env)
    assert result.returncode == 2
    assert "cannot read stack MlInference-Fargate-staging: EndpointConnectionError: Could not connect" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_without_a_region_the_runner_exits_2_with_one_line_and_no_earlier_results(tmp_path):
    (tmp_path / "stats_stats.csv").write_text("Type,Name,Request Count\n,Aggregated,999\n")
    (tmp_path / "report.html").write_text("an earlier run")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    result = _run_runner("--stack", "MlInference-Fargate", "--stage", "prod", "--out", str(tmp_path), env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "loadtest: error: no AWS region: pass --aws-region (make loadtest LOADTEST_ARGS='--aws-region REGION'), "
        "or set AWS_DEFAULT_REGION (or a profile's region)"]
    assert result.stdout == "" and not list(tmp_path.iterdir())


def test_a_resolved_stack_reaches_locust_as_its_address_not_the_stack_again(tmp_path):
    from loadtest.run import locust_command, parse_args
    from loadtest.target import Target

    args, extra = parse_args(["--stack", "MlInference-SageMaker", "--stage", "staging", "--out", str(tmp_path)])
    target = Target("https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/e", async_input_uri="s3://b/async-inputs/")
    command = locust_command(args, extra, target)
    assert command[command.index("--host") + 1] == target.host
    assert command[command.index("--async-input-uri") + 1] == "s3://b/async-inputs/"
    assert "--stack" not in command
    assert "--stack" in locust_command(args, extra)  # unresolved: Locust reads the stack itself
