"""The checks ``make image-test`` runs against built images, one function per contract.

Each takes an engine (``image.engines``) and an image tag, starts the container the way its
platform does, probes it over loopback and raises ``CheckFailed`` with the container's log when
something is off. They return what they measured, for the report.
"""

from __future__ import annotations

import base64
import json
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

from .engines import RunSpec, wait_for
from .runtime_api import RuntimeApi

EVENTS = Path(__file__).resolve().parent.parent / "inference" / "events"
#: The sample Lambda events the Lambda image answers, and the server answers their bodies too.
LAMBDA_EVENTS = ("apigw-http-v2.json", "function-url.json")
#: Lambda runs an image as its own unprivileged user, whatever USER says: files must be world-readable.
LAMBDA_USER = "993:990"
LAMBDA_TIMEOUT_S = 60

#: What a serving image must and must not hold, checked inside it (``python -c`` as its user).
_INSIDE = r"""
import importlib.util, json, os, sys
absent, present = sys.argv[1].split(","), sys.argv[2].split(",")
facts = {"uid": os.getuid(), "gid": os.getgid(), "cwd": os.getcwd()}
try:
    open("/srv/probe", "w").close()
    facts["root_writable"] = True
except OSError:
    facts["root_writable"] = False
with open("/tmp/probe", "w") as probe:
    probe.write("ok")
facts["tmp_writable"] = True
model_dir = os.environ["MODEL_DIR"]
facts["model_files"] = sorted(os.listdir(model_dir))
facts["present"] = {name: importlib.util.find_spec(name) is not None for name in present if name}
facts["absent"] = {name: importlib.util.find_spec(name) is None for name in absent if name}
if "torch" in present:
    import torch
    facts["torch"], facts["torch_cuda"], facts["cuda_available"] = torch.__version__, torch.version.cuda, torch.cuda.is_available()
print(json.dumps(facts))
"""


class CheckFailed(AssertionError):
    pass


def expect(condition: bool, message: str, container=None) -> None:
    if not condition:
        # The service's one-line-per-request log would hide what matters (a failed model load).
        lines = container.logs().splitlines() if container is not None else []
        log = "\n".join(line for line in lines if '"message":"request"' not in line)[-4000:]
        raise CheckFailed(message + (f"\n--- container log (end, request lines left out) ---\n{log}" if log else ""))


def free_port(preferred: int | None = None) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred or 0))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(engine, spec: RunSpec):
    container = engine.start(spec)
    try:
        yield container
    finally:
        container.remove()


def wait_http(url: str, container, *, method: str = "GET", timeout: float = 180, **kwargs) -> float:
    """Poll until ``url`` answers 200; seconds since the container's process started."""
    def answered() -> bool:
        expect(_poll_exit(container) is None, f"the container exited while starting ({url})", container)
        try:
            response = httpx.request(method, url, timeout=5, **kwargs)
        except httpx.TransportError:
            return False
        failed = response.status_code == 503 and "model_load_failed" in response.text
        expect(not failed, f"{url}: the model failed to load", container)
        return response.status_code == 200

    try:
        wait_for(answered, timeout)
    except TimeoutError:
        expect(False, f"{url} did not answer 200 within {timeout}s", container)
    return time.monotonic() - container.started_at


def _poll_exit(container) -> int | None:
    try:
        return container.wait(0)
    except TimeoutError:
        return None


# ---------------------------------------------------------------- inside the image


def check_inside(engine, tag: str, *, absent: tuple[str, ...] = (), present: tuple[str, ...] = (),
                 entrypoint: tuple[str, ...] | None = None, user: str | None = None) -> dict:
    """The image's user, read-only root, writable /tmp, model files, what it holds and does not."""
    command = ["python", "-c", _INSIDE, ",".join(absent), ",".join(present)]
    spec = RunSpec(tag, command=command[1:] if entrypoint else command, entrypoint=entrypoint, user=user)
    with running(engine, spec) as container:
        status = container.wait(120)
        output = container.logs().strip().splitlines()
        expect(status == 0 and output, f"{tag}: the inside check exited with {status}", container)
        facts = json.loads(output[-1])
    expect(not facts["root_writable"], f"{tag}: the root filesystem is writable: {facts}")
    expect("config.json" in facts["model_files"], f"{tag}: no model in MODEL_DIR: {facts['model_files']}")
    expect(all(facts["present"].values()), f"{tag}: modules missing: {facts['present']}")
    expect(all(facts["absent"].values()), f"{tag}: modules it should not carry: {facts['absent']}")
    return facts


# ---------------------------------------------------------------- the server contract


def event_request(name: str) -> tuple[str, str, bytes, str]:
    """(method, path, body, content type) of a sample Lambda event: the same request over HTTP."""
    event = json.loads((EVENTS / name).read_text())
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    return event["requestContext"]["http"]["method"], event["rawPath"], raw, headers.get("content-type", "")


