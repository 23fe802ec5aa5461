"""The FastAPI app every target runs: ``uvicorn inference.app.main:app`` (Fargate, EKS, SageMaker,
local) or through Mangum in ``inference.app.lambda_handler`` (Lambda)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from .errors import (
    ERROR_RESPONSES,
    ErrorBody,
    ServiceError,
    check_text,
    check_texts,
    error_response,
    http_error_handler,
    service_error_handler,
    validation_error_handler,
)
from .middleware import RequestMiddleware, is_json
from .observability import ServiceMetrics, logger
from .sagemaker import parse_invocation
from .schemas import BatchPredictRequest, BatchPredictResponse, HealthResponse, PredictRequest, PredictResponse
from .service import Loader, ModelService, load_model
from .settings import Settings

_NOT_READY = {503: {"model": ErrorBody, "description": "The model is not loaded yet (or failed to load)."}}
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


def create_app(settings: Settings | None = None, *, loader: Loader = load_model,
               load_on_startup: bool = True) -> FastAPI:
    """Build the app. With ``load_on_startup`` the model loads in a background thread when the
    server starts (/health answers 503 until it is ready); otherwise call ``app.state.service.load()``."""
    settings = settings or Settings()
    logger.setLevel(settings.log_level)
    metrics = ServiceMetrics(settings)
    service = ModelService(settings, metrics, loader)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if load_on_startup:
            service.load_in_background()  # no-op if already loaded or loading
        service.start()
        yield
        # uvicorn has waited for in-flight requests: answer anything still queued, stop the worker.
        service.stop()

    app = FastAPI(
        title="ML inference",
        summary="Sentiment classification with a Hugging Face model.",
        version="1.0.0",
        lifespan=lifespan,
        responses={404: {"model": ErrorBody, "description": "No such endpoint."}},
    )
    app.state.settings = settings
    app.state.service = service
    app.add_middleware(RequestMiddleware, service=service)
    app.add_exception_handler(ServiceError, service_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(HTTPException, http_error_handler)

    async def json_only(request: Request) -> None:
        content_type = request.headers.get("content-type")
        if content_type and not is_json(content_type):
            raise ServiceError(415, "unsupported_media_type",
                               f"content type {content_type.split(';')[0]!r} is not supported; send application/json")

    async def predict(request: Request, texts: Sequence[str]) -> list[PredictResponse]:
        request.state.batch_size = len(texts)
        request.state.texts = texts
        predictions, milliseconds = await service.predict(texts, wait_disconnect=request.receive)
        version = service.model_version or ""
        metrics.observe_inference(request.scope["route"].path, len(texts), milliseconds, version)
        return [
            PredictResponse(sentiment=p.label, confidence=p.confidence, model_version=version,
                            processing_time_ms=round(milliseconds, 3), truncated=p.truncated)
            for p in predictions
        ]

    def health() -> Response:
        if service.ready:
            body = HealthResponse(status="ok", model_version=service.model_version or "", platform=settings.platform)
            return Response(body.model_dump_json(), media_type="application/json")
        if service.load_error:
            return error_response(503, "model_load_failed", "the model failed to load; see the service logs")
        return error_response(503, "model_not_ready", "the model is still loading; retry in a few seconds",
                              headers={"Retry-After": "5"})

    @app.post("/predict", response_model=PredictResponse, responses=ERROR_RESPONSES,
              dependencies=[Depends(json_only)], summary="Classify one text")
    async def predict_one(body: PredictRequest, request: Request) -> PredictResponse:
        check_text(body.text, settings)
        return (await predict(request, [body.text]))[0]

    @app.post("/predict/batch", response_model=BatchPredictResponse, responses=ERROR_RESPONSES,
              dependencies=[Depends(json_only)], summary="Classify several texts")
    async def predict_batch(body: BatchPredictRequest, request: Request) -> BatchPredictResponse:
        check_texts(body.texts, settings)
        return BatchPredictResponse(predictions=await predict(request, body.texts))

    @app.get("/health", response_model=HealthResponse, responses=_NOT_READY, summary="Readiness")
    async def get_health() -> Response:
        return health()

    @app.get("/ping", response_model=HealthResponse, responses=_NOT_READY, summary="Readiness (SageMaker)")
    async def ping() -> Response:
        return health()

    @app.post("/invocations", response_model=PredictResponse | BatchPredictResponse, responses=ERROR_RESPONSES,
              openapi_extra={"requestBody": _INVOCATIONS_BODY}, summary="Classify (SageMaker)")
    async def invocations(request: Request) -> PredictResponse | BatchPredictResponse:
        texts, single = parse_invocation(await request.body(), request.headers.get("content-type"))
        if single:
            check_text(texts[0], settings)
            return (await predict(request, texts))[0]
        check_texts(texts, settings)
        return BatchPredictResponse(predictions=await predict(request, texts))

    @app.get("/metrics", response_class=Response, summary="Prometheus metrics",
             responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}})
    async def get_metrics() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    return app


app = create_app()
