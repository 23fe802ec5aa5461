"""Owns the loaded model: loading and warm-up, readiness, and running predictions off the event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from .backends import BatchableClassifier, Classifier, load_classifier
from .batching import BatchResult, ClientGone, DynamicBatcher, Overloaded
from .errors import ServiceError
from .observability import ServiceMetrics, logger
from .settings import Settings

Loader = Callable[[Settings], Classifier]
WARM_UP_TEXT = "The service is warming up."


def load_model(settings: Settings) -> Classifier:
    """The backend MODEL_DIR calls for: ONNX Runtime for an exported directory, else PyTorch."""
    return load_classifier(settings)


class ModelService:
    def __init__(self, settings: Settings, metrics: ServiceMetrics, loader: Loader = load_model) -> None:
        self.settings = settings
        self.metrics = metrics
        self._loader = loader
        self.classifier: Classifier | None = None
        #: The dynamic batcher (server targets), or None: Lambda, DYNAMIC_BATCHING=false, or a
        #: classifier without separate encode and forward steps.
        self.batcher: DynamicBatcher | None = None
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
        if self.settings.batching and isinstance(classifier, BatchableClassifier):
            settings = self.settings
            self.batcher = DynamicBatcher(
                classifier, max_texts=settings.batch_max_texts, max_tokens=settings.batch_max_tokens,
                max_wait_s=settings.batch_max_wait_ms / 1000, padding_waste=settings.batch_padding_waste,
                queue_max_texts=settings.queue_max_texts, queue_max_seconds=settings.queue_max_seconds,
                observe_batch=self.metrics.observe_forward_pass)
            # Before the first request: the queue's bound in seconds holds from the start.
            self.batcher.calibrate(WARM_UP_TEXT)
            self.batcher.start()
            self.metrics.queue_texts.set_function(lambda batcher=self.batcher: batcher.queued_texts)
        self.metrics.observe_model_loaded(classifier.model_version, seconds)
        logger.info("model ready", extra={"model_version": classifier.model_version,
                                          "model_load_seconds": round(seconds, 3),
                                          "backend": getattr(classifier, "backend", type(classifier).__name__),
                                          "precision": getattr(classifier, "precision", None),
                                          "threads": getattr(classifier, "num_threads", None) or self.settings.num_threads,
                                          "dynamic_batching": self.batcher is not None,
                                          "ms_per_1000_tokens": round(self.batcher.cost.seconds(1e6), 2)
                                          if self.batcher else None})
        if classifier.untrained:
            logger.warning("THIS MODEL IS UNTRAINED: random weights, its answers mean nothing. "
                           "Set MODEL_DIR to a trained model.", extra={"model_version": classifier.model_version})
        self._ready.set()

    def load_in_background(self) -> threading.Thread:
        def run() -> None:
            try:
                self.load()
            except Exception:  # nosec B110  # logged by load(); /health answers 503 with the reason
                pass  # Logged by load(); /health answers 503 with the reason.

        thread = threading.Thread(target=run, name="model-loader", daemon=True)
        thread.start()
        return thread

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def start(self) -> None:
        """Server start (lifespan): restart the batcher if a previous shutdown stopped it."""
        if self.batcher is not None:
            self.batcher.start()

    def stop(self) -> None:
        """Server shutdown (lifespan): answer what was accepted, then stop the batcher."""
        if self.batcher is not None:
            self.batcher.close()

    async def predict(self, texts: Sequence[str], *,
                      wait_disconnect: Callable[[], Awaitable[object]] | None = None) -> BatchResult:
        """Predictions for ``texts``, the milliseconds spent tokenizing and in forward passes, and
        (with the batcher) those spent waiting in its queue.

        With the batcher, ``wait_disconnect`` (the request's ASGI receive) lets a request whose
        client went away leave the queue.
        """
        classifier = self.classifier
        if classifier is None or not self.ready:
            raise ServiceError(503, "model_not_ready", "the model is still loading; retry in a few seconds",
                               headers={"Retry-After": "5"})
        if self.batcher is not None:
            try:
                return await self.batcher.submit(texts, wait_disconnect)
            except Overloaded as exc:
                self.metrics.overloaded.labels(exc.reason).inc()
                status = self.settings.overload_status
                raise ServiceError(status, "overloaded", "the server is at capacity; retry after the number of "
                                   "seconds in the Retry-After header", headers={"Retry-After": str(exc.retry_after)})
            except ClientGone:
                raise ServiceError(499, "client_closed_request", "the client closed the connection") from None

        def run() -> BatchResult:
            started = time.perf_counter()
            predictions = classifier.predict(texts)
            return BatchResult(predictions, (time.perf_counter() - started) * 1000)

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)
