"""Concurrency: the event loop stays free while the model works; parallel requests all answered right."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from inference.app.backends import Prediction


class BlockingClassifier:
    """predict blocks its thread (like a long forward pass) until released."""

    model_version = "blocking"
    untrained = False

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def predict(self, texts):
        if texts != ["The service is warming up."]:
            self.started.set()
            self.release.wait(10)
        return [Prediction("POSITIVE", 0.5, False) for _ in texts]


def test_the_event_loop_answers_while_a_prediction_runs(make_app):
    blocking = BlockingClassifier()
    app = make_app(blocking)

    async def scenario() -> float:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            prediction = asyncio.create_task(client.post("/predict", json={"text": "slow"}))
            while not blocking.started.is_set():
                await asyncio.sleep(0.01)
            started = time.perf_counter()
            health = await client.get("/health")
            elapsed = time.perf_counter() - started
            assert health.status_code == 200
            assert not prediction.done(), "the prediction should still be blocked"
            blocking.release.set()
            assert (await prediction).status_code == 200
            return elapsed

    assert asyncio.run(scenario()) < 1.0


def test_fifty_concurrent_requests_are_all_answered_correctly(live_server, classifier, varied_texts):
    texts = varied_texts(50)
    expected = [classifier.predict([text])[0] for text in texts]

    def call(index: int) -> tuple[int, dict]:
        if index % 5 == 0:  # a mix of single and batch requests
            response = httpx.post(f"{live_server}/predict/batch", json={"texts": [texts[index]]}, timeout=60)
            return index, response.json()["predictions"][0]
        response = httpx.post(f"{live_server}/predict", json={"text": texts[index]}, timeout=60)
        assert response.status_code == 200, response.text
        return index, response.json()

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = dict(pool.map(call, range(50)))

    assert len(answers) == 50
    assert len({round(e.confidence, 4) for e in expected}) > 10, "answers must tell the texts apart"
    for index, answer in answers.items():
        assert answer["label"] == expected[index].label, index
        assert answer["confidence"] == pytest.approx(expected[index].confidence, abs=1e-4), index
