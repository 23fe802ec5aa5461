"""One ASGI middleware around every request: request id, charset and body limits, the body-read
deadline, access log, metrics, 500s.

Pure ASGI (not BaseHTTPMiddleware) so it can stop reading a body at the limit and answer
before the app runs.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .bodies import refuse_charset
from .errors import error_response
from .observability import logger
from .service import ModelService

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/=+\-]{1,128}")
_DEBUG_TEXT_CHARS = 1000


def _request_id(headers: Headers, scope: Scope) -> str:
    given = headers.get(REQUEST_ID_HEADER, "")
    if _SAFE_REQUEST_ID.fullmatch(given):
        return given
    lambda_context = scope.get("aws.context")  # set by Mangum
    aws_request_id = getattr(lambda_context, "aws_request_id", None)
    if isinstance(aws_request_id, str) and _SAFE_REQUEST_ID.fullmatch(aws_request_id):
        return aws_request_id
    return uuid.uuid4().hex


class _BodyError(Exception):
    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> None:
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


class RequestMiddleware:
    def __init__(self, app: ASGIApp, service: ModelService, paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.service = service
        self.settings = service.settings
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        request_id = _request_id(headers, scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        metrics = self.service.metrics
        metrics.in_flight.inc()
        try:
            try:
                body = await self._read_body(headers, receive)
            except _BodyError as exc:
                await error_response(exc.status, exc.error, exc.detail, exc.headers)(scope, receive, send_with_id)
                return
            if body is None:
                return  # The client went away before sending its body.
            await self.app(scope, _replay(body, receive), send_with_id)
        except Exception:
            logger.exception("unhandled error", extra={"request_id": request_id, "path": scope.get("path")})
            if not response_started:
                detail = f"an unexpected error occurred; quote request id {request_id} when reporting it"
                await error_response(500, "internal_error", detail)(scope, receive, send_with_id)
        finally:
            metrics.in_flight.dec()
            seconds = time.perf_counter() - started
            endpoint = self._endpoint(scope)
            metrics.observe_request(endpoint, status, seconds)
            self._log(scope, state, request_id, endpoint, status, seconds)

    def _endpoint(self, scope: Scope) -> str:
        """The route's path template: a metric label with a bounded set of values."""
        route = scope.get("route")
        if route is not None:
            return route.path
        path = scope.get("path")  # answered before routing (body errors): its path, if the API has it
        return path if path in self.paths else "unmatched"

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes | None:
        """The whole body, read at most up to the limit, whether or not a Content-Length was sent,
        within REQUEST_READ_TIMEOUT_SECONDS. A charset that is not read in one pass is refused
        before the body is read at all."""
        refused = refuse_charset(headers.get("content-type"))
        if refused is not None:
            raise _BodyError(refused.status, refused.error, refused.detail)
        limit = self.settings.max_body_bytes
        content_length = headers.get("content-length", "")
        if content_length.isdigit() and int(content_length) > limit:
            raise self._too_large()
        timeout = self.settings.request_read_timeout_seconds
        try:
            return await asyncio.wait_for(self._receive_body(receive, limit), timeout)
        except asyncio.TimeoutError:
            # Connection: close, so uvicorn drops the connection and the rest of the slow body.
            raise _BodyError(408, "request_timeout", f"the body did not arrive within {timeout:g} s "
                             "(REQUEST_READ_TIMEOUT_SECONDS); send it at once", {"Connection": "close"}) from None

    async def _receive_body(self, receive: Receive, limit: int) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> _BodyError:
        return _BodyError(413, "body_too_large", f"the body is larger than {self.settings.max_body_bytes} bytes "
                          "(MAX_BODY_BYTES); send fewer or shorter texts")

    def _log(self, scope: Scope, state: dict, request_id: str, endpoint: str, status: int, seconds: float) -> None:
        fields = {
            "request_id": request_id,
            "model_version": self.service.model_version,
            "platform": self.settings.platform,
            "method": scope.get("method"),
            "endpoint": endpoint,
            "status": status,
            "latency_ms": round(seconds * 1000, 2),
            "batch_size": state.get("batch_size"),
        }
        if self.settings.log_level == "DEBUG" and "texts" in state:
            fields["texts"] = [text[:_DEBUG_TEXT_CHARS] for text in state["texts"]]
        logger.info("request", extra=fields)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the already-read body, then passes on (e.g. http.disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
