"""A loopback AWS Lambda Runtime API (2018-06-01): what Lambda's service side shows a runtime.

A Lambda image's entrypoint (here AWS's runtime interface client, ``python -m awslambdaric``)
initialises, then long-polls ``GET /runtime/invocation/next`` for an event and posts the result
to ``/runtime/invocation/{id}/response`` or ``/error``; a failed init posts
``/runtime/init/error``. ``RuntimeApi.invoke`` hands one event to the runtime and waits for its
answer, as one Lambda invocation. The first ``/next`` marks the end of the init phase: its time is
the init duration (handler import and model load), which Lambda reports as ``Init Duration``.

``POST /2015-03-31/functions/function/invocations`` (the Lambda Invoke API's path, as AWS's
runtime interface emulator serves it) invokes over HTTP: ``make image-run TARGET=lambda`` and curl.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
#: Lambda's limit on a synchronous response payload.
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:ml-inference-image-test"


@dataclass
class Invocation:
    request_id: str
    event: bytes
    deadline_ms: int
    done: threading.Event = field(default_factory=threading.Event)
    #: "response" or "error", once the runtime answered.
    outcome: str | None = None
    body: bytes = b""
    error_type: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A runtime that exits while long-polling /next leaves a closed socket: not an error.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class RuntimeApi:
    """The Runtime API on 127.0.0.1 (a free port unless one is given), in a background thread."""

    def __init__(self, port: int = 0, *, timeout_s: float = 60) -> None:
        self.timeout_s = timeout_s
        self._pending: queue.Queue[Invocation] = queue.Queue()
        self._invocations: dict[str, Invocation] = {}
        self._stopping = threading.Event()
        #: Set at the runtime's first GET /next: the end of its init phase.
        self.ready = threading.Event()
        self.first_next_at: float | None = None
        #: The body of POST /init/error, if the runtime's init failed.
        self.init_error: dict | None = None
        self.init_failed = threading.Event()
        self._server = _Server(("127.0.0.1", port), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, name="runtime-api", daemon=True)

    @property
    def address(self) -> str:
        """host:port, the value of AWS_LAMBDA_RUNTIME_API."""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def __enter__(self) -> RuntimeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def invoke(self, event: Any, timeout: float | None = None) -> Invocation:
        """Give ``event`` (JSON-serializable, or bytes) to the runtime; wait for its answer."""
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        timeout = self.timeout_s if timeout is None else timeout
        invocation = Invocation(uuid.uuid4().hex, body, int((time.time() + timeout) * 1000))
        self._invocations[invocation.request_id] = invocation
        self._pending.put(invocation)
        if not invocation.done.wait(timeout):
            raise TimeoutError(f"invocation {invocation.request_id} got no answer in {timeout}s")
        return invocation

    # ---------------------------------------------------------------- the HTTP side

    def _next(self) -> Invocation | None:
        if self.first_next_at is None:
            self.first_next_at = time.monotonic()
            self.ready.set()
        while not self._stopping.is_set():
            try:
                return self._pending.get(timeout=0.2)
            except queue.Empty:
                continue
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # the runtime client keeps its connection open

            def log_message(self, *args: object) -> None:  # quiet: the checks print what matters
                pass

            def _reply(self, status: int, payload: dict | bytes, headers: dict[str, str] | None = None) -> None:
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404, {"errorMessage": f"no route {self.path}", "errorType": "NotFound"})
                invocation = api._next()
                if invocation is None:
                    return self._reply(503, {"errorMessage": "shutting down", "errorType": "ServiceUnavailable"})
                self._reply(200, invocation.event, {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{invocation.request_id[:24]};Sampled=0",
                })

            def do_POST(self) -> None:  # noqa: N802
                body = self._body()
                if self.path == INVOKE_PATH:
                    return self._invoke(body)
                if self.path == f"{PREFIX}/init/error":
                    api.init_error = _json_or_text(body)
                    api.init_failed.set()
                    return self._reply(202, {"status": "OK"})
                parts = self.path[len(PREFIX):].strip("/").split("/")
                if len(parts) != 3 or parts[0] != "invocation" or parts[2] not in ("response", "error"):
                    return self._reply(404, {"errorMessage": f"no route {self.path}", "errorType": "NotFound"})
                invocation = api._invocations.get(parts[1])
                if invocation is None or invocation.done.is_set():
                    return self._reply(400, {"errorMessage": f"unknown or answered request id {parts[1]}",
                                             "errorType": "InvalidRequestID"})
                if parts[2] == "response" and len(body) > MAX_RESPONSE_BYTES:
                    invocation.outcome, invocation.error_type = "error", "Function.ResponseSizeTooLarge"
                    invocation.body = body[:1000]
                    invocation.done.set()
                    return self._reply(413, {"errorMessage": "response too large", "errorType": "RequestEntityTooLarge"})
                invocation.outcome, invocation.body = parts[2], body
                invocation.error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                invocation.done.set()
                self._reply(202, {"status": "OK"})

            def _invoke(self, body: bytes) -> None:
                if api.init_failed.is_set():
                    return self._reply(502, api.init_error or {}, {"X-Amz-Function-Error": "Unhandled"})
                try:
                    invocation = api.invoke(body)
                except TimeoutError as error:
                    return self._reply(504, {"errorMessage": str(error), "errorType": "Task.TimedOut"})
                # Like Lambda's Invoke: 200 either way; a function error is flagged in a header.
                flag = {"X-Amz-Function-Error": "Unhandled"} if invocation.outcome == "error" else {}
                self._reply(200, invocation.body, flag)

        return Handler


def _json_or_text(body: bytes) -> dict:
    try:
        return json.loads(body)
    except ValueError:
        return {"errorMessage": body.decode(errors="replace")}
