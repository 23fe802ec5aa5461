"""The loopback Lambda Runtime API of `make image-test`, driven by AWS's real runtime interface
client running the real handler with a tiny model exported to ONNX, as the Lambda image serves
it: what the Lambda image check relies on."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from image.checks import EVENTS, lambda_env
from image.runtime_api import INVOKE_PATH, MAX_RESPONSE_BYTES, PREFIX, RuntimeApi
from inference.app.dev_model import build_tiny_model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """The tiny model as the image has it: exported to ONNX (the runtime then needs no torch)."""
    from inference import export

    hf = build_tiny_model(tmp_path_factory.mktemp("tiny"), max_length=64)
    out = tmp_path_factory.mktemp("tiny-onnx")
    export.export(hf, out, samples=8, log=lambda _: None)
    return out


def start_runtime(api: RuntimeApi, model_dir: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, **lambda_env(api.address), "MODEL_DIR": str(model_dir), "PLATFORM": "lambda",
           "EMF_METRICS": "false"}
    return subprocess.Popen([sys.executable, "-m", "awslambdaric", "inference.app.lambda_handler.handler"],
                            cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def runtime(tiny_model, tmp_path_factory) -> Iterator[tuple[RuntimeApi, subprocess.Popen]]:
    with RuntimeApi(timeout_s=60) as api:
        process = start_runtime(api, tiny_model, tmp_path_factory.mktemp("ric") / "log")
        try:
            assert api.ready.wait(120), "the runtime never asked for an event"
            yield api, process
        finally:
            process.terminate()
            process.wait(10)


def test_init_ends_at_the_first_next_and_events_are_answered(runtime):
    api, process = runtime
    assert api.first_next_at is not None and process.poll() is None and not api.init_failed.is_set()
    event = json.loads((EVENTS / "function-url.json").read_text())
    invocation = api.invoke(event)
    assert invocation.outcome == "response", invocation.body
    result = invocation.json()
    assert result["statusCode"] == 200
    texts = json.loads(base64.b64decode(event["body"]))["texts"]
    assert len(json.loads(result["body"])["predictions"]) == len(texts)


def test_bad_input_is_a_4xx_answer_not_a_function_error(runtime):
    api, _ = runtime
    event = json.loads((EVENTS / "apigw-http-v2.json").read_text())
    event.update(body="{not json", isBase64Encoded=False)
    result = api.invoke(event).json()
    assert result["statusCode"] == 400 and json.loads(result["body"])["error"] == "invalid_json"


def test_a_non_http_event_is_answered_not_raised(runtime):
    api, _ = runtime
    invocation = api.invoke(["not", "an", "event"])  # a direct invoke: no function error for the caller
    assert invocation.outcome == "response", invocation.body
    assert invocation.json()["error"] == "unsupported_event"


def test_a_handler_exception_reaches_the_error_endpoint(tmp_path):
    # A handler that raises, under the same runtime client: its error lands on .../error.
    (tmp_path / "raising.py").write_text("def handler(event, context):\n    raise ValueError('boom')\n")
    with RuntimeApi(timeout_s=30) as api:
        env = {**os.environ, **lambda_env(api.address), "PYTHONPATH": str(tmp_path)}
        process = subprocess.Popen([sys.executable, "-m", "awslambdaric", "raising.handler"], cwd=tmp_path, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert api.ready.wait(60), "the runtime never asked for an event"
            invocation = api.invoke({"any": "event"})
        finally:
            process.terminate()
            process.wait(10)
    assert invocation.outcome == "error"
    assert invocation.json()["errorType"] == "ValueError" and invocation.json()["errorMessage"] == "boom"


def test_invocations_over_http_as_the_runtime_interface_emulator_takes_them(runtime):
    api, _ = runtime
    event = (EVENTS / "apigw-http-v2.json").read_bytes()
    response = httpx.post(f"http://{api.address}{INVOKE_PATH}", content=event, timeout=60)
    assert response.status_code == 200 and "X-Amz-Function-Error" not in response.headers
    assert json.loads(response.json()["body"])["sentiment"] in ("NEGATIVE", "POSITIVE")


def test_unknown_request_ids_and_routes_are_refused(runtime):
    api, _ = runtime
    base = f"http://{api.address}{PREFIX}"
    assert httpx.post(f"{base}/invocation/nope/response", content=b"{}").status_code == 400
    assert httpx.post(f"{base}/invocation/x/elsewhere", content=b"{}").status_code == 404
    assert httpx.get(f"{base}/invocation/x").status_code == 404


def test_a_response_over_lambdas_limit_becomes_an_error():
    with RuntimeApi(timeout_s=10) as api:
        base = f"http://{api.address}{PREFIX}"
        client = httpx.Client(timeout=10)
        result = {}

        def runtime_side() -> None:
            event = client.get(f"{base}/invocation/next")
            request_id = event.headers["Lambda-Runtime-Aws-Request-Id"]
            result["status"] = client.post(f"{base}/invocation/{request_id}/response",
                                           content=b"x" * (MAX_RESPONSE_BYTES + 1)).status_code

        thread = threading.Thread(target=runtime_side)
        thread.start()
        invocation = api.invoke({"any": "event"})
        thread.join(10)
        assert result["status"] == 413 and invocation.outcome == "error"
        assert invocation.error_type == "Function.ResponseSizeTooLarge"


def test_a_model_that_cannot_load_posts_an_init_error(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"not a model")  # an ONNX directory without its config
    with RuntimeApi(timeout_s=10) as api:
        process = start_runtime(api, broken, tmp_path / "log")
        try:
            assert api.init_failed.wait(120), (tmp_path / "log").read_text()[-2000:]
            assert process.wait(30) != 0 and not api.ready.is_set()
            assert api.init_error["errorType"] and api.init_error["errorMessage"]
            response = httpx.post(f"http://{api.address}{INVOKE_PATH}", content=b"{}", timeout=10)
            assert response.status_code == 502 and response.headers["X-Amz-Function-Error"] == "Unhandled"
        finally:
            if process.poll() is None:
                process.kill()
