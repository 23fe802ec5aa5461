"""POST /invocations, SageMaker's contract: JSON ({"text"}, {"texts"}, the Hugging Face toolkit's
{"inputs"}) or text/plain."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request

from ..dependencies import Service
from ..errors import ERROR_RESPONSES, ServiceError, check_text, check_texts
from ..middleware import is_json
from ..schemas import BatchPredictResponse, PredictResponse
from .predict import classify

router = APIRouter()

_INVOCATIONS_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"oneOf": [
            {"$ref": "#/components/schemas/PredictRequest"},
            {"$ref": "#/components/schemas/BatchPredictRequest"},
            {"type": "object", "required": ["inputs"], "description": "The Hugging Face inference toolkit's shape.",
             "properties": {"inputs": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}}},
        ]}},
        "text/plain": {"schema": {"type": "string"}},
    },
}


@router.post("/invocations", response_model=PredictResponse | BatchPredictResponse, responses=ERROR_RESPONSES,
             openapi_extra={"requestBody": _INVOCATIONS_BODY}, summary="Classify (SageMaker)")
async def invocations(request: Request, service: Service) -> PredictResponse | BatchPredictResponse:
    texts, single = parse_invocation(await request.body(), request.headers.get("content-type"))
    if single:
        check_text(texts[0], service.settings)
        return (await classify(service, request, texts))[0]
    check_texts(texts, service.settings)
    return BatchPredictResponse(predictions=await classify(service, request, texts))


def parse_invocation(body: bytes, content_type: str | None) -> tuple[list[str], bool]:
    """The texts of a SageMaker invocation and whether it asked for one answer (not a list)."""
    media_type = (content_type or "application/json").split(";", 1)[0].strip().lower()
    if media_type == "text/plain":
        charset = _charset(content_type or "") or "utf-8"
        try:
            return [body.decode(charset)], True
        except (LookupError, UnicodeDecodeError):
            raise ServiceError(400, "invalid_encoding", f"the body is not valid {charset} text; send UTF-8") from None
    if not is_json(media_type):
        raise ServiceError(415, "unsupported_media_type",
                           f"content type {media_type!r} is not supported; send application/json or text/plain")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ServiceError(400, "invalid_json", "the body is not valid JSON; send a JSON object") from None
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


def _charset(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None
