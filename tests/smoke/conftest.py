"""The smoke test's targets: the real service on loopback (its tiny model built offline), and
stand-ins that break one thing each, served by the standard library's HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.local_server import local_server as serve_locally


@pytest.fixture(scope="session")
def local_service(tmp_path_factory) -> Iterator[str]:
    """`python -m inference.app.local` (what `make serve` runs) with its tiny random model, on a free port."""
    with serve_locally(tmp_path_factory.mktemp("smoke-service")) as url:
        yield url


def fake_answer(text: str, label_field: str = "label") -> dict:
    """A deterministic stand-in prediction: different texts get visibly different answers."""
    return {label_field: "POSITIVE" if len(text) % 2 else "NEGATIVE", "confidence": round(0.55 + (len(text) % 9) * 0.05, 3),
            "model_version": "stand-in", "processing_time_ms": 1.0, "truncated": False}


#: Each mode breaks one thing; "good" and "sentiment" answer as the service does.
MODES = ("good", "sentiment", "health-500", "starting", "5xx", "no-label", "unknown-label", "bad-confidence",
         "not-json", "batch-reversed", "batch-short", "slow", "sluggish", "accepts-empty", "empty-5xx",
         "bad-error-body", "forbidden")


class StandIn:
    """A broken (or not) copy of the service's HTTP API at `url`, in a thread."""

    def __init__(self, mode: str) -> None:
        assert mode in MODES, mode
        self.mode = mode
        self.health_calls = 0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                stand_in.health_calls += 1
                if stand_in.mode == "health-500":
                    self._send(500, {"error": "internal_error", "detail": "boom"})
                elif stand_in.mode == "starting" and stand_in.health_calls < 3:
                    self._send(503, {"error": "model_not_ready", "detail": "loading"})
                elif stand_in.mode == "forbidden":
                    self._send(403, {"Message": "Forbidden"})
                else:
                    self._send(200, {"status": "ok", "model_version": "stand-in", "platform": "test"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                self._send(*stand_in.answer(self.path, body))

            def _send(self, status: int, body, content_type: str = "application/json") -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                pass  # a client that gave up (the timeout test): not the test's output

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, path: str, body: dict):
        mode = self.mode
        if path == "/predict/batch":
            predictions = [fake_answer(text) for text in body["texts"]]
            if mode == "batch-reversed":
                predictions.reverse()
            if mode == "batch-short":
                predictions.pop()
            return 200, {"predictions": predictions}
        text = body.get("text", "")
        if not text.strip():
            if mode == "accepts-empty":
                return 200, fake_answer("x")
            if mode == "empty-5xx":
                return 500, {"error": "internal_error", "detail": "crashed on empty input"}
            if mode == "bad-error-body":
                return 422, b"empty text", "text/plain"
            return 422, {"error": "empty_text", "detail": "text is empty or whitespace"}
        if mode == "5xx":
            return 500, {"error": "internal_error", "detail": "the model crashed"}
        if mode == "slow":
            time.sleep(2)
        if mode == "sluggish":
            time.sleep(0.15)
        answer = fake_answer(text, "sentiment" if mode == "sentiment" else "label")
        if mode == "no-label":
            answer.pop("label")
        if mode == "unknown-label":
            answer["label"] = "MAYBE"
        if mode == "bad-confidence":
            answer["confidence"] = 1.7
        if mode == "not-json":
            return 200, b"<html>ok</html>", "text/html"
        return 200, answer

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in() -> Iterator:
    started: list[StandIn] = []

    def start(mode: str) -> StandIn:
        started.append(StandIn(mode))
        return started[-1]

    yield start
    for server in started:
        server.close()
