"""The HTTP API, one module per concern; ``main.create_app`` includes every router."""

from __future__ import annotations

from . import health, metrics, predict, sagemaker

ROUTERS = (predict.router, health.router, sagemaker.router, metrics.router)
#: Every path the API serves (none has parameters): the metric label of a request answered
#: before routing (a body error) is its path when it is one of these.
PATHS = frozenset(route.path for router in ROUTERS for route in router.routes)