def check_api(base: str, container, tag: str) -> dict[str, dict]:
    """Every endpoint, the SageMaker ones included, and bad input; the answers to the events' bodies."""
    client = httpx.Client(base_url=base, timeout=60)

    def call(method: str, path: str, expected: int, **kwargs) -> httpx.Response:
        response = client.request(method, path, **kwargs)
        expect(response.status_code == expected,
               f"{tag}: {method} {path} answered {response.status_code}, not {expected}: {response.text[:300]}", container)
        return response

    expect(call("GET", "/ping", 200).json()["status"] == "ok", f"{tag}: /ping is not ok", container)
    health = call("GET", "/health", 200).json()
    one = call("POST", "/predict", 200, json={"text": "I loved this movie!"}).json()
    expect({"sentiment", "confidence", "model_version"} <= set(one), f"{tag}: /predict answered {one}", container)
    expect(one["model_version"] == health["model_version"], f"{tag}: versions differ: {one} {health}", container)
    batch = call("POST", "/predict/batch", 200, json={"texts": ["Great product", "Terrible service", "ok"]}).json()
    expect(len(batch["predictions"]) == 3, f"{tag}: /predict/batch answered {batch}", container)
    as_json = call("POST", "/invocations", 200, json={"text": "I loved this movie!"}).json()
    as_text = call("POST", "/invocations", 200, content="I loved this movie!".encode(),
                   headers={"content-type": "text/plain; charset=utf-8"}).json()
    for answer in (as_json, as_text):
        expect(answer["sentiment"] == one["sentiment"] and abs(answer["confidence"] - one["confidence"]) < 1e-4,
               f"{tag}: /invocations answered {answer}, /predict {one}", container)
    inputs = call("POST", "/invocations", 200, json={"inputs": ["Great product", "Terrible service"]}).json()
    expect(len(inputs["predictions"]) == 2, f"{tag}: /invocations with inputs answered {inputs}", container)
    for method, path, kwargs, status, error in (
        ("POST", "/predict", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 400,
         "invalid_json"),
        ("POST", "/predict", {"json": {"text": "   "}}, 422, "empty_text"),
        ("POST", "/predict", {"json": {"txt": "typo"}}, 422, "invalid_request"),
        ("POST", "/invocations", {"content": b"\x89PNG", "headers": {"content-type": "image/png"}}, 415,
         "unsupported_media_type"),
        ("GET", "/nowhere", {}, 404, "not_found"),
    ):
        body = call(method, path, status, **kwargs).json()
        expect(body.get("error") == error and body.get("detail"), f"{tag}: {path} error body {body}", container)
    metrics = call("GET", "/metrics", 200).text
    expect("inference_requests_total" in metrics, f"{tag}: /metrics has no request counter", container)
    call("GET", "/docs", 200)
    answers = {}
    for name in LAMBDA_EVENTS:
        method, path, raw, content_type = event_request(name)
        answers[name] = call(method, path, 200, content=raw, headers={"content-type": content_type}).json()
    return answers


def check_server(engine, tag: str) -> dict:
    """As Fargate and EKS run it: own entrypoint, PORT from the environment, read-only root."""
    port = free_port()
    with running(engine, RunSpec(tag, host_port=port, container_port=port, env={"PORT": str(port)})) as container:
        base = f"http://127.0.0.1:{port}"
        ready_s = wait_http(f"{base}/health", container)
        answers = check_api(base, container, tag)
        status = container.stop()
        expect(status == 0, f"{tag}: exited with {status} on SIGTERM", container)
    return {"ready_s": round(ready_s, 2), "answers": answers}


def check_sagemaker(engine, tag: str) -> dict:
    """As SageMaker starts it: `docker run IMAGE serve`, port 8080, no PORT, model in /opt/ml/model."""
    config = engine.config(tag)
    env = dict(item.split("=", 1) for item in config.get("Env") or [])
    expect(env.get("MODEL_DIR") == "/opt/ml/model", f"{tag}: MODEL_DIR is {env.get('MODEL_DIR')!r}")
    port = free_port(8080)
    with running(engine, RunSpec(tag, command=["serve"], host_port=port, container_port=8080)) as container:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/ping", container)
        answer = httpx.post(f"{base}/invocations", content=b"What a waste of time.",
                            headers={"content-type": "text/plain"}, timeout=60)
        expect(answer.status_code == 200 and "sentiment" in answer.json(), f"{tag}: /invocations {answer.text}",
               container)
        expect(container.stop() == 0, f"{tag}: serve did not exit cleanly on SIGTERM", container)
    return {"port": port}


def in_flight(base: str) -> int:
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("inference_requests_in_flight "):
            return int(float(line.split()[1]))
    return 0


