"""Test doubles for the batcher and the app: a classifier whose answers and passes are known."""

from __future__ import annotations

import asyncio
import threading
import zlib
from collections.abc import Sequence

import httpx
import numpy as np

from inference.app.backends.base import EncodeForwardClassifier, Encoding


class FakeClassifier(EncodeForwardClassifier):
    """One token per word; probabilities a function of a text's own tokens only, so any batching
    must give the same answers. Records every forward pass; ``hold()`` blocks them."""

    backend = "fake"
    model_version = "fake-1"
    untrained = False
    max_length = 64
    labels = ["NEGATIVE", "POSITIVE"]

    def __init__(self) -> None:
        self.passes: list[list[int]] = []  # the token count of each text of each pass
        self.shapes: list[tuple[int, int]] = []  # (texts, padded length) each pass computed
        self.entered = threading.Event()
        self._gate = threading.Event()
        self._gate.set()

    def hold(self) -> None:
        self.entered.clear()
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def encode(self, texts: Sequence[str]) -> list[Encoding]:
        result = []
        for text in texts:
            words = [zlib.crc32(w.encode()) % 1000 + 5 for w in text.split()]
            ids = [1, *words[: self.max_length - 2], 2]
            result.append(Encoding(ids=ids, truncated=len(words) > self.max_length - 2))
        return result

    def forward(self, batch: Sequence[Sequence[int]]) -> np.ndarray:
        self.entered.set()
        assert self._gate.wait(10)
        self.passes.append([len(ids) for ids in batch])
        self.shapes.append((len(batch), max(len(ids) for ids in batch)))
        positive = np.array([(sum(ids) % 89) / 89 for ids in batch])
        return np.stack([1 - positive, positive], axis=1)


def words(n: int, seed: int = 0) -> str:
    return " ".join(f"w{(seed * 31 + k * 7) % 50}" for k in range(n))


def overload_once(app, fake: FakeClassifier) -> tuple[httpx.Response, httpx.Response]:
    """With ``app``'s queue holding one text (QUEUE_MAX_TEXTS=1): a /predict held in its pass,
    then an /invocations that must be refused. Both answers: (refused, first)."""

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=10) as client:
            fake.hold()
            running = asyncio.ensure_future(client.post("/predict", json={"text": "first"}))
            while not fake.entered.is_set():
                await asyncio.sleep(0.005)
            refused = await client.post("/invocations", json={"inputs": "second"})
            fake.release()
            return refused, await running

    return asyncio.run(scenario())
