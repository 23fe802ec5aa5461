"""GET /health and GET /ping (SageMaker's name for it): 200 once the model answered its warm-up."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ..dependencies import Service
from ..errors import ErrorBody, error_response
from ..schemas import HealthResponse

router = APIRouter()

_NOT_READY = {503: {"model": ErrorBody, "description": "The model is not loaded yet (or failed to load)."}}


def health(service: Service) -> Response:
    if service.ready:
        body = HealthResponse(status="ok", model_version=service.model_version or "", platform=service.settings.platform)
        return Response(body.model_dump_json(), media_type="application/json")
    if service.load_error:
        return error_response(503, "model_load_failed", "the model failed to load; see the service logs")
    return error_response(503, "model_not_ready", "the model is still loading; retry in a few seconds",
                          headers={"Retry-After": "5"})


@router.get("/health", response_model=HealthResponse, responses=_NOT_READY, summary="Readiness")
async def get_health(service: Service) -> Response:
    return health(service)


@router.get("/ping", response_model=HealthResponse, responses=_NOT_READY, summary="Readiness (SageMaker)")
async def ping(service: Service) -> Response:
    return health(service)
