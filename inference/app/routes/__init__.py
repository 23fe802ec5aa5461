"""The HTTP API, one module per concern; ``main.create_app`` includes every router."""

from __future__ import annotations

from . import health, metrics, predict, sagemaker

ROUTERS = (predict.router, health.router, sagemaker.router, metrics.router)
