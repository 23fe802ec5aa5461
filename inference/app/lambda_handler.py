"""The Lambda entry point: ``inference.app.lambda_handler.handler``.

Mangum translates API Gateway HTTP API (v2), Function URL, REST API (v1) and ALB events to
ASGI. The model loads here, at import, during the execution environment's init phase: the
first invocation does not pay for it, and a model that cannot load fails the init.
"""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from .main import create_app
from .observability import logger
from .settings import Settings


def create_handler(settings: Settings | None = None, **app_options: Any) -> Any:
    """A Mangum handler around a new app whose model is already loaded."""
    # One request per execution environment: a batcher would only add a thread hop.
    settings = (settings or Settings()).model_copy(update={"dynamic_batching": False})
    app = create_app(settings, load_on_startup=False, **app_options)
    app.state.service.load()
    # lifespan="off": the model is loaded above, once per execution environment, not per event.
    mangum = Mangum(app, lifespan="off")

    def handle(event: Any, context: Any) -> dict[str, Any]:
        problem = not_http(mangum, event, context)
        if problem is not None:
            # The caller's mistake: a clear answer, not an exception (a function error would count
            # toward the Errors alarm, which also rolls deployments back).
            logger.warning("unsupported event", extra={"event_kind": _kind(event)})
            return {"statusCode": 400, "error": "unsupported_event", "detail": problem}
        return mangum(event, context)

    # Adds the Lambda request id, function name and cold_start to every log line.
    handler = logger.inject_lambda_context(handle)
    handler.app = app
    return handler


_SUPPORTED = ("an API Gateway HTTP API (v2) or REST API (v1) event, a Function URL event or an ALB event; "
              "see inference/events/ for samples")


def not_http(mangum: Mangum, event: Any, context: Any) -> str | None:
    """Why ``event`` is not an HTTP event Mangum can serve, or None when it is one."""
    if not isinstance(event, dict):
        return f"the event is a JSON {type(event).__name__}, not an object: this function answers {_SUPPORTED}"
    try:
        adapter = mangum.infer(event, context)
    except RuntimeError:
        return f"the event is not an HTTP request (keys: {_kind(event)}): this function answers {_SUPPORTED}"
    try:
        adapter.scope, adapter.body  # noqa: B018 - reading them is the check
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        return (f"the event looks like a {type(adapter).__name__} event but is malformed "
                f"({type(exc).__name__}: {str(exc)[:100]}); send {_SUPPORTED}")
    return None


def _kind(event: Any) -> str:
    """The event's top-level keys (never its values: they can hold private data), for logs and errors."""
    if not isinstance(event, dict):
        return type(event).__name__
    return ", ".join(sorted(str(key)[:40] for key in event)[:12]) or "none"


handler = create_handler()


class LocalContext:
    """The attributes of a Lambda context object that Mangum and Powertools read."""

    function_name = "ml-inference-local"
    function_version = "$LATEST"
    memory_limit_in_mb = 3008
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ml-inference-local"

    def __init__(self, aws_request_id: str = "local-invocation") -> None:
        self.aws_request_id = aws_request_id

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


if __name__ == "__main__":
    # python -m inference.app.lambda_handler inference/events/apigw-http-v2.json [more events...]
    import json
    import sys

    for path in sys.argv[1:]:
        with open(path) as event_file:
            print(json.dumps(handler(json.load(event_file), LocalContext()), indent=2))
