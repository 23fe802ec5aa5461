"""What routes ask FastAPI for: the app's one ``ModelService`` and the request checks they share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .bodies import is_json
from .errors import ServiceError
from .service import ModelService


def get_service(request: Request) -> ModelService:
    """The service ``create_app`` built for this app (``app.state.service``)."""
    return request.app.state.service


Service = Annotated[ModelService, Depends(get_service)]


async def json_only(request: Request) -> None:
    """415 for a body that says it is not JSON (no content type is read as JSON)."""
    content_type = request.headers.get("content-type")
    if content_type and not is_json(content_type):
        raise ServiceError(415, "unsupported_media_type",
                           f"content type {content_type.split(';')[0]!r} is not supported; send application/json")