def check_drain(engine, tag: str, *, requests: int = 4, texts: int = 32) -> dict:
    """SIGTERM with requests in flight: every one is answered, then the container exits 0.

    About 2 s of work on 2 idle vCPUs (4 x 32 texts of ~60 tokens), well inside uvicorn's 20 s
    graceful shutdown even on a loaded machine."""
    port = free_port()
    long_text = " ".join(["a thoroughly average film with some good moments"] * 6)
    # Admission off but for the text count (QUEUE_MAX_SECONDS=0): this checks draining, and the
    # cost model would refuse some of the burst at once (503) on an idle machine.
    env = {"PORT": str(port), "QUEUE_MAX_SECONDS": "0"}
    with running(engine, RunSpec(tag, host_port=port, container_port=port, env=env)) as container:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health", container)
        with ThreadPoolExecutor(requests) as pool:
            futures = [pool.submit(httpx.post, f"{base}/predict/batch", json={"texts": [long_text] * texts},
                                   timeout=120) for _ in range(requests)]
            try:  # the /metrics request itself is one of those in flight
                wait_for(lambda: in_flight(base) >= requests + 1, 30, interval=0.05)
            except TimeoutError:
                expect(False, f"{tag}: the {requests} requests were never in flight together", container)
            sent_at = time.monotonic()
            container.signal(signal.SIGTERM)
            answers = [future.result() for future in futures]
        for answer in answers:
            expect(answer.status_code == 200 and len(answer.json()["predictions"]) == texts,
                   f"{tag}: an in-flight request got {answer.status_code} after SIGTERM: {answer.text[:200]}", container)
        status = container.wait(40)
        expect(status == 0, f"{tag}: exited with {status} after draining", container)
        drained_s = time.monotonic() - sent_at
    return {"requests_in_flight": requests, "texts_each": texts, "drained_and_exited_s": round(drained_s, 2)}


def cold_starts(engine, tag: str, runs: int = 3) -> list[float]:
    """Seconds from the container's start to its first 200 from /predict, ``runs`` times."""
    seconds = []
    for _ in range(runs):
        port = free_port()
        with running(engine, RunSpec(tag, host_port=port, container_port=port, env={"PORT": str(port)})) as container:
            seconds.append(round(wait_http(f"http://127.0.0.1:{port}/predict", container, method="POST",
                                           json={"text": "first request"}, timeout=300), 2))
            container.stop()
    return seconds


# ---------------------------------------------------------------- the Lambda contract


def lambda_env(address: str) -> dict[str, str]:
    """What Lambda sets in a function's environment (the parts a runtime reads)."""
    return {
        "AWS_LAMBDA_RUNTIME_API": address,
        "AWS_LAMBDA_FUNCTION_NAME": "ml-inference-image-test",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3008",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/ml-inference-image-test",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]00000000000000000000000000000000",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "TZ": ":UTC",
    }


def same_predictions(lambda_body: dict, server_body: dict) -> bool:
    """Equal answers, but for the timing: sentiment and version exact, confidence within 1e-4."""
    def items(body: dict) -> list[dict]:
        return body["predictions"] if "predictions" in body else [body]

    left, right = items(lambda_body), items(server_body)
    return len(left) == len(right) and all(
        a["sentiment"] == b["sentiment"] and a["model_version"] == b["model_version"]
        and abs(a["confidence"] - b["confidence"]) < 1e-4 for a, b in zip(left, right))


def check_lambda(engine, tag: str, server_answers: dict[str, dict] | None = None) -> dict:
    """The handler under awslambdaric against the loopback Runtime API: the sample events answer
    what the server answers, bad input answers 4xx with the JSON error body."""
    with RuntimeApi(timeout_s=LAMBDA_TIMEOUT_S) as api:
        spec = RunSpec(tag, env=lambda_env(api.address), host_network=True, user=LAMBDA_USER)
        with running(engine, spec) as container:
            def initialised() -> bool:
                expect(_poll_exit(container) is None, f"{tag}: the runtime exited during init", container)
                expect(not api.init_failed.is_set(), f"{tag}: init failed: {api.init_error}", container)
                return api.ready.is_set()

            wait_for(initialised, 180)
            init_s = api.first_next_at - container.started_at
            answers = {}
            for name in LAMBDA_EVENTS:
                invocation = api.invoke(json.loads((EVENTS / name).read_text()))
                expect(invocation.outcome == "response", f"{tag}: {name}: {invocation.outcome} {invocation.body[:500]}",
                       container)
                result = invocation.json()
                expect(result.get("statusCode") == 200, f"{tag}: {name} answered {result}", container)
                answers[name] = json.loads(result["body"])
                if server_answers is not None:
                    expect(same_predictions(answers[name], server_answers[name]),
                           f"{tag}: {name}: Lambda answered {answers[name]}, the server {server_answers[name]}", container)
            bad = json.loads((EVENTS / "apigw-http-v2.json").read_text())
            bad.update(body="{not json", isBase64Encoded=False)
            result = api.invoke(bad).json()
            error = json.loads(result.get("body") or "{}")
            expect(result.get("statusCode") == 400 and error.get("error") == "invalid_json" and error.get("detail"),
                   f"{tag}: bad JSON answered {result}", container)
            missing = json.loads((EVENTS / "function-url.json").read_text())
            missing.update(rawPath="/nowhere")
            missing["requestContext"]["http"]["path"] = "/nowhere"
            result = api.invoke(missing).json()
            expect(result.get("statusCode") == 404 and json.loads(result["body"])["error"] == "not_found",
                   f"{tag}: an unknown path answered {result}", container)
            container.stop(5)
    return {"init_s": round(init_s, 2), "answers": answers}
