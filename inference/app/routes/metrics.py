"""GET /metrics: Prometheus text format."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ..dependencies import Service

router = APIRouter()


@router.get("/metrics", response_class=Response, summary="Prometheus metrics",
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}})
async def get_metrics(service: Service) -> Response:
    body, content_type = service.metrics.render()
    return Response(body, media_type=content_type)
