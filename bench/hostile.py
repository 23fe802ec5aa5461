"""Hostile input against the real server: what one client can do to everyone else's requests.

    python -m bench.hostile [--model-dir DIR] [--repo PATH] [--out FILE] [--skip overload ...]

Starts the server the image runs (``inference/docker/serve`` of ``--repo``, default this
checkout: point it at an export of another commit to compare) on loopback and measures:

- ``charset``: a ``text/plain; charset=punycode`` body of 600 kB and of 1 MiB (``b"a" * n``:
  quadratic to decode) to /invocations: its answer and time, and the slowest /health answer
  while it runs (/health polled every 20 ms);
- ``slow_body``: a /predict body sent at 1 byte per second: when the server answers or closes;
- ``idle`` and ``slow_headers``: a connection that sends nothing, or its headers at 1 byte per
  second: when the server closes it;
- ``disconnect``: 40 clients queue batches and hang up at once; the status of a fresh
  request right after, and the queue (``inference_queue_texts``) then;
- ``overload``: 64 closed-loop clients (the ``make bench`` mix, waiting what Retry-After says)
  from the first answer on, then again after warm-up: p99 of the admitted (200) requests;
- ``lambda_event``: a non-HTTP event (an EventBridge schedule) to the Lambda handler.

Needs the model ``make bench`` builds (``bench/.cache/onnx-fp32``; the full-size fp32 model).
Every wait is capped, so a server that never cuts a client off shows as the cap.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.serve_bench import (BURST_CLIENTS, CACHE, build_bodies, closed_loop, free_port, overload_summary,
                               stop_server, wait_first_answer)

REPO = Path(__file__).resolve().parents[1]
CAP_SECONDS = 30.0
SCENARIOS = ("charset", "slow_body", "idle", "slow_headers", "disconnect", "overload", "lambda_event")


def start(repo: Path, model_dir: Path, port: int, log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    venv_bin = str(Path(sys.executable).parent)
    environment = {**os.environ, "MODEL_DIR": str(model_dir), "PORT": str(port), "HOST": "127.0.0.1",
                   "PLATFORM": "bench", "EMF_METRICS": "false", "PYTHONDONTWRITEBYTECODE": "1",
                   "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(repo), **(env or {})}
    return subprocess.Popen([str(repo / "inference" / "docker" / "serve"), "serve"], cwd=repo, env=environment,
                            stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


async def request(port: int, head: bytes, body: bytes = b"", timeout: float = CAP_SECONDS) -> tuple[int | None, float]:
    """Send ``head`` + ``body`` on a new connection: (status or None if closed without one, seconds)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + body)
        line = await asyncio.wait_for(reader.readline(), timeout)
        return (int(line.split()[1]) if line else None), time.perf_counter() - started
    except (asyncio.TimeoutError, ConnectionError):
        return None, time.perf_counter() - started
    finally:
        writer.close()


def post_head(path: str, length: int, content_type: str = "application/json") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode()


