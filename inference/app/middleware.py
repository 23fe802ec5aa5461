"""One ASGI middleware around every request: request id, body limit, access log, metrics, 500s.

Pure ASGI (not BaseHTTPMiddleware) so it can stop reading a body at the limit and answer
before the app runs.
"""

from __future__ import annotations

import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response
from .observability import logger
from .service import ModelService

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/=+\-]{1,128}")
_DEBUG_TEXT_CHARS = 1000


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


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
    def __init__(self, status: int, error: str, detail: str) -> None:
        self.status, self.error, self.detail = status, error, detail


class RequestMiddleware:
    def __init__(self, app: ASGIApp, service: ModelService) -> None:
        self.app = app
        self.service = service
        self.settings = service.settings

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
                await error_response(exc.status, exc.error, exc.detail)(scope, receive, send_with_id)
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
        if route is None:  # Answered before routing (body errors): match by path.
            app = scope.get("app")
            route = next((r for r in getattr(app, "routes", ()) if getattr(r, "path", None) == scope.get("path")), None)
        return getattr(route, "path", None) or "unmatched"

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes | None:
        """The whole body, read at most up to the limit, whether or not a Content-Length was sent."""
        limit = self.settings.max_body_bytes
        too_large = _BodyError(413, "body_too_large", f"the body is larger than {limit} bytes (MAX_BODY_BYTES); "
                               "send fewer or shorter texts")
        content_length = headers.get("content-length", "")
        if content_length.isdigit() and int(content_length) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and is_json(headers.get("content-type", "")):
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _BodyError(400, "invalid_encoding",
                                 f"the body is not valid UTF-8 (byte {exc.start}); send JSON encoded as UTF-8") from None
        return body

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
