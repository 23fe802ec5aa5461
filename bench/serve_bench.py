"""Serving benchmark: the per-request PyTorch reference against ONNX Runtime with dynamic batching.

    python -m bench.serve_bench [--out bench/results.json] [--duration 30] [--backends ...]

1. Builds a full-size random-weight DistilBERT offline (``bench/model.py``) and exports it with
   ``python -m inference.export`` (fp32, and int8 with ``--int8``): cached in ``bench/.cache``.
2. Measures each backend's bare forward pass (batch 1 of 16/64/128 tokens), in this process.
3. For each backend starts the real server (``inference/docker/serve``: uvicorn, one worker) on
   loopback and measures: cold start (process start to the first 200 from /predict), 1 client
   sending /predict with a 16-token text, and 10 closed-loop clients sending 70% /predict and
   30% /predict/batch of 5-10 texts, every text 15-90 tokens; for the batching backends, 64
   clients of the same mix (overload: waiting what Retry-After says) right after the first
   answer and again after warm-up, printing the p99 of the admitted requests against
   QUEUE_MAX_SECONDS; then the server's peak RSS.
   The load generator is asyncio on raw keep-alive HTTP/1.1 connections (lighter than Locust:
   it shares the CPUs with the server).

Backends: ``pytorch-per-request`` (the reference: PyTorch, one forward pass per request, no
batching), ``onnx-fp32`` (the image's default: ONNX Runtime + dynamic batching), ``onnx-int8``,
and optionally ``pytorch-batched``. Prints a table and writes JSON (top level: the default
backend, ``runs``: every backend).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "bench" / ".cache"
DEFAULT_BACKEND = "onnx-fp32"
MODEL_NAME = "distilbert-base random weights"

#: name -> (model directory kind, extra server environment)
BACKENDS = {
    "pytorch-per-request": ("hf", {"BACKEND": "pytorch", "DYNAMIC_BATCHING": "false", "INFERENCE_CONCURRENCY": "1"}),
    "pytorch-batched": ("hf", {"BACKEND": "pytorch"}),
    "onnx-fp32": ("onnx-fp32", {}),
    "onnx-int8": ("onnx-int8", {}),
}
REFERENCE = "pytorch-per-request"
QUEUE_MAX_SECONDS = 2.0  # the service's default (Settings.queue_max_seconds); the servers run with it
BURST_CLIENTS = 64
OVERLOAD_SECONDS = 10.0


# ---------------------------------------------------------------- requests


def build_bodies(seed: int, count: int = 2000) -> tuple[list[tuple[str, bytes, int]], bytes]:
    """The mix (path, JSON body, texts) in a fixed order, and the 1-client body (16 tokens)."""
    from bench.model import text_of, words

    rng = random.Random(seed)
    vocabulary = words()
    mix = []
    for _ in range(count):
        if rng.random() < 0.7:
            mix.append(("/predict", json.dumps({"text": text_of(rng.randint(15, 90), rng, vocabulary)}).encode(), 1))
        else:
            texts = [text_of(rng.randint(15, 90), rng, vocabulary) for _ in range(rng.randint(5, 10))]
            mix.append(("/predict/batch", json.dumps({"texts": texts}).encode(), len(texts)))
    single = json.dumps({"text": text_of(16, rng, vocabulary)}).encode()
    return mix, single


class Connection:
    """One keep-alive HTTP/1.1 connection; just enough protocol for uvicorn's answers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        return (await self.post_with_retry_after(path, body))[0]

    async def post_with_retry_after(self, path: str, body: bytes) -> tuple[int, float]:
        reused = self.writer is not None
        try:
            return await self._post(path, body)
        except (ConnectionError, asyncio.IncompleteReadError):
            if not reused:
                raise
            # The server closed an idle keep-alive connection (uvicorn: after 5 s); as HTTP
            # clients do, send again once on a new connection.
            self.close()
            return await self._post(path, body)

    async def _post(self, path: str, body: bytes) -> tuple[int, float]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length, close, retry_after = 0, False, 0.0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
            elif name.lower() == "retry-after":
                retry_after = float(value)
        await self.reader.readexactly(length)
        if close:
            self.close()
        return status, retry_after

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class LoadResult:
    clients: int
    seconds: float
    latencies: list[float] = field(default_factory=list)  # successful requests only
    refusal_latencies: list[float] = field(default_factory=list)  # 429/503 answers
    requests: int = 0
    items: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    exceptions: dict[str, int] = field(default_factory=dict)  # client-side failures (status 0)

    def summary(self) -> dict:
        ordered = sorted(self.latencies)

        def percentile(p: float) -> float:
            return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2) if ordered else float("nan")

        return {
            "clients": self.clients, "seconds": round(self.seconds, 1), "requests": self.requests,
            "req_per_s": round(self.requests / self.seconds, 1), "items_per_s": round(self.items / self.seconds, 1),
            "p50_ms": percentile(0.50), "p95_ms": percentile(0.95), "p99_ms": percentile(0.99),
            "mean_ms": round(1000 * statistics.fmean(ordered), 2) if ordered else float("nan"),
            "errors": self.errors, "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "client_exceptions": dict(self.exceptions),
            "refusal_p99_ms": (round(1000 * sorted(self.refusal_latencies)[int(0.99 * len(self.refusal_latencies))], 2)
                               if self.refusal_latencies else None),
        }


