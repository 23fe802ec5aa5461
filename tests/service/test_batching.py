"""Dynamic batching and admission control: each caller gets its own answers in its order, passes
respect the token budget and batch size and pad only to their longest text, a full queue is
refused at once with Retry-After, /health stays fast, and no accepted request is lost."""

from __future__ import annotations

import asyncio
import threading
import time
import zlib
from collections.abc import Sequence

import httpx
import numpy as np
import pytest

from inference.app.batching import ClientGone, DynamicBatcher, Overloaded, select_batch
from inference.app.backends.base import EncodeForwardClassifier, Encoding

WARM_UP = "The service is warming up."


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


async def first_pass_held(batcher: DynamicBatcher, fake: FakeClassifier, texts: list[str]) -> asyncio.Future:
    """Submit ``texts`` to a batcher whose ``fake`` is held; return once its pass is running."""
    running = asyncio.ensure_future(batcher.submit(texts))
    while not fake.entered.is_set():
        await asyncio.sleep(0.005)
    return running


async def gather_submits(batcher: DynamicBatcher, requests: list[list[str]]):
    return await asyncio.gather(*(batcher.submit(texts) for texts in requests))


# ---------------------------------------------------------------- choosing a pass (pure, no threads)


def test_a_pass_starts_from_the_oldest_text_and_adds_the_nearest_lengths():
    # Waiting, oldest first: 10 tokens, then 40, 11, 12, 41, 9.
    assert select_batch([10, 40, 11, 12, 41, 9], max_texts=8, max_tokens=1024, padding_waste=0.25) == [0, 2, 3, 5]
    # The oldest text goes first even when it fits nothing else.
    assert select_batch([40, 10, 11], max_texts=8, max_tokens=1024, padding_waste=0.1) == [0]
    assert select_batch([], max_texts=8, max_tokens=1024, padding_waste=0.1) == []


def test_a_pass_respects_max_texts_and_the_token_budget():
    assert select_batch([5] * 20, max_texts=4, max_tokens=1024, padding_waste=0) == [0, 1, 2, 3]
    # 5 texts of 30 tokens = 150 padded tokens: over a budget of 100, so 3 (90 tokens).
    assert select_batch([30] * 5, max_texts=8, max_tokens=100, padding_waste=1) == [0, 1, 2]
    # The oldest text alone may exceed the budget (a text of the model's maximum always runs).
    assert select_batch([200, 5], max_texts=8, max_tokens=100, padding_waste=10) == [0]


def test_padding_waste_bounds_how_different_the_lengths_of_a_pass_are():
    lengths = [10, 20, 11]
    assert select_batch(lengths, max_texts=8, max_tokens=1024, padding_waste=0.1) == [0, 2]
    # 3 x 20 = 60 padded for 41 real tokens: 46% padding, allowed at 0.5.
    assert select_batch(lengths, max_texts=8, max_tokens=1024, padding_waste=0.5) == [0, 1, 2]


def test_equal_lengths_go_oldest_first_and_only_the_oldest_are_candidates():
    assert select_batch([10, 12, 8, 12, 8], max_texts=3, max_tokens=1024, padding_waste=1) == [0, 1, 2]
    # With max_texts 2 the window is the 4 oldest after the anchor: the exact match at 5 is not seen.
    assert select_batch([10, 50, 50, 50, 50, 10], max_texts=2, max_tokens=1024, padding_waste=0.1) == [0]


# ---------------------------------------------------------------- the batcher


def test_each_caller_gets_its_own_answers_in_order_and_equal_to_unbatched():
    fake = FakeClassifier()
    batcher = DynamicBatcher(fake, max_texts=8, max_tokens=256, padding_waste=10)
    batcher.start()
    requests = [[words(3 + (i * 5 + j) % 20, seed=i * 10 + j) for j in range(1 + i % 6)] for i in range(40)]
    fake.hold()  # let the queue fill up so passes mix requests

    async def scenario():
        task = asyncio.ensure_future(gather_submits(batcher, requests))
        await asyncio.sleep(0.05)
        fake.release()
        return await task

    results = asyncio.run(scenario())
    batcher.close()
    for texts, result in zip(requests, results, strict=True):
        assert result.predictions == fake.predict(texts)  # unbatched, one forward per length group
        assert result.inference_ms >= 0 and result.queue_ms >= 0
    assert max(len(p) for p in fake.passes) > 1, "texts of different requests should share passes"
    assert batcher.queued_texts == 0


