"""POST /predict and POST /predict/batch, and the answer every prediction endpoint gives."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Depends, Request

from ..bodies import off_loop, parse_model
from ..dependencies import Service, json_only
from ..errors import ERROR_RESPONSES, check_text, check_texts
from ..schemas import BatchPredictRequest, BatchPredictResponse, PredictRequest, PredictResponse
from ..service import ModelService

router = APIRouter()


def _json_body(model: type) -> dict:
    """The OpenAPI request body of a route that parses its JSON itself (``bodies.parse_model``)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


async def classify(service: ModelService, request: Request, texts: Sequence[str]) -> list[PredictResponse]:
    """Answers for ``texts`` (already checked), in order; records what the request logs and measures."""
    request.state.batch_size = len(texts)
    request.state.texts = texts
    result = await service.predict(texts, wait_disconnect=request.receive)
    version = service.model_version or ""
    milliseconds = round(result.inference_ms, 3)
    service.metrics.observe_inference(request.scope["route"].path, len(texts), result.inference_ms, version)
    return [
        PredictResponse(label=p.label, sentiment=p.label, confidence=p.confidence, model_version=version,
                        processing_time_ms=milliseconds, truncated=p.truncated)
        for p in result.predictions
    ]


# The routes read their bodies themselves (not as FastAPI body parameters) so that a large body
# is decoded and validated in a worker thread, never on the event loop.
@router.post("/predict", response_model=PredictResponse, responses=ERROR_RESPONSES,
             dependencies=[Depends(json_only)], openapi_extra=_json_body(PredictRequest), summary="Classify one text")
async def predict_one(request: Request, service: Service) -> PredictResponse:
    body = await off_loop(parse_model, await request.body(), PredictRequest)
    check_text(body.text, service.settings)
    return (await classify(service, request, [body.text]))[0]


@router.post("/predict/batch", response_model=BatchPredictResponse, responses=ERROR_RESPONSES,
             dependencies=[Depends(json_only)], openapi_extra=_json_body(BatchPredictRequest),
             summary="Classify several texts")
async def predict_batch(request: Request, service: Service) -> BatchPredictResponse:
    body = await off_loop(parse_model, await request.body(), BatchPredictRequest)
    check_texts(body.texts, service.settings)
    return BatchPredictResponse(predictions=await classify(service, request, body.texts))
