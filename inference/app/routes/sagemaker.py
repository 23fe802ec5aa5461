"""POST /invocations, SageMaker's contract: JSON ({"text"}, {"texts"}, the Hugging Face toolkit's
{"inputs"}) or text/plain (``bodies.parse_invocation``)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..bodies import off_loop, parse_invocation
from ..dependencies import Service
from ..errors import ERROR_RESPONSES, check_text, check_texts
from ..schemas import BatchPredictRequest, BatchPredictResponse, PredictRequest, PredictResponse
from .predict import classify

router = APIRouter()

_INVOCATIONS_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"oneOf": [
            PredictRequest.model_json_schema(),
            BatchPredictRequest.model_json_schema(),
            {"type": "object", "required": ["inputs"], "description": "The Hugging Face inference toolkit's shape.",
             "properties": {"inputs": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}}},
        ]}},
        "text/plain": {"schema": {"type": "string"}},
    },
}


@router.post("/invocations", response_model=PredictResponse | BatchPredictResponse, responses=ERROR_RESPONSES,
             openapi_extra={"requestBody": _INVOCATIONS_BODY}, summary="Classify (SageMaker)")
async def invocations(request: Request, service: Service) -> PredictResponse | BatchPredictResponse:
    texts, single = await off_loop(parse_invocation, await request.body(), request.headers.get("content-type"))
    if single:
        check_text(texts[0], service.settings)
        return (await classify(service, request, texts))[0]
    check_texts(texts, service.settings)
    return BatchPredictResponse(predictions=await classify(service, request, texts))
