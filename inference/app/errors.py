"""Every error the service answers is JSON ``{"error": "<short code>", "detail": "<what to fix>"}``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from .settings import Settings


class ErrorBody(BaseModel):
    error: str = Field(description="Short machine-readable code.", examples=["empty_text"])
    detail: str = Field(description="What went wrong and what to fix.",
                        examples=["text is empty or whitespace; send at least one visible character"])


class ServiceError(Exception):
    """An answer the client should get as is: a 4xx it can fix, or a 503 to retry."""

    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


def error_response(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


# The responses the prediction endpoints document in OpenAPI (besides 200).
ERROR_RESPONSES: dict[int | str, dict] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Invalid JSON or text encoding.",
        408: "The body did not arrive within REQUEST_READ_TIMEOUT_SECONDS.",
        413: "Body larger than MAX_BODY_BYTES.",
        415: "Unsupported content type or charset (send UTF-8).",
        422: "Valid JSON with the wrong shape, or text or batch outside the limits.",
        429: "The queue is full (with OVERLOAD_STATUS=429); retry after Retry-After seconds.",
        503: "The model is not loaded yet, or the queue is full; retry after Retry-After seconds.",
    }.items()
}

_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 408: "request_timeout",
               413: "body_too_large", 415: "unsupported_media_type"}


def check_texts(texts: list[str], settings: Settings, *, field: str = "texts") -> None:
    """Reject what the model must not see. Over-long token sequences are truncated, not rejected."""
    if len(texts) > settings.max_batch_size:
        raise ServiceError(422, "batch_too_large",
                           f"{field} has {len(texts)} items; send at most {settings.max_batch_size} (MAX_BATCH_SIZE)")
    if not texts:
        raise ServiceError(422, "empty_batch", f"{field} is empty; send at least one text")
    for index, text in enumerate(texts):
        check_text(text, settings, field=f"{field}[{index}]")


def check_text(text: str, settings: Settings, *, field: str = "text") -> None:
    if not text.strip():
        raise ServiceError(422, "empty_text", f"{field} is empty or whitespace; send at least one visible character")
    if len(text) > settings.max_text_chars:
        raise ServiceError(422, "text_too_long", f"{field} has {len(text)} characters; "
                           f"send at most {settings.max_text_chars} (MAX_TEXT_CHARS)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # JSON allows escaped lone surrogates ("\ud800"); they are not text and the tokenizer rejects them.
        raise ServiceError(422, "invalid_text", f"{field} contains unpaired UTF-16 surrogates; send valid Unicode")


async def service_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)  # nosec B101  # narrows the type: registered for ServiceError only
    return error_response(exc.status, exc.error, exc.detail, exc.headers)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # nosec B101  # narrows the type: registered for it only
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        reason = next(e.get("ctx", {}).get("error", "") for e in errors if e.get("type") == "json_invalid")
        return error_response(400, "invalid_json", f"the body is not valid JSON ({reason}); send a JSON object")
    return error_response(422, "invalid_request", validation_problems(errors))


def validation_problems(errors: Sequence[Any]) -> str:
    """What pydantic found wrong, as one line. Never the input (it can be large, or private):
    location and message only."""
    problems = []
    for error in errors[:5]:
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
        problems.append(f"{location}: {error.get('msg', 'invalid')}")
    return "; ".join(problems)


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # nosec B101  # narrows the type: registered for HTTPException only
    code = _HTTP_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "internal_error")
    detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    described = "; the API is described at /docs" if request.app.state.settings.docs_enabled else ""
    if exc.status_code == 404:
        detail = f"no endpoint at {request.url.path}{described}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}{described}"
    elif exc.status_code == 400 and detail == "There was an error parsing the body":
        # FastAPI's answer to a body it cannot parse at all (e.g. JSON nested too deep).
        code, detail = "invalid_json", "the body could not be parsed as JSON; send a JSON object"
    return error_response(exc.status_code, code, detail, exc.headers)
