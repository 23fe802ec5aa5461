"""Owns the loaded model: loading and warm-up, readiness, and running predictions off the event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from .classifier import Classifier, Prediction, TransformersClassifier
from .errors import ServiceError
from .observability import ServiceMetrics, logger
from .settings import Settings

Loader = Callable[[Settings], Classifier]
WARM_UP_TEXT = "The service is warming up."


def load_transformers(settings: Settings) -> Classifier:
    return TransformersClassifier(settings.model_dir, model_version=settings.model_version,
                                  max_tokens=settings.max_tokens, num_threads=settings.torch_num_threads)


class ModelService:
    def __init__(self, settings: Settings, metrics: ServiceMetrics, loader: Loader = load_transformers) -> None:
        self.settings = settings
        self.metrics = metrics
        self._loader = loader
        self.classifier: Classifier | None = None
        self.load_error: str | None = None
        self._ready = threading.Event()
        self._load_started = threading.Lock()
        self._loading = False
        # Tokenizing and the forward pass run here, never on the event loop; the pool size bounds
        # how many forward passes share the CPUs at once.
        self._executor = ThreadPoolExecutor(max_workers=settings.inference_concurrency, thread_name_prefix="inference")

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def model_version(self) -> str | None:
        return self.classifier.model_version if self.classifier else None

    def load(self) -> None:
        """Load the model and answer one warm-up input; blocking. Raises if the model cannot load."""
        with self._load_started:
            if self._loading or self.ready:
                return
            self._loading = True
        started = time.perf_counter()
        logger.info("loading model", extra={"model_dir": str(self.settings.model_dir), "platform": self.settings.platform})
        try:
            classifier = self._loader(self.settings)
            classifier.predict([WARM_UP_TEXT])
        except Exception as exc:
            self.load_error = f"{type(exc).__name__}: {exc}"
            logger.exception("model failed to load", extra={"model_dir": str(self.settings.model_dir)})
            raise
        seconds = time.perf_counter() - started
        self.classifier = classifier
        self.metrics.observe_model_loaded(classifier.model_version, seconds)
        logger.info("model ready", extra={"model_version": classifier.model_version,
                                          "model_load_seconds": round(seconds, 3)})
        if classifier.untrained:
            logger.warning("THIS MODEL IS UNTRAINED: random weights, its answers mean nothing. "
                           "Set MODEL_DIR to a trained model.", extra={"model_version": classifier.model_version})
        self._ready.set()

    def load_in_background(self) -> threading.Thread:
        def run() -> None:
            try:
                self.load()
            except Exception:
                pass  # Logged by load(); /health answers 503 with the reason.

        thread = threading.Thread(target=run, name="model-loader", daemon=True)
        thread.start()
        return thread

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    async def predict(self, texts: Sequence[str]) -> tuple[list[Prediction], float]:
        """Predictions for ``texts`` and the milliseconds spent tokenizing and in the forward pass."""
        classifier = self.classifier
        if classifier is None or not self.ready:
            raise ServiceError(503, "model_not_ready", "the model is still loading; retry in a few seconds",
                               headers={"Retry-After": "5"})

        def run() -> tuple[list[Prediction], float]:
            started = time.perf_counter()
            predictions = classifier.predict(texts)
            return predictions, (time.perf_counter() - started) * 1000

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)
