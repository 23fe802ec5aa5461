"""The FastAPI app every target runs: ``uvicorn inference.app.main:app`` (Fargate, EKS, SageMaker,
local) or through Mangum in ``inference.app.lambda_handler`` (Lambda).

``create_app`` wires the parts together: the ``ModelService`` (``service.py``) in ``app.state``,
the routes (``routes/``, which get the service through ``dependencies.get_service``), the one
middleware (``middleware.py``) and the JSON error handlers (``errors.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from .errors import ErrorBody, ServiceError, http_error_handler, service_error_handler, validation_error_handler
from .middleware import RequestMiddleware
from .observability import ServiceMetrics, logger
from .routes import PATHS, ROUTERS
from .service import Loader, ModelService, load_model
from .settings import Settings


def create_app(settings: Settings | None = None, *, loader: Loader = load_model,
               load_on_startup: bool = True) -> FastAPI:
    """Build the app. With ``load_on_startup`` the model loads in a background thread when the
    server starts (/health answers 503 until it is ready); otherwise call ``app.state.service.load()``."""
    settings = settings or Settings()
    logger.setLevel(settings.log_level)
    service = ModelService(settings, ServiceMetrics(settings), loader)

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
        summary="Sequence classification with a Hugging Face model.",
        version="1.0.0",
        lifespan=lifespan,
        responses={404: {"model": ErrorBody, "description": "No such endpoint."}},
    )
    app.state.settings = settings
    app.state.service = service
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(RequestMiddleware, service=service, paths=PATHS)
    app.add_exception_handler(ServiceError, service_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(HTTPException, http_error_handler)
    return app


app = create_app()