def test_passes_respect_the_batch_size_the_token_budget_and_pad_only_to_their_longest():
    fake = FakeClassifier()
    batcher = DynamicBatcher(fake, max_texts=5, max_tokens=100, padding_waste=10)
    batcher.start()
    requests = [[words(2 + (i * 13) % 40, seed=i)] for i in range(60)]
    fake.hold()

    async def scenario():
        task = asyncio.ensure_future(gather_submits(batcher, requests))
        await asyncio.sleep(0.05)
        fake.release()
        await task

    asyncio.run(scenario())
    batcher.close()
    assert sum(len(p) for p in fake.passes) == 60
    for lengths, (texts, padded) in zip(fake.passes, fake.shapes, strict=True):
        assert texts <= 5
        assert padded == max(lengths)  # padded to the longest in the pass, never to max_length
        assert texts * padded <= 100 or texts == 1


def test_similar_lengths_are_grouped_and_the_oldest_text_goes_first():
    fake = FakeClassifier()
    batcher = DynamicBatcher(fake, max_texts=8, max_tokens=1024, padding_waste=0.25)
    batcher.start()
    fake.hold()

    async def scenario():
        blocker = asyncio.ensure_future(batcher.submit([words(30)]))
        while not fake.entered.is_set():
            await asyncio.sleep(0.005)
        # Queued while a pass runs: short, long, short, long, short.
        queued = [asyncio.ensure_future(batcher.submit([words(n, seed=i)])) for i, n in enumerate([3, 40, 4, 41, 3])]
        await asyncio.sleep(0.05)
        fake.release()
        await asyncio.gather(blocker, *queued)

    asyncio.run(scenario())
    batcher.close()
    assert fake.passes[0] == [32]
    # The oldest waiting text (3 words) leads the next pass, with the other short ones only.
    assert sorted(fake.passes[1]) == [5, 5, 6] and sorted(fake.passes[2]) == [42, 43]


def test_optional_max_wait_collects_a_fuller_batch():
    fake = FakeClassifier()
    batcher = DynamicBatcher(fake, max_texts=4, max_tokens=1024, max_wait_s=0.2, padding_waste=10)
    batcher.start()

    async def scenario():
        first = asyncio.ensure_future(batcher.submit([words(5)]))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(batcher.submit([words(6)]))
        await asyncio.gather(first, second)

    asyncio.run(scenario())
    batcher.close()
    assert fake.passes == [[7, 8]]


def test_a_full_queue_is_refused_at_once_and_every_accepted_text_is_answered():
    fake = FakeClassifier()
    batcher = DynamicBatcher(fake, max_texts=8, max_tokens=1024, queue_max_texts=4)
    batcher.start()
    fake.hold()

    async def scenario():
        running = asyncio.ensure_future(batcher.submit([words(5)]))
        while not fake.entered.is_set():
            await asyncio.sleep(0.005)
        queued = asyncio.ensure_future(batcher.submit([words(3), words(4), words(6)]))  # 4 texts: full
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        with pytest.raises(Overloaded) as refused:
            await batcher.submit([words(2)])
        assert time.perf_counter() - started < 0.05 and refused.value.retry_after >= 1
        fake.release()
        answers = await asyncio.gather(running, queued)
        assert [len(answer.predictions) for answer in answers] == [1, 3]
        # Drained: an empty queue takes even a request larger than the queue.
        big = await batcher.submit([words(2, seed=i) for i in range(6)])
        assert len(big.predictions) == 6

    asyncio.run(scenario())
    batcher.close()
    assert batcher.queued_texts == 0


def test_the_queue_refuses_more_seconds_of_work_than_queue_max_seconds_by_its_tokens():
    fake = FakeClassifier()
    # max_tokens 64: one full pass (always taken) is 0.64 s of this work, under the bound.
    batcher = DynamicBatcher(fake, max_texts=4, max_tokens=64, queue_max_texts=1000, queue_max_seconds=1.0)
    batcher.cost.calibrate(tokens=100, seconds=1.0)  # as the warm-up measured: 10 ms a token
    batcher.start()
    fake.hold()
    long_text = "x" * 40  # estimated at 40 x 0.5 + 2 = 22 tokens until it is tokenized

    async def scenario():
        running = await first_pass_held(batcher, fake, [words(5)])  # 7 tokens: 0.07 s
        batcher.cost.tokens_per_char = 0.5
        accepted = [asyncio.ensure_future(batcher.submit([long_text] * 3))]  # 0.73 s in all
        accepted.append(asyncio.ensure_future(batcher.submit([long_text])))  # 0.95 s
        await asyncio.sleep(0.01)
        assert batcher.queued_seconds == pytest.approx(0.95)
        with pytest.raises(Overloaded) as refused:  # 1.17 s
            await batcher.submit([long_text])
        assert refused.value.retry_after == 1
        accepted.append(asyncio.ensure_future(batcher.submit(["x"])))  # a short text still fits: 0.98 s
        await asyncio.sleep(0.01)
        assert not any(task.done() for task in accepted)
        fake.release()
        return await asyncio.gather(running, *accepted)

    answers = asyncio.run(scenario())
    batcher.close()
    assert [len(answer.predictions) for answer in answers] == [1, 3, 1, 1]
    assert batcher.queued_texts == 0 and batcher.queued_seconds == 0


