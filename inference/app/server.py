"""The HTTP server: uvicorn with the limits a service on the internet needs.

``python -m inference.app.server`` is what the image's ``serve`` entrypoint runs;
``python -m inference.app.local`` (``make serve``) runs the same ``serve()``. One worker: the
forward pass already spreads over every CPU. The limits, all from ``Settings``:

- ``MAX_CONNECTIONS``: uvicorn's ``limit_concurrency`` (connections or requests at once;
  beyond, uvicorn answers 503 and closes);
- ``REQUEST_READ_TIMEOUT_SECONDS``: a connection that has not sent a request's headers within
  it (from the connection, or from the previous answer on a kept-alive one) gets 408 and is
  closed (``HeaderDeadlineProtocol``, below); the body then gets as long again
  (``middleware.RequestMiddleware``).

Listens on HOST (default 0.0.0.0) and PORT (default 8080).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .settings import Settings

APP = "inference.app.main:app"
GRACEFUL_SHUTDOWN_SECONDS = 20

_TIMEOUT_BODY = json.dumps({"error": "request_timeout", "detail": "the request headers did not arrive in time "
                            "(REQUEST_READ_TIMEOUT_SECONDS); send them at once"}).encode()
_TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                     b"content-length: " + str(len(_TIMEOUT_BODY)).encode() + b"\r\n\r\n" + _TIMEOUT_BODY)


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for the request headers.

    uvicorn has none: a connection that sends nothing, or its headers a byte at a time, is held
    for ever, and with a connection limit a few hundred of them lock everyone out. The deadline
    runs while h11 waits for a request (``their_state`` IDLE) on an open connection.
    """

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        # After an answer, uvicorn's keep-alive timer covers the idle wait; the deadline starts
        # with the first byte of the next request.
        if self._header_deadline is None and self.conn.their_state is h11.IDLE:
            self._arm_header_deadline()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the headers are in: the body has its own deadline
            self._disarm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def _disarm_header_deadline(self) -> None:
        if getattr(self, "_header_deadline", None) is not None:
            self._header_deadline.cancel()  # type: ignore[union-attr]
            self._header_deadline = None

    def _headers_timed_out(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.write(_TIMEOUT_RESPONSE)
            self.transport.close()


def protocol_for(settings: Settings) -> type[HeaderDeadlineProtocol]:
    """The protocol class with this configuration's header deadline."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,),
                {"header_timeout": settings.request_read_timeout_seconds})


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn configuration both entry points use (host and port aside)."""
    return {
        "http": protocol_for(settings),
        "limit_concurrency": settings.max_connections,
        "workers": 1,
        "access_log": False,  # the middleware logs one JSON line per request
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }


def serve(app: Any, settings: Settings, *, host: str, port: int) -> None:
    """Run ``app`` (an ASGI app or an import string) until SIGTERM or SIGINT."""
    uvicorn.run(app, host=host, port=port, **uvicorn_options(settings))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args:
        print(f"inference.app.server takes no arguments (got {' '.join(args)}): configure it with environment "
              "variables (inference/README.md, Settings)", file=sys.stderr)
        return 2
    host = os.environ.get("HOST", "0.0.0.0")  # nosec B104  # a container listens on its own interfaces
    serve(APP, Settings(), host=host, port=int(os.environ.get("PORT", "8080")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
