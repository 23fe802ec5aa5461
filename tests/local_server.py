"""`python -m inference.app.local` (what `make serve` runs) on a free loopback port, for the tests
that call the service over real HTTP (the load test, the smoke test)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def local_server(workdir: Path, timeout: float = 120) -> Iterator[str]:
    """The service's base URL; it builds its tiny untrained model into `workdir`, where it runs."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "PYTHONPATH": str(REPO), "EMF_METRICS": "false",
           "LOG_LEVEL": "WARNING"}
    env.pop("MODEL_DIR", None)
    log = (workdir / "server.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "inference.app.local"], cwd=workdir, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                pytest.fail(f"server exited: {(workdir / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not ready in {timeout:g} s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