def test_a_client_that_hung_up_stops_counting_against_the_queue_at_once():
    fake = FakeClassifier()
    batcher = DynamicBatcher(fake, max_texts=8, max_tokens=1024, queue_max_texts=4)
    batcher.start()
    fake.hold()

    async def scenario():
        running = await first_pass_held(batcher, fake, [words(5)])
        gone = asyncio.Event()

        async def receive():  # what uvicorn says once the client has closed the connection
            await gone.wait()
            return {"type": "http.disconnect"}

        leaving = asyncio.ensure_future(batcher.submit([words(3)] * 3, receive))  # 4 texts: full
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded):
            await batcher.submit([words(2)])
        gone.set()
        with pytest.raises(ClientGone):
            await leaving
        # The worker is still in the first pass and has not seen the abandoned texts: they no
        # longer count all the same, and a new request fits.
        assert batcher.queued_texts == 1
        admitted = asyncio.ensure_future(batcher.submit([words(2, seed=s) for s in range(3)]))
        await asyncio.sleep(0.01)
        assert not admitted.done()
        fake.release()
        return await asyncio.gather(running, admitted)

    first, admitted = asyncio.run(scenario())
    batcher.close()
    assert len(first.predictions) == 1 and len(admitted.predictions) == 3
    assert sorted(len(p) for p in fake.passes) == [1, 3], "the abandoned texts must never reach a forward pass"
    assert batcher.queued_texts == 0


def test_the_bound_holds_from_the_first_request(make_app):
    """The service measures the forward pass while it loads: before any request has run, the
    queue already refuses what would wait longer than QUEUE_MAX_SECONDS."""

    class TokenTimedClassifier(FakeClassifier):
        def forward(self, batch):
            time.sleep(0.002 * sum(len(ids) for ids in batch))  # 2 ms a token
            return super().forward(batch)

    fake = TokenTimedClassifier()
    app = make_app(fake, queue_max_seconds=0.5, queue_max_texts=256, batch_max_tokens=64)
    batcher = app.state.service.batcher
    assert batcher.cost.seconds_per_token == pytest.approx(0.002, rel=0.5)
    fake.passes.clear()
    fake.hold()
    text = words(20)
    # What fits besides the first text (7 tokens), by the estimate from characters:
    fits = int((0.5 - batcher.cost.seconds(7)) / batcher.cost.seconds(batcher.cost.estimate_tokens(text)))
    assert 3 <= fits <= 25

    async def scenario():
        first = await first_pass_held(batcher, fake, [words(5)])
        tasks = [asyncio.ensure_future(batcher.submit([text])) for _ in range(30)]
        await asyncio.sleep(0.05)
        refused = [task for task in tasks if task.done() and isinstance(task.exception(), Overloaded)]
        queued_seconds = batcher.queued_seconds
        fake.release()
        await first
        await asyncio.gather(*(task for task in tasks if task not in refused))
        return len(refused), queued_seconds

    refused, queued_seconds = asyncio.run(scenario())
    assert refused == 30 - fits, "the time bound, not the 256 texts, refuses"
    assert queued_seconds <= 0.5


def test_a_request_whose_client_went_away_leaves_the_queue():
    fake = FakeClassifier()
    batcher = DynamicBatcher(fake, max_texts=8, max_tokens=1024)
    batcher.start()
    fake.hold()

    async def scenario():
        running = asyncio.ensure_future(batcher.submit([words(5)]))
        while not fake.entered.is_set():
            await asyncio.sleep(0.005)

        async def receive():  # what uvicorn says once the client has closed the connection
            await asyncio.sleep(0.02)
            return {"type": "http.disconnect"}

        with pytest.raises(ClientGone):
            await batcher.submit([words(9), words(11)], receive)
        fake.release()
        await running

    asyncio.run(scenario())
    batcher.close()
    assert fake.passes == [[7]], "the abandoned texts must never reach a forward pass"
    assert batcher.queued_texts == 0