async def closed_loop(port: int, clients: int, seconds: float, warmup: float,
                      requests: list[tuple[str, bytes, int]], honor_retry_after: bool = False) -> LoadResult:
    """``clients`` closed-loop clients (each sends its next request when the last is answered);
    only requests that start after ``warmup`` seconds and end before the deadline count. With
    ``honor_retry_after`` a refused client waits what Retry-After says, as a polite client does."""
    result = LoadResult(clients=clients, seconds=seconds)
    start = time.perf_counter()
    measure_from, deadline = start + warmup, start + warmup + seconds

    async def client(index: int) -> None:
        connection = Connection(port)
        position = index * 997 % len(requests)
        while True:
            path, body, items = requests[position]
            position = (position + 1) % len(requests)
            sent = time.perf_counter()
            if sent >= deadline:
                break
            retry_after = 0.0
            try:
                status, retry_after = await connection.post_with_retry_after(path, body)
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
                connection.close()
                status = 0
                result.exceptions[type(exc).__name__] = result.exceptions.get(type(exc).__name__, 0) + 1
            done = time.perf_counter()
            if honor_retry_after and retry_after:
                await asyncio.sleep(min(retry_after, max(0.0, deadline - time.perf_counter())))
            if sent < measure_from or done > deadline:
                continue
            result.statuses[status] = result.statuses.get(status, 0) + 1
            result.requests += 1
            if status == 200:
                result.latencies.append(done - sent)
                result.items += items
            else:
                result.errors += 1
                if status in (429, 503):
                    result.refusal_latencies.append(done - sent)
        connection.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    return result


# ---------------------------------------------------------------- the server


def peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model_dir: Path, extra_env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "MODEL_DIR": str(model_dir), "PORT": str(port), "HOST": "127.0.0.1",
           "PLATFORM": "bench", "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO),
           **extra_env}
    log = log_path.open("w")
    return subprocess.Popen([str(REPO / "inference" / "docker" / "serve"), "serve"], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


async def wait_first_answer(port: int, body: bytes, started: float, process: subprocess.Popen,
                            timeout: float = 180) -> float:
    """Seconds from process start to the first 200 from /predict (polled every 5 ms)."""
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        connection = Connection(port)
        try:
            if await connection.post("/predict", body) == 200:
                return time.perf_counter() - started
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            connection.close()
        await asyncio.sleep(0.005)
    raise TimeoutError("no answer from the server")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run_server_benchmark(name: str, model_dir: Path, extra_env: dict[str, str], *, duration: float,
                         single_seconds: float, mix: list, single: bytes) -> dict:
    port = free_port()
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    process = start_server(model_dir, extra_env, port, CACHE / f"server-{name}.log")
    batched = extra_env.get("DYNAMIC_BATCHING") != "false"
    try:
        cold_start = asyncio.run(wait_first_answer(port, single, started, process))
        # Overload before the service has seen any load: the queue's bound must hold from start-up
        # (its rate comes from the warm-up pass). The clients wait what Retry-After says.
        startup = (asyncio.run(closed_loop(port, BURST_CLIENTS, OVERLOAD_SECONDS, 0.0, mix, honor_retry_after=True))
                   if batched else None)
        if startup is not None:
            time.sleep(3)  # drained before the next measurement
        single_run = asyncio.run(closed_loop(port, 1, single_seconds, 1.0, [("/predict", single, 1)]))
        cpu_before, wall_before = cpu_seconds(process.pid), time.perf_counter()
        concurrent_run = asyncio.run(closed_loop(port, 10, duration, 3.0, mix))
        # CPU cores the server used under load: less than the CPUs means it waited (for the
        # clients, or for CPU time other processes took).
        cores_used = (cpu_seconds(process.pid) - cpu_before) / (time.perf_counter() - wall_before)
        # Overload after warm-up: 64 clients (~190 texts in flight): beyond QUEUE_MAX_SECONDS of work
        # the excess must be refused at once with 503 + Retry-After, never left to time out. The
        # clients wait what Retry-After says (clients that retry at once make the refusals
        # themselves the load). (Skipped for the per-request server: it has no admission control.)
        burst = (asyncio.run(closed_loop(port, BURST_CLIENTS, OVERLOAD_SECONDS, 2.0, mix, honor_retry_after=True))
                 if batched else None)
        peak = peak_rss_mib(process.pid)
    finally:
        stop_server(process)
    one, ten = single_run.summary(), concurrent_run.summary()
    return {
        "backend": name,
        "cold_start_s": round(cold_start, 2),
        "single_client": {k: one[k] for k in ("p50_ms", "p95_ms", "p99_ms", "req_per_s", "requests", "errors")},
        "concurrent": {k: ten[k] for k in ("clients", "items_per_s", "req_per_s", "p50_ms", "p95_ms", "p99_ms",
                                           "requests", "errors", "statuses", "client_exceptions")},
        "overload_from_start": overload_summary(startup),
        "overload_burst": overload_summary(burst),
        "peak_rss_mib": peak,
        "server_cpu_cores_used": round(cores_used, 2),
        "server_cpu_ms_per_item": round(1000 * cores_used / max(ten["items_per_s"], 1e-9), 1),
    }


def overload_summary(run: LoadResult | None) -> dict | None:
    """An overload run: p99_ms is that of the admitted (200) requests."""
    if run is None:
        return None
    summary = run.summary()
    return {"clients": run.clients, "seconds": run.seconds, "queue_max_seconds": QUEUE_MAX_SECONDS,
            **{k: summary[k] for k in ("items_per_s", "p50_ms", "p99_ms", "statuses", "refusal_p99_ms",
                                       "client_exceptions")}}


# ---------------------------------------------------------------- bare forward passes


def forward_floors(model_dirs: dict[str, Path], names: list[str], repeats: int) -> dict[str, dict[str, float]]:
    """Median milliseconds of one forward pass, batch 1, 16/64/128 tokens, per backend."""
    import numpy as np

    floors: dict[str, dict[str, float]] = {}
    rng = np.random.default_rng(0)
    for name in names:
        kind = BACKENDS[name][0]
        if kind == "hf":
            from inference.app.backends.pytorch import TransformersClassifier

            model = TransformersClassifier(model_dirs["hf"], device="cpu")
        else:
            from inference.app.backends.onnx import OnnxClassifier

            model = OnnxClassifier(model_dirs[kind])
        key = "pytorch" if kind == "hf" else kind
        if key in floors:
            continue
        floors[key] = {}
        for tokens in (16, 64, 128):
            ids = [2, *rng.integers(100, 30000, tokens - 2).tolist(), 3]
            for _ in range(3):
                model.forward([ids])
            times = []
            for _ in range(repeats):
                begin = time.perf_counter()
                model.forward([ids])
                times.append(time.perf_counter() - begin)
            floors[key][str(tokens)] = round(1000 * statistics.median(times), 2)
        # A padded batch like the mix's: 8 texts of 15-90 tokens, items per second.
        batch = [[2, *rng.integers(100, 30000, int(n) - 2).tolist(), 3] for n in rng.integers(15, 91, 8)]
        model.forward(batch)
        begin = time.perf_counter()
        for _ in range(max(3, repeats // 5)):
            model.forward(sorted(batch, key=len))
        floors[key]["batch8_mix_items_per_s"] = round(8 * max(3, repeats // 5) / (time.perf_counter() - begin), 1)
        del model
    return floors


# ---------------------------------------------------------------- main


def prepare_models(names: list[str], log) -> dict[str, Path]:
    from bench.model import build_model

    dirs = {"hf": CACHE / "model-hf"}
    if not (dirs["hf"] / "model_info.json").is_file():
        log("building the full-size random-weight DistilBERT (offline)...")
    build_model(dirs["hf"])
    for kind in ("onnx-fp32", "onnx-int8"):
        if not any(BACKENDS[n][0] == kind for n in names):
            continue
        dirs[kind] = CACHE / kind
        if not (dirs[kind] / "onnx_export.json").is_file():
            log(f"exporting {kind} with python -m inference.export ...")
            command = [sys.executable, "-m", "inference.export", str(dirs["hf"]), str(dirs[kind])]
            subprocess.run(command + (["--int8"] if kind == "onnx-int8" else []), cwd=REPO, check=True)
    return dirs


def machine() -> dict:
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    from inference.app.backends.cpus import available_cpus, cgroup_cpu_quota

    return {"cpus": available_cpus(), "cgroup_cpu_quota": cgroup_cpu_quota(), "cpu_model": cpu_model,
            "python": platform.python_version(), "platform": platform.platform()}


def versions() -> dict:
    import importlib.metadata as metadata

    return {name: metadata.version(name) for name in ("onnxruntime", "torch", "transformers", "tokenizers", "uvicorn")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of the 10-client run (default 30)")
    parser.add_argument("--single-seconds", type=float, default=10.0, help="seconds of the 1-client run")
    parser.add_argument("--backends", nargs="+", default=[REFERENCE, "onnx-fp32", "onnx-int8"],
                        choices=sorted(BACKENDS))
    parser.add_argument("--repeats", type=int, default=30, help="forward passes per floor measurement")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, flush=True)

    dirs = prepare_models(args.backends, log)
    load_before = os.getloadavg()
    log(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")
    log("bare forward passes (batch 1, median ms)...")
    floors = forward_floors(dirs, args.backends, args.repeats)
    mix, single = build_bodies(args.seed)
    runs: dict[str, dict] = {}
    for name in args.backends:
        kind, env = BACKENDS[name]
        log(f"server {name}: cold start, 1 client for {args.single_seconds:.0f} s, 10 clients for {args.duration:.0f} s...")
        run = run_server_benchmark(name, dirs[kind], env, duration=args.duration, single_seconds=args.single_seconds,
                                   mix=mix, single=single)
        floor = floors["pytorch" if kind == "hf" else kind]
        run["forward_pass_ms"] = floor["16"]
        run["forward_pass_ms_by_tokens"] = {k: v for k, v in floor.items() if k.isdigit()}
        run["forward_batch8_mix_items_per_s"] = floor["batch8_mix_items_per_s"]
        runs[name] = run
        log(f"  cold start {run['cold_start_s']} s | 1 client p50 {run['single_client']['p50_ms']} ms "
            f"({run['single_client']['req_per_s']} req/s) | 10 clients {run['concurrent']['items_per_s']} items/s "
            f"p99 {run['concurrent']['p99_ms']} ms errors {run['concurrent']['errors']} | peak RSS {run['peak_rss_mib']} MiB"
            f" | server used {run['server_cpu_cores_used']} cores, {run['server_cpu_ms_per_item']} CPU ms/item")
    load_after = os.getloadavg()

    info = machine()
    default = DEFAULT_BACKEND if DEFAULT_BACKEND in runs else args.backends[-1]
    top = runs[default]
    results = {
        "backend": default,
        "cpus": info["cpus"],
        "model": MODEL_NAME,
        "single_client": {k: top["single_client"][k] for k in ("p50_ms", "p99_ms", "req_per_s", "p95_ms")},
        "concurrent": {k: top["concurrent"][k] for k in ("clients", "items_per_s", "req_per_s", "p50_ms", "p99_ms",
                                                         "p95_ms", "errors")},
        "forward_pass_ms": top["forward_pass_ms"],
        "cold_start_s": top["cold_start_s"],
        "peak_rss_mib": top["peak_rss_mib"],
        "load": "10 closed-loop clients: 70% /predict, 30% /predict/batch of 5-10 texts, texts of 15-90 tokens; "
                "1 client: /predict of a 16-token text",
        "machine": {**info, "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in load_after]},
        "versions": versions(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": runs,
    }
    if REFERENCE in runs:
        results["goals"] = goals(runs, runs[REFERENCE])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(runs, results, load_before, load_after)
    log(f"wrote {args.out}")
    return 0


def goals(runs: dict[str, dict], reference: dict) -> dict:
    """The issue's goals, per backend, against the per-request reference measured in the same run."""
    out = {}
    for name, run in runs.items():
        if name == REFERENCE:
            continue
        items_ratio = run["concurrent"]["items_per_s"] / max(reference["concurrent"]["items_per_s"], 1e-9)
        p99_ratio = run["concurrent"]["p99_ms"] / max(reference["concurrent"]["p99_ms"], 1e-9)
        p50_over_floor = run["single_client"]["p50_ms"] / run["forward_pass_ms"]
        out[name] = {
            "items_per_s_vs_reference": round(items_ratio, 2), "items_goal_4x": items_ratio >= 4,
            "p99_vs_reference": round(p99_ratio, 2), "p99_goal_half": p99_ratio <= 0.5,
            "single_p50_vs_forward_pass": round(p50_over_floor, 2), "single_p50_goal_1_15": p50_over_floor <= 1.15,
            "cold_start_goal_1_5_s": run["cold_start_s"] <= 1.5,
        }
    return out


def print_table(runs: dict[str, dict], results: dict, load_before, load_after) -> None:
    print()
    print(f"machine: {results['machine']['cpus']} CPUs ({results['machine']['cpu_model']}), load average "
          f"{load_before[0]:.2f} before / {load_after[0]:.2f} after; model: {MODEL_NAME}")
    header = (f"{'backend':<21}{'fwd 16/64/128 ms':>19}{'cold s':>8}{'1c p50':>8}{'1c req/s':>9}"
              f"{'10c items/s':>12}{'10c req/s':>10}{'p50':>8}{'p95':>8}{'p99':>8}{'err':>5}{'RSS MiB':>9}")
    print(header)
    print("-" * len(header))
    for name, run in runs.items():
        floor = run["forward_pass_ms_by_tokens"]
        c = run["concurrent"]
        print(f"{name:<21}{floor['16']:>7.1f}/{floor['64']:>5.1f}/{floor['128']:>5.1f}{run['cold_start_s']:>8.2f}"
              f"{run['single_client']['p50_ms']:>8.1f}{run['single_client']['req_per_s']:>9.1f}"
              f"{c['items_per_s']:>12.1f}{c['req_per_s']:>10.1f}{c['p50_ms']:>8.0f}{c['p95_ms']:>8.0f}{c['p99_ms']:>8.0f}"
              f"{c['errors']:>5}{run['peak_rss_mib'] or 0:>9.0f}")
    for name, goal in results.get("goals", {}).items():
        print(f"{name}: items/s x{goal['items_per_s_vs_reference']} (goal >= 4), p99 x{goal['p99_vs_reference']} "
              f"(goal <= 0.5), 1-client p50 / forward pass x{goal['single_p50_vs_forward_pass']} (goal <= 1.15), "
              f"cold start {runs[name]['cold_start_s']} s (goal <= 1.5)")
    for name, run in runs.items():
        for phase, key in (("from start-up", "overload_from_start"), ("after warm-up", "overload_burst")):
            burst = run.get(key)
            if not burst:
                continue
            print(f"{name}: overload {phase}, {burst['clients']} clients -> statuses {burst['statuses']}; "
                  f"p99 of admitted requests {burst['p99_ms']} ms (QUEUE_MAX_SECONDS {QUEUE_MAX_SECONDS:g} s), "
                  f"p99 of refusals {burst['refusal_p99_ms']} ms" +
                  (f", client-side failures {burst['client_exceptions']}" if burst["client_exceptions"] else ""))


if __name__ == "__main__":
    sys.exit(main())
