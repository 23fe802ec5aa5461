"""Reading request bodies safely: which charsets are accepted, and parsing off the event loop.

Every body is decoded in one linear pass: JSON as UTF-8 (RFC 8259), ``text/plain`` as UTF-8,
US-ASCII or ISO-8859-1. Any other charset is refused with 415 before the body is read (a codec
such as punycode is quadratic to decode: 600 kB held the event loop for seconds). Bodies over
``SMALL_BODY_BYTES`` are decoded, parsed and validated in a worker thread, so the event loop
keeps answering /health while a large body is handled.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from .errors import ServiceError, validation_problems

#: Below this, parsing takes less time (tens of microseconds) than a hop to a thread and back.
SMALL_BODY_BYTES = 16_384
#: charset parameter (lower case) -> Python codec; each decodes in one linear pass.
TEXT_CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "us-ascii": "ascii", "ascii": "ascii",
                 "iso-8859-1": "latin-1", "latin-1": "latin-1", "latin1": "latin-1"}
#: JSON is UTF-8; a client may still say so, or say US-ASCII (a subset).
JSON_CHARSETS = {"utf-8", "utf8", "us-ascii", "ascii"}

Model = TypeVar("Model", bound=BaseModel)
T = TypeVar("T")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json(content_type: str) -> bool:
    kind = media_type(content_type)
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type, lower case, or None."""
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower() or None
    return None


def refuse_charset(content_type: str | None) -> ServiceError | None:
    """The 415 for a charset this service does not decode, or None when it is fine (or absent)."""
    name = charset(content_type)
    if name is None:
        return None
    json_body = is_json(content_type or "")
    if name in (JSON_CHARSETS if json_body else TEXT_CHARSETS):
        return None
    accepted = "utf-8 (or us-ascii)" if json_body else "utf-8, us-ascii, iso-8859-1"
    return ServiceError(415, "unsupported_charset", f"charset {name[:40]!r} is not supported; send UTF-8 "
                        f"(accepted: {accepted})")


async def off_loop(parse: Callable[..., T], body: bytes, *args: Any) -> T:
    """``parse(body, *args)``: inline for a small body, in a worker thread for a large one."""
    if len(body) <= SMALL_BODY_BYTES:
        return parse(body, *args)
    return await run_in_threadpool(functools.partial(parse, body, *args))


def parse_json(body: bytes) -> Any:
    """The JSON value of a UTF-8 body: 400 invalid_encoding or invalid_json otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ServiceError(400, "invalid_encoding",
                           f"the body is not valid UTF-8 (byte {exc.start}); send JSON encoded as UTF-8") from None
    if not text.strip():
        raise ServiceError(422, "invalid_request", "the body is empty; send a JSON object")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep to parse
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deep"
        raise ServiceError(400, "invalid_json", f"the body is not valid JSON ({reason}); send a JSON object") from None


def parse_model(body: bytes, model: type[Model]) -> Model:
    """A request model from a JSON body: 4xx with what to fix, never the input echoed back."""
    payload = parse_json(body)
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise ServiceError(422, "invalid_request", validation_problems(exc.errors())) from None


def parse_invocation(body: bytes, content_type: str | None) -> tuple[list[str], bool]:
    """The texts of a SageMaker invocation and whether it asked for one answer (not a list):
    JSON ({"text"}, {"texts"}, the Hugging Face toolkit's {"inputs"}) or text/plain."""
    kind = media_type(content_type) or "application/json"
    if kind == "text/plain":
        refused = refuse_charset(content_type)
        if refused is not None:
            raise refused
        codec = TEXT_CHARSETS[charset(content_type) or "utf-8"]
        try:
            return [body.decode(codec)], True
        except UnicodeDecodeError:
            raise ServiceError(400, "invalid_encoding", f"the body is not valid {codec} text; send UTF-8") from None
    if not is_json(kind):
        raise ServiceError(415, "unsupported_media_type",
                           f"content type {kind!r} is not supported; send application/json or text/plain")
    payload = parse_json(body)
    keys = sorted({"text", "texts", "inputs"} & set(payload)) if isinstance(payload, dict) else []
    if len(keys) != 1:
        raise ServiceError(422, "invalid_request",
                           'send a JSON object with exactly one of "text" (string), "texts" (list of strings) '
                           'or "inputs" (string or list of strings)')
    value = payload[keys[0]]
    if isinstance(value, str) and keys[0] in ("text", "inputs"):
        return [value], True
    if isinstance(value, list) and keys[0] in ("texts", "inputs") and all(isinstance(v, str) for v in value):
        return value, False
    expected = {"text": "a string", "texts": "a list of strings", "inputs": "a string or a list of strings"}[keys[0]]
    raise ServiceError(422, "invalid_request", f"{keys[0]} must be {expected}")