def test_close_answers_what_was_accepted_then_refuses():
    fake = FakeClassifier()
    batcher = DynamicBatcher(fake)
    batcher.start()
    fake.hold()

    async def scenario():
        pending = [asyncio.ensure_future(batcher.submit([words(4, seed=i)])) for i in range(5)]
        await asyncio.sleep(0.02)
        closing = asyncio.get_running_loop().run_in_executor(None, batcher.close)
        await asyncio.sleep(0.02)
        fake.release()
        await closing
        assert [len(answer.predictions) for answer in await asyncio.gather(*pending)] == [1] * 5
        with pytest.raises(Overloaded):
            await batcher.submit(["late"])

    asyncio.run(scenario())


def test_forward_errors_reach_every_caller_of_the_pass():
    fake = FakeClassifier()
    fake.forward = lambda batch: (_ for _ in ()).throw(RuntimeError("boom"))  # type: ignore[method-assign]
    batcher = DynamicBatcher(fake)
    batcher.start()

    async def scenario():
        with pytest.raises(RuntimeError, match="boom"):
            await batcher.submit(["a b c"])

    asyncio.run(scenario())
    batcher.close()
    assert batcher.queued_texts == 0


# ---------------------------------------------------------------- through the app


def test_overload_answers_503_with_retry_after_and_health_stays_fast(make_app):
    fake = FakeClassifier()
    app = make_app(fake, queue_max_texts=3)
    assert app.state.service.batcher is not None

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=10) as client:
            fake.hold()
            running = asyncio.ensure_future(client.post("/predict", json={"text": "first one"}))
            while not fake.entered.is_set():
                await asyncio.sleep(0.005)
            queued = asyncio.ensure_future(client.post("/predict/batch", json={"texts": ["two", "three"]}))
            while app.state.service.batcher.queued_texts < 3:
                await asyncio.sleep(0.005)
            started = time.perf_counter()
            refused = await client.post("/predict", json={"text": "one too many"})
            health = await client.get("/health")
            ping = await client.get("/ping")
            elapsed = time.perf_counter() - started
            fake.release()
            answers = await asyncio.gather(running, queued)
            metrics = (await client.get("/metrics")).text
            return refused, health, ping, elapsed, answers, metrics

    refused, health, ping, elapsed, answers, metrics = asyncio.run(scenario())
    assert refused.status_code == 503 and refused.json()["error"] == "overloaded"
    assert int(refused.headers["retry-after"]) >= 1
    assert health.status_code == 200 and ping.status_code == 200 and elapsed < 0.5
    assert [a.status_code for a in answers] == [200, 200]
    assert len(answers[1].json()["predictions"]) == 2
    assert 'inference_overloaded_total{reason="queue_full"} 1.0' in metrics
    assert "inference_forward_batch_texts_count" in metrics and "inference_queue_texts 0.0" in metrics


def test_overload_status_can_be_429(make_app):
    fake = FakeClassifier()
    app = make_app(fake, queue_max_texts=1, overload_status=429)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=10) as client:
            fake.hold()
            running = asyncio.ensure_future(client.post("/predict", json={"text": "first"}))
            while not fake.entered.is_set():
                await asyncio.sleep(0.005)
            refused = await client.post("/invocations", json={"inputs": "second"})
            fake.release()
            return refused, await running

    refused, running = asyncio.run(scenario())
    assert refused.status_code == 429 and "retry-after" in refused.headers
    assert running.status_code == 200


def test_batched_app_answers_equal_the_model_alone(make_app, classifier, varied_texts):
    """The real (tiny) model: concurrent requests through the batcher give each text the answer
    the model gives it alone."""
    app = make_app(queue_max_seconds=0)  # answers, not admission: no time bound on a busy machine
    assert app.state.service.batcher is not None
    texts = varied_texts(30)
    expected = [classifier.predict([text])[0] for text in texts]

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as client:
            singles = [client.post("/predict", json={"text": text}) for text in texts[:20]]
            batch = client.post("/predict/batch", json={"texts": texts[20:]})
            return await asyncio.gather(*singles, batch)

    *singles, batch = asyncio.run(scenario())
    answers = [r.json() for r in singles] + batch.json()["predictions"]
    for answer, want in zip(answers, expected, strict=True):
        assert answer["label"] == want.label
        assert answer["confidence"] == pytest.approx(want.confidence, abs=1e-5)


def test_the_lambda_platform_and_the_switch_bypass_batching(make_app):
    assert make_app(platform="lambda").state.service.batcher is None
    assert make_app(dynamic_batching=False).state.service.batcher is None
    assert make_app(platform="fargate").state.service.batcher is not None
    assert make_app(platform="lambda", dynamic_batching=True).state.service.batcher is not None
