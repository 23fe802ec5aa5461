"""`ml-inference smoke --url`: passes against the real service, fails with the right one-line
reason against a stand-in for each failure mode."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ml_inference_cli.cli import main
from ml_inference_cli.smoke import percentile


def smoke(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["smoke", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_passes_against_the_local_service(local_service, capsys):
    code, out, err = smoke(capsys, "--url", local_service)
    assert (code, err) == (0, ""), err
    for check in ("ready: /health HTTP 200", "/predict: ", "/predict/batch: 3 answers in input order",
                  "bad input: an empty text answered HTTP 422 'empty_text'", "latency: p95 "):
        assert check in out
    assert out.rstrip().endswith("smoke test passed")


@pytest.mark.parametrize("mode", ["good", "sentiment"])
def test_passes_against_a_service_that_answers_label_or_sentiment(stand_in, capsys, mode):
    code, out, err = smoke(capsys, "--url", stand_in(mode).url)
    assert (code, err) == (0, "")


@pytest.mark.parametrize(
    ("mode", "flags", "reason"),
    [
        ("health-500", [], "not ready: /health answered HTTP 500: "),
        ("forbidden", [], "not ready: /health answered HTTP 403 (an AWS_IAM endpoint: are the requests signed"),
        ("starting", [], "not ready: /health answered HTTP 503"),
        ("5xx", [], "/predict answered HTTP 500: "),
        ("no-label", [], "/predict answered no label (neither 'label' nor 'sentiment')"),
        ("unknown-label", [], "/predict answered label 'MAYBE', not one of the model's labels (NEGATIVE, POSITIVE)"),
        ("bad-confidence", [], "/predict answered confidence 1.7: it must be a number in [0, 1]"),
        ("not-json", [], "/predict answered something that is not JSON: <html>ok</html>"),
        ("batch-reversed", [], "/predict/batch answer 0 (NEGATIVE 0.700) is not /predict's answer for text 0 (NEGATIVE 0.650): the batch lost its order"),
        ("batch-short", [], "/predict/batch answered 2 predictions for 3 texts"),
        ("slow", ["--timeout", "0.5"], "POST /predict: no answer within 0.5 s"),
        ("sluggish", ["--p95-ms", "100"], "over 20 sequential requests is above the 100 ms bound"),
        ("accepts-empty", [], "an empty text was accepted (HTTP 200): bad input must answer 4xx"),
        ("empty-5xx", [], "an empty text answered HTTP 500, not 4xx"),
        ("bad-error-body", [], 'an empty text answered without the JSON error body {"error", "detail"}: empty text'),
    ],
)
def test_fails_with_a_one_line_reason(stand_in, capsys, mode, flags, reason):
    code, out, err = smoke(capsys, "--url", stand_in(mode).url, *flags)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("ml-inference smoke: FAILED: "), err
    assert reason in err, err


def test_waits_for_a_service_that_is_still_starting(stand_in, capsys, monkeypatch):
    monkeypatch.setattr("ml_inference_cli.smoke.time.sleep", lambda _s: None)
    server = stand_in("starting")
    code, out, err = smoke(capsys, "--url", server.url, "--wait", "60")
    assert (code, err) == (0, "") and server.health_calls == 3


def test_fails_when_nothing_listens(capsys):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, _, err = smoke(capsys, "--url", f"http://127.0.0.1:{port}")
    assert code == 1 and "not ready: GET /health: cannot connect to 127.0.0.1" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give the target: --url URL (a running service) or --stack NAME"),
        (["--url", "http://a", "--stack", "MlInference-Lambda"], "give the target"),
        (["--url", "ftp://example.com"], "not an http(s) URL"),
        (["--url", "http://127.0.0.1:1", "--labels", "ONE"], "--labels needs the model's labels, two or more"),
        (["--url", "http://127.0.0.1:1", "--requests", "0"], "--requests must be 1 or more"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, args, message):
    code, _, err = smoke(capsys, *args)
    assert code == 2 and err.count("\n") == 1 and message in err, err


def test_the_installed_command_prints_no_traceback(stand_in):
    executable = shutil.which("ml-inference", path=str(Path(sys.executable).parent))
    assert executable, "ml-inference is not installed: make test installs the project into .venv"
    result = subprocess.run([executable, "smoke", "--url", stand_in("5xx").url], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [result.stderr.strip()] and "Traceback" not in result.stderr
    assert "smoke test of http://127.0.0.1:" in result.stdout


def test_p95_is_the_nearest_rank():
    values = [0.01 * i for i in range(1, 21)]
    assert percentile(values, 0.95) == pytest.approx(0.19)  # the 19th of 20
    assert percentile([0.5], 0.95) == 0.5
