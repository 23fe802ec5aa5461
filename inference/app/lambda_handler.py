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
    # Adds the Lambda request id, function name and cold_start to every log line.
    handler = logger.inject_lambda_context(mangum)
    handler.app = app
    return handler


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
