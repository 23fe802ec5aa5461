"""Fixtures for the inference service: a tiny random model built offline, once per session."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from inference.app.backends.pytorch import TransformersClassifier
from inference.app.dev_model import build_tiny_model
from inference.app.main import create_app
from inference.app.observability import SERVICE_NAME, logger
from inference.app.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
INFERENCE_DIR = REPO_ROOT / "inference"
MODEL_MAX_TOKENS = 64


_WORDS = "loved terrible fine fantastic broke okay best never quick brown fox lazy dog staff food wait money".split()


@pytest.fixture(scope="session")
def varied_texts() -> Callable[[int], list[str]]:
    """n different texts of different lengths: a random model gives them visibly different answers."""
    return lambda n: [f"review {i}: " + " ".join(_WORDS[(i * 7 + k * 3) % len(_WORDS)] for k in range(3 + i % 9))
                      for i in range(n)]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), max_length=MODEL_MAX_TOKENS)


@pytest.fixture(scope="session")
def classifier(tiny_model_dir: Path) -> TransformersClassifier:
    return TransformersClassifier(tiny_model_dir)


@pytest.fixture(scope="session")
def settings(tiny_model_dir: Path) -> Settings:
    return Settings(model_dir=tiny_model_dir, platform="test", emf_metrics=True)


@pytest.fixture(scope="session")
def make_app(classifier: TransformersClassifier, settings: Settings) -> Callable[..., FastAPI]:
    """An app around the session's loaded classifier (no reload per test), model ready."""

    def make(classifier_: object = classifier, **overrides: object) -> FastAPI:
        app = create_app(settings.model_copy(update=overrides), loader=lambda _: classifier_, load_on_startup=False)
        app.state.service.load()
        return app

    return make


@pytest.fixture(scope="session")
def client(make_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with TestClient(make_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict]]]:
    """The service's JSON log lines written during the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    std_logger = logging.getLogger(SERVICE_NAME)
    std_logger.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    finally:
        std_logger.removeHandler(handler)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {process.stdout.read() if process.stdout else ''}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout}s")


@contextmanager
def running_server(model_dir: Path, log_dir: Path, **env: str) -> Iterator[str]:
    """The image's `serve` entrypoint script, run as `serve serve` on a free port, with ``env`` added."""
    port = free_port()
    venv_bin = str(Path(sys.executable).parent)
    environment = {**os.environ, "MODEL_DIR": str(model_dir), "PORT": str(port), "HOST": "127.0.0.1",
                   "PLATFORM": "test-live", "EMF_METRICS": "false",
                   "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO_ROOT), **env}
    log = (log_dir / "server.log").open("w+")
    process = subprocess.Popen([str(INFERENCE_DIR / "docker" / "serve"), "serve"], cwd=REPO_ROOT, env=environment,
                               stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{base_url}/ping", process)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def live_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # No time bound on the queue: these tests check answers, and on a busy machine the measured
    # rate would refuse some of their bursts (test_batching and test_hostile test admission).
    with running_server(tiny_model_dir, tmp_path_factory.mktemp("live"), QUEUE_MAX_SECONDS="0") as base_url:
        yield base_url