async def health_times(port: int, stop: asyncio.Event) -> list[float]:
    """Seconds each GET /health took, polled every 20 ms until ``stop``."""
    times = []
    while not stop.is_set():
        status, seconds = await request(port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        times.append(seconds if status == 200 else CAP_SECONDS)
        await asyncio.sleep(0.02)
    return times


async def charset(port: int, size: int) -> dict:
    stop = asyncio.Event()
    probe = asyncio.ensure_future(health_times(port, stop))
    await asyncio.sleep(0.1)
    body = b"a" * size
    status, seconds = await request(port, post_head("/invocations", size, "text/plain; charset=punycode"), body,
                                    timeout=180)
    await asyncio.sleep(0.1)
    stop.set()
    times = await probe
    return {"bytes": size, "status": status, "answer_s": round(seconds, 3),
            "health_max_s": round(max(times), 3), "health_polls": len(times)}


async def trickle(port: int, head: bytes, payload: bytes) -> dict:
    """Send ``head`` at once (may be empty) and ``payload`` 1 byte per second; when the server answers or closes."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = asyncio.ensure_future(reader.readline())
    try:
        if head:
            writer.write(head)
        for byte in payload:
            if answer.done() or time.perf_counter() - started > CAP_SECONDS:
                break
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.wait((answer,), timeout=1.0)
        try:
            line = await asyncio.wait_for(answer, max(0.1, CAP_SECONDS - (time.perf_counter() - started)))
        except (asyncio.TimeoutError, ConnectionError):
            line = None
    finally:
        writer.close()
    status = int(line.split()[1]) if line else None
    return {"status": status, "closed_or_answered_after_s": round(time.perf_counter() - started, 2),
            "capped": time.perf_counter() - started >= CAP_SECONDS}


async def disconnect(port: int, mix: list) -> dict:
    """40 clients send batches (5-10 texts each), the queue fills, they all hang up: what the
    queue counts right after, and what a fresh request gets."""
    batches = [body for path, body, items in mix if path == "/predict/batch"][:40]
    connections = []
    for body in batches:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post_head("/predict/batch", len(body)) + body)
        connections.append(writer)
    await asyncio.sleep(0.5)  # admitted (or refused) and waiting
    before = await queue_texts(port)
    for writer in connections:
        writer.close()
    await asyncio.sleep(0.05)
    after = await queue_texts(port)
    fresh = json.dumps({"text": "a fresh request right after the others hung up"}).encode()
    status, seconds = await request(port, post_head("/predict", len(fresh)), fresh)
    return {"clients": len(batches), "queue_texts_before_hang_up": before, "queue_texts_50ms_after": after,
            "fresh_status": status, "fresh_s": round(seconds, 3)}


async def queue_texts(port: int) -> float | None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    text = (await reader.read()).decode("latin-1")
    writer.close()
    line = next((line for line in text.splitlines() if line.startswith("inference_queue_texts ")), None)
    return float(line.split()[1]) if line else None


def overload(port: int, mix: list, seconds: float, warmup: float) -> dict | None:
    return overload_summary(asyncio.run(closed_loop(port, BURST_CLIENTS, seconds, warmup, mix, honor_retry_after=True)))


def lambda_event(repo: Path, model_dir: Path) -> dict:
    code = ("import json\nfrom inference.app.lambda_handler import handler, LocalContext\n"
            "event = {'version': '0', 'source': 'aws.events', 'detail-type': 'Scheduled Event', 'detail': {}}\n"
            "print(json.dumps(handler(event, LocalContext())))\n")
    env = {**os.environ, "MODEL_DIR": str(model_dir), "PLATFORM": "lambda", "EMF_METRICS": "false",
           "PYTHONPATH": str(repo), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True,
                            timeout=120)
    if result.returncode:
        last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
        return {"raised": True, "error": last[:300]}
    return {"raised": False, "answer": json.loads(result.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=CACHE / "onnx-fp32")
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose server to measure")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--skip", nargs="*", default=[], choices=SCENARIOS)
    parser.add_argument("--overload-seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    if not (args.model_dir / "config.json").is_file():
        raise SystemExit(f"{args.model_dir} has no model: run `make bench` once (it builds bench/.cache), "
                         "or pass --model-dir")
    repo = args.repo.resolve()
    mix, single = build_bodies(7)
    results: dict = {"repo": str(repo), "model_dir": str(args.model_dir), "load_average_before": os.getloadavg()}
    port = free_port()
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    process = start(repo, args.model_dir, port, CACHE / "server-hostile.log")
    try:
        results["cold_start_s"] = round(asyncio.run(wait_first_answer(port, single, started, process)), 2)
        if "overload" not in args.skip:
            print("overload from the first answer on (64 clients)...", flush=True)
            results["overload_from_start"] = overload(port, mix, args.overload_seconds, 0.0)
            print("overload after warm-up (64 clients)...", flush=True)
            results["overload_after_warmup"] = overload(port, mix, args.overload_seconds, 3.0)
        if "disconnect" not in args.skip:
            time.sleep(3)  # the queue drains
            results["disconnect"] = asyncio.run(disconnect(port, mix))
        if "charset" not in args.skip:
            for size in (600_000, 1_048_000):
                print(f"punycode body of {size} bytes...", flush=True)
                results[f"charset_punycode_{size}"] = asyncio.run(charset(port, size))
        payload = json.dumps({"text": "sent one byte a second"}).encode()
        if "slow_body" not in args.skip:
            print("body at 1 byte/s...", flush=True)
            results["slow_body"] = asyncio.run(trickle(port, post_head("/predict", len(payload)), payload))
        if "idle" not in args.skip:
            print("idle connection...", flush=True)
            results["idle"] = asyncio.run(trickle(port, b"", b""))
        if "slow_headers" not in args.skip:
            print("headers at 1 byte/s...", flush=True)
            results["slow_headers"] = asyncio.run(trickle(port, b"", post_head("/predict", len(payload)) + payload))
    finally:
        stop_server(process)
    if "lambda_event" not in args.skip:
        results["lambda_event"] = lambda_event(repo, args.model_dir)
    results["load_average_after"] = os.getloadavg()
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
