"""POST /predict and POST /predict/batch, and the answer every prediction endpoint gives."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Depends, Request

from ..dependencies import Service, json_only
from ..errors import ERROR_RESPONSES, check_text, check_texts
from ..schemas import BatchPredictRequest, BatchPredictResponse, PredictRequest, PredictResponse
from ..service import ModelService

router = APIRouter()


async def classify(service: ModelService, request: Request, texts: Sequence[str]) -> list[PredictResponse]:
    """Answers for ``texts`` (already checked), in order; records what the request logs and measures."""
    request.state.batch_size = len(texts)
    request.state.texts = texts
    predictions, milliseconds = await service.predict(texts, wait_disconnect=request.receive)
    version = service.model_version or ""
    service.metrics.observe_inference(request.scope["route"].path, len(texts), milliseconds, version)
    return [
        PredictResponse(label=p.label, sentiment=p.label, confidence=p.confidence, model_version=version,
                        processing_time_ms=round(milliseconds, 3), truncated=p.truncated)
        for p in predictions
    ]


@router.post("/predict", response_model=PredictResponse, responses=ERROR_RESPONSES,
             dependencies=[Depends(json_only)], summary="Classify one text")
async def predict_one(body: PredictRequest, request: Request, service: Service) -> PredictResponse:
    check_text(body.text, service.settings)
    return (await classify(service, request, [body.text]))[0]


@router.post("/predict/batch", response_model=BatchPredictResponse, responses=ERROR_RESPONSES,
             dependencies=[Depends(json_only)], summary="Classify several texts")
async def predict_batch(body: BatchPredictRequest, request: Request, service: Service) -> BatchPredictResponse:
    check_texts(body.texts, service.settings)
    return BatchPredictResponse(predictions=await classify(service, request, body.texts))
