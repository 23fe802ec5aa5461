"""``make image-test``: build what is missing, run and check every image, write the report.

    python -m image.suite [--engine buildah|docker] [--report build/image-report.json]

The same script runs here (buildah, stand-in bases) and in the GitHub Actions image job (Docker
Buildx, real bases). Exit status 1 when a check fails; the goals are reported, not enforced.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from . import checks, report
from .build import BUILDS, REPO, WORK_DIR, build_images, model_dirs, plan, tag_of

#: What the ONNX serving images must not carry: build-time tools and what only they pulled in.
NOT_IN_ONNX_IMAGES = ("pip", "huggingface_hub", "hf_xet", "torch", "transformers", "onnx")
COLD_START_RUNS = 3


class Suite:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.results: dict[str, dict] = {}
        #: Init seconds of each Lambda image's runs.
        self.lambda_inits: dict[str, list[float]] = {}

    def check(self, name: str, function: Callable, *args, **kwargs):
        """Run one check; record it passed or failed (and why); its result, or None."""
        print(f"--- {name}", flush=True)
        start = time.monotonic()
        try:
            value = function(self.engine, *args, **kwargs)
        except Exception as error:  # a failed check must not stop the others
            detail = str(error) if isinstance(error, checks.CheckFailed) else traceback.format_exc()
            print(f"FAILED {name}: {detail}", flush=True)
            self.results[name] = {"passed": False, "detail": detail[-3000:], "s": round(time.monotonic() - start, 1)}
            return None
        self.results[name] = {"passed": True, "s": round(time.monotonic() - start, 1)}
        print(f"ok {name} ({self.results[name]['s']} s)", flush=True)
        return value

    def serving_images(self, model: str) -> None:
        """server and lambda built with ``model``: every contract, the Lambda answers equal to the server's."""
        server, lam = tag_of("server", model), tag_of("lambda", model)
        self.check(f"{server} inside: uid 10001, read-only root, no build tools", checks.check_inside, server,
                   absent=NOT_IN_ONNX_IMAGES + ("awslambdaric",), present=("onnxruntime", "tokenizers", "inference.app.main"))
        served = self.check(f"{server} as Fargate/EKS run it: whole API, bad input, SIGTERM", checks.check_server, server)
        self.check(f"{server} as SageMaker starts it: serve, port 8080", checks.check_sagemaker, server)
        self.check(f"{lam} inside, as Lambda's user", checks.check_inside, lam, absent=NOT_IN_ONNX_IMAGES,
                   present=("awslambdaric", "inference.app.lambda_handler"), entrypoint=("python",), user=checks.LAMBDA_USER)
        answered = self.check(f"{lam} under awslambdaric: HTTP API v2 and Function URL events", checks.check_lambda,
                              lam, served["answers"] if served else None)
        self.lambda_inits[lam] = [answered["init_s"]] if answered else []


def main(argv: list[str] | None = None) -> int:
    from .engines import engine_for

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("buildah", "docker"))
    parser.add_argument("--report", type=Path, default=REPO / "build" / "image-report.json")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so every started container is removed on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    engine = engine_for(args.engine, WORK_DIR)
    plans = plan(BUILDS, model_dirs(), WORK_DIR / "cdk.out")
    build_images(engine, plans)
    built = time.monotonic()

    suite = Suite(engine)
    suite.serving_images("tiny")
    suite.serving_images("full")
    server, lam, gpu = tag_of("server", "full"), tag_of("lambda", "full"), tag_of("server-gpu", "full")
    suite.check(f"{server}: SIGTERM drains requests in flight", checks.check_drain, server)
    cold = suite.check(f"{server}: cold start x{COLD_START_RUNS}", checks.cold_starts, server, COLD_START_RUNS) or []
    for run in range(2, COLD_START_RUNS + 1):
        again = suite.check(f"{lam}: Lambda init, run {run}", checks.check_lambda, lam)
        suite.lambda_inits[lam] += [again["init_s"]] if again else []
    pytorch = tag_of("server-pytorch", "tiny")
    suite.check(f"{pytorch} inside", checks.check_inside, pytorch, absent=("pip",), present=("torch", "transformers"))
    suite.check(f"{pytorch} as Fargate/EKS run it", checks.check_server, pytorch)
    suite.check(f"{pytorch} as SageMaker starts it", checks.check_sagemaker, pytorch)
    gpu_inside = suite.check(f"{gpu} inside: CUDA torch, no ONNX", checks.check_inside, gpu,
                             absent=("pip", "onnxruntime"), present=("torch", "transformers", "inference.app.main"))
    # No GPU here: the PyTorch backend falls back to CPU, which proves the image serves; not CUDA.
    gpu_served = suite.check(f"{gpu} on CPU (no GPU here): whole API, SIGTERM", checks.check_server, gpu)
    gpu_cold = suite.check(f"{gpu} on CPU: cold start", checks.cold_starts, gpu, 1)

    sizes = {item.tag: engine.size(item.tag) for item in plans if engine.labels(item.tag) is not None}
    largest = {}
    for tag in (server, lam, gpu):
        if tag in sizes:
            with engine.files(tag) as files:
                largest[tag] = report.contributors(files)
    server_layers, lambda_layers = set(engine.layers(server)), engine.layers(lam)
    shared = {"layers": sum(layer in server_layers for layer in lambda_layers), "of": len(lambda_layers)}
    data = report.build_report(
        engine=engine.name, driver=getattr(engine, "driver", None), sizes=sizes, cold_starts=cold,
        lambda_inits=suite.lambda_inits.get(lam, []), largest=largest, shared_layers=shared,
        checks=suite.results, seconds={"build": round(built - started, 1), "total": round(time.monotonic() - started, 1)},
        gpu={"tag": gpu, "bytes": sizes.get(gpu), "torch_cuda": (gpu_inside or {}).get("torch_cuda"),
             "cuda_available_here": (gpu_inside or {}).get("cuda_available"),
             "cpu_cold_start_s": (gpu_cold or [None])[0], "served_on_cpu": gpu_served is not None})
    report.write(data, args.report)
    print(report.summary(data))
    print(f"make image-test: {time.monotonic() - started:.0f} s ({built - started:.0f} s building) with {engine.name}")
    return 0 if all(result["passed"] for result in suite.results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
