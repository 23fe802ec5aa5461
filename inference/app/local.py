"""Run the service on this machine: ``python -m inference.app.local`` (what ``make serve`` runs).

Serves the model in MODEL_DIR; without MODEL_DIR it builds a tiny random-weight model into
``.local-model/`` so the API answers at once (its answers mean nothing, and it says so).
Listens on HOST (default 127.0.0.1) and PORT (default 8080).
"""

from __future__ import annotations

import os
from pathlib import Path

from . import server
from .dev_model import UNTRAINED_VERSION, build_tiny_model
from .main import create_app
from .observability import logger
from .settings import Settings

LOCAL_MODEL_DIR = Path(".local-model")


def main() -> None:
    if os.environ.get("MODEL_DIR"):
        model_dir = Path(os.environ["MODEL_DIR"])
        if not (model_dir / "config.json").is_file():
            raise SystemExit(f"MODEL_DIR={model_dir} has no config.json: point it at an ONNX export "
                             "(python -m inference.export) or a save_pretrained directory")
        settings = Settings()
    else:
        if not (LOCAL_MODEL_DIR / "config.json").is_file():
            build_tiny_model(LOCAL_MODEL_DIR)
        logger.warning(f"MODEL_DIR is not set: serving the UNTRAINED tiny random model in {LOCAL_MODEL_DIR}/ "
                       f"(model_version {UNTRAINED_VERSION!r}); its answers are noise. "
                       "Set MODEL_DIR to a trained model directory to serve it.")
        settings = Settings(model_dir=LOCAL_MODEL_DIR)
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8080"))
    # The image's server: the same connection limit and read deadlines.
    server.serve(create_app(settings), settings, host=host, port=port)


if __name__ == "__main__":
    main()
