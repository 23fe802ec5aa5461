"""The batcher's admission rules and cost model, as plain functions: no threads, no model."""

from __future__ import annotations

import pytest

from inference.app.admission import MAX_DRAIN_FACTOR, CostModel, Queue, admit, retry_after


def measured(seconds_per_token: float = 0.01, max_length: int = 512) -> CostModel:
    cost = CostModel(max_length=max_length)
    cost.calibrate(tokens=100, seconds=100 * seconds_per_token)
    return cost


def test_an_unmeasured_cost_knows_nothing_and_estimates_conservatively():
    cost = CostModel(max_length=64)
    assert not cost.known and cost.seconds(1000) == 0
    assert cost.estimate_tokens("x" * 10) == 5 + 2  # 1 token per 2 characters, plus [CLS] and [SEP]
    assert cost.estimate_tokens("x" * 10_000) == 64  # truncated at the model's maximum


def test_calibration_then_passes_set_the_seconds_per_token():
    cost = measured(0.01)
    assert cost.known and cost.seconds(50) == pytest.approx(0.5)
    for _ in range(100):  # the CPU got twice as fast: the rate follows
        cost.observe_pass(tokens=100, compute_seconds=0.5)
    assert cost.seconds_per_token == pytest.approx(0.005, rel=0.01)


def test_the_drain_time_counts_but_at_most_a_few_times_the_compute_time():
    tokenizing_too = measured(0.01)
    for _ in range(100):
        tokenizing_too.observe_pass(tokens=100, compute_seconds=1.0, drain_seconds=1.5)
    assert tokenizing_too.seconds_per_token == pytest.approx(0.015, rel=0.01)
    burst = measured(0.01)
    for _ in range(100):  # small passes between arrivals: the event loop took the time
        burst.observe_pass(tokens=10, compute_seconds=0.1, drain_seconds=5.0)
    assert burst.seconds_per_token == pytest.approx(MAX_DRAIN_FACTOR * 0.01, rel=0.01)


def test_tokens_per_character_follow_what_was_tokenized():
    cost = CostModel(max_length=512)
    for _ in range(100):
        cost.observe_tokenized(chars=450, tokens=100)
    assert cost.tokens_per_char == pytest.approx(100 / 450, rel=0.01)
    assert cost.estimate_tokens("x" * 900) == 200 + 2
    cost.observe_tokenized(chars=0, tokens=0)  # nothing tokenized: nothing learned
    assert cost.tokens_per_char == pytest.approx(100 / 450, rel=0.01)


def test_an_empty_queue_takes_any_request():
    assert admit(Queue(0, 0), Queue(10_000, 5_000_000), measured(), max_texts=10, max_seconds=1)


def test_the_texts_bound():
    cost = CostModel(max_length=512)
    assert admit(Queue(5, 50), Queue(5, 50), cost, max_texts=10, max_seconds=1)
    assert not admit(Queue(5, 50), Queue(6, 60), cost, max_texts=10, max_seconds=1)


def test_the_seconds_bound_counts_the_request_itself_in_tokens():
    cost = measured(0.01)  # 100 tokens a second
    assert admit(Queue(1, 150), Queue(1, 50), cost, max_texts=100, max_seconds=2)  # exactly 2 s
    assert not admit(Queue(1, 150), Queue(1, 51), cost, max_texts=100, max_seconds=2)
    # Ten short texts fit where one long one does not.
    assert admit(Queue(1, 150), Queue(10, 40), cost, max_texts=100, max_seconds=2)
    assert not admit(Queue(1, 150), Queue(1, 512), cost, max_texts=100, max_seconds=2)
    # QUEUE_MAX_SECONDS=0: only the texts bound.
    assert admit(Queue(1, 150), Queue(1, 10_000), cost, max_texts=100, max_seconds=0)
    # Not measured yet (a classifier the service could not time): only the texts bound.
    assert admit(Queue(1, 150), Queue(1, 10_000), CostModel(max_length=512), max_texts=100, max_seconds=2)


def test_retry_after_is_the_seconds_the_queue_needs_between_1_and_60():
    cost = measured(0.01)
    assert retry_after(Queue(3, 250), cost) == 3
    assert retry_after(Queue(1, 1), cost) == 1
    assert retry_after(Queue(500, 1_000_000), cost) == 60
    assert retry_after(Queue(3, 250), CostModel(max_length=512)) == 1
