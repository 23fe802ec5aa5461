"""``make image-run [PORT=8080] [TARGET=server] [MODEL=full]``: run a built image on loopback, in
the foreground, the way Fargate and EKS run it (its entrypoint, its user 10001, a read-only root
filesystem with only /tmp writable, PORT from the environment) until Ctrl-C, which sends SIGTERM.

TARGET=lambda runs the Lambda image under its runtime interface client against a loopback Runtime
API that also takes invocations on PORT, as AWS's runtime interface emulator does:
    curl -s localhost:PORT/2015-03-31/functions/function/invocations -d @inference/events/apigw-http-v2.json
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from . import checks
from .build import BUILDS, WORK_DIR, build_images, model_dirs, plan, tag_of
from .engines import RunSpec, engine_for
from .runtime_api import INVOKE_PATH, RuntimeApi

TARGETS = ("server", "lambda", "server-pytorch", "server-gpu")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=TARGETS, default="server")
    parser.add_argument("--model", choices=("full", "tiny"), default=None,
                        help="the model baked in (default: full, or tiny for server-pytorch)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--engine", choices=("buildah", "docker"))
    args = parser.parse_args(argv)
    model = args.model or next(m for t, m in BUILDS if t == args.target)
    if (args.target, model) not in BUILDS:
        raise SystemExit(f"make image builds {args.target} with: "
                         + ", ".join(m for t, m in BUILDS if t == args.target))
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    engine = engine_for(args.engine, WORK_DIR)
    tag = tag_of(args.target, model)
    build_images(engine, [p for p in plan(BUILDS, model_dirs(), WORK_DIR / "cdk.out") if p.tag == tag])

    # Ctrl-C and SIGTERM both stop the container gracefully (SIGTERM to it, then wait).
    stop = {"requested": False}
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.update(requested=True))
    if args.target == "lambda":
        with RuntimeApi(args.port, timeout_s=checks.LAMBDA_TIMEOUT_S) as api:
            container = engine.start(RunSpec(tag, env=checks.lambda_env(api.address), host_network=True,
                                             user=checks.LAMBDA_USER), stdout=sys.stdout)
            print(f"{tag}: invoke with  curl -s localhost:{args.port}{INVOKE_PATH} "
                  "-d @inference/events/apigw-http-v2.json", flush=True)
            return _until_stopped(container, stop)
    container = engine.start(RunSpec(tag, host_port=args.port, container_port=args.port,
                                     env={"PORT": str(args.port)}), stdout=sys.stdout)
    print(f"{tag}: serving on http://127.0.0.1:{args.port} (docs: /docs); Ctrl-C stops it", flush=True)
    return _until_stopped(container, stop)


def _until_stopped(container, stop: dict) -> int:
    try:
        while not stop["requested"]:
            try:
                return container.wait(0)  # it exited by itself
            except TimeoutError:
                time.sleep(0.2)
        print("stopping: SIGTERM to the container, in-flight requests drain", flush=True)
        return container.stop()
    finally:
        container.remove()


if __name__ == "__main__":
    sys.exit(main())
