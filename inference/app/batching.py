"""Dynamic batching with admission control, for the server targets (Fargate, EKS, SageMaker).

Requests put their texts on one bounded queue; one worker thread takes what is queued (no fixed
wait, unless ``max_wait_s`` is set), tokenizes it, and runs forward passes of at most
``max_texts`` texts and ``max_tokens`` padded tokens. Each pass is built around the oldest
waiting text (so nothing starves) plus the waiting texts closest to it in length (so padding,
pure waste on a CPU, stays small; ``select_batch``); it pads only to its own longest text. Each
caller gets its own results, in its own order, when its last text is done.

When the queue is full (``queue_max_texts``, or ``queue_max_seconds`` of work by the cost model
of ``admission.py``, measured on the warm-up pass before the first request) a request is
refused at once (``Overloaded``: the app answers 503 or 429 with Retry-After) instead of waiting
into a timeout. A request whose client went away stops counting against the queue at once and
never reaches a forward pass; every accepted request is answered.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .admission import SPECIAL_TOKENS, CostModel, Queue, admit, retry_after
from .backends import BatchableClassifier, Encoding, Prediction
from .observability import logger

BatchObserver = Callable[[int, int, int, float], None]  # texts, real tokens, padded tokens, seconds


class Overloaded(Exception):
    """The queue is full (or the service is stopping): retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int, reason: str = "queue_full") -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.reason = reason


class ClientGone(Exception):
    """The client disconnected while its request waited; its texts were dropped."""


@dataclass(frozen=True)
class BatchResult:
    """One request's answers, in its order, and where its time went."""

    predictions: list[Prediction]
    inference_ms: float  # from the start of its first forward pass to the end of its last
    queue_ms: float | None = None  # from submit to the start of its first pass (None: not queued)


class _Ticket:
    """One request's texts: its future, the results gathered so far (worker thread only), and
    what it still counts against the queue (under the batcher's lock)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future, size: int, tokens: int) -> None:
        self.loop = loop
        self.future = future
        self.probabilities: list[np.ndarray | None] = [None] * size
        self.encodings: list[Encoding | None] = [None] * size
        self.remaining = size
        self.cancelled = False  # set by the event loop or on failure; read by the worker
        self.submitted = time.perf_counter()
        self.started: float | None = None
        self.finished = 0.0
        self.open_texts = size
        self.open_tokens = tokens

    def resolve(self, result: object = None, error: BaseException | None = None) -> None:
        def settle() -> None:
            if self.future.done():
                return
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result)

        try:
            self.loop.call_soon_threadsafe(settle)
        except RuntimeError:
            pass  # The loop is closed: nobody is waiting any more.


@dataclass(eq=False)
class _Item:
    ticket: _Ticket
    index: int
    text: str
    tokens: int  # what it counts against the queue: an estimate, then its real length
    encoding: Encoding | None = field(default=None)
    arrived: float = field(default_factory=time.perf_counter)

    @property
    def length(self) -> int:
        return len(self.encoding) if self.encoding is not None else 0


class DynamicBatcher:
    def __init__(self, classifier: BatchableClassifier, *, max_texts: int = 32, max_tokens: int = 2048,
                 max_wait_s: float = 0.0, padding_waste: float = 0.1, queue_max_texts: int = 256,
                 queue_max_seconds: float = 2.0, observe_batch: BatchObserver | None = None) -> None:
        self.classifier = classifier
        self.max_texts = max_texts
        # A single text of the model's maximum length must always fit.
        self.max_tokens = max(max_tokens, classifier.max_length)
        self.max_wait_s = max_wait_s
        self.padding_waste = padding_waste
        self.queue_max_texts = queue_max_texts
        self.queue_max_seconds = queue_max_seconds
        self.cost = CostModel(max_length=classifier.max_length)
        self._observe_batch = observe_batch
        self._cond = threading.Condition()
        self._queue: deque[_Item] = deque()
        # Accepted and not yet answered (queued, being tokenized or in a pass), clients gone excluded.
        self._queued_texts = 0
        self._queued_tokens = 0
        self._last_finished = 0.0
        self._backlog = False  # texts were waiting when the last pass finished
        self._accepting = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def calibrate(self, text: str, texts: int = 4, repeat: int = 4) -> None:
        """Measure the forward pass before the first request: ``texts`` copies of ``text`` repeated
        ``repeat`` times (~30 tokens each for the warm-up sentence), timed after a first run (the
        first at a new shape allocates). Seeds the cost model, so the queue's bound holds at once."""
        sample = [" ".join([text] * repeat)] * texts
        encodings = self.classifier.encode(sample)
        batch = [encoding.ids for encoding in encodings]
        self.classifier.forward(batch)
        timings = []
        for _ in range(2):  # the faster of two: another process taking the CPU is no property of the model
            started = time.perf_counter()
            self.classifier.forward(batch)
            timings.append(time.perf_counter() - started)
        tokens = sum(len(encoding) for encoding in encodings)
        self.cost.calibrate(tokens, min(timings))
        self.cost.observe_tokenized(sum(map(len, sample)), tokens - SPECIAL_TOKENS * len(sample))

    def start(self) -> None:
        with self._cond:
            self._accepting, self._stopping = True, False
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="batcher", daemon=True)
            self._thread.start()

    def close(self, timeout: float | None = 30.0) -> None:
        """Refuse new requests, answer every accepted one, then stop the worker."""
        with self._cond:
            self._accepting = False
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def queued_texts(self) -> int:
        return self._queued_texts

    @property
    def queued_seconds(self) -> float:
        """The queue's work by the cost model (0 while the cost is unknown)."""
        return self.cost.seconds(self._queued_tokens)

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained: what Retry-After says."""
        return retry_after(Queue(self._queued_texts, self._queued_tokens), self.cost)

    # ------------------------------------------------------------ event loop side

    async def submit(self, texts: Sequence[str],
                     wait_disconnect: Callable[[], Awaitable[object]] | None = None) -> BatchResult:
        """Predictions for ``texts`` (in order) and where their time went.

        Raises ``Overloaded`` at once when the queue is full, and ``ClientGone`` when
        ``wait_disconnect`` (an ASGI receive) reports that the client went away first.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        estimates = [self.cost.estimate_tokens(text) for text in texts]
        ticket = _Ticket(loop, future, len(texts), sum(estimates))
        with self._cond:
            if not self._accepting:
                raise Overloaded(5, "stopping")
            queue = Queue(self._queued_texts, self._queued_tokens)
            if not admit(queue, Queue(len(texts), ticket.open_tokens), self.cost,
                         max_texts=self.queue_max_texts, max_seconds=self.queue_max_seconds):
                raise Overloaded(retry_after(queue, self.cost))
            self._queued_texts += len(texts)
            self._queued_tokens += ticket.open_tokens
            self._queue.extend(_Item(ticket, i, text, estimate)
                               for i, (text, estimate) in enumerate(zip(texts, estimates, strict=True)))
            self._cond.notify()
        if wait_disconnect is None:
            try:
                return await future
            except asyncio.CancelledError:
                self._cancel(ticket)
                raise
        watcher = asyncio.ensure_future(_disconnected(wait_disconnect))
        try:
            await asyncio.wait((future, watcher), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            self._cancel(ticket)
            raise
        finally:
            watcher.cancel()
        if future.done():
            return future.result()
        self._cancel(ticket)
        future.cancel()
        raise ClientGone()

    def _cancel(self, ticket: _Ticket) -> None:
        """The caller is gone: its texts stop counting against the queue now, and are skipped."""
        ticket.cancelled = True
        self._release_ticket(ticket)

    # ------------------------------------------------------------ worker thread

    def _run(self) -> None:
        pending: list[_Item] = []  # tokenized, in arrival order
        while True:
            with self._cond:
                while not self._queue and not pending and not self._stopping:
                    self._backlog = False  # idle time is no measure of the drain rate
                    self._cond.wait()
                if self._stopping and not self._queue and not pending:
                    return
                new = list(self._queue)
                self._queue.clear()
            try:
                pending.extend(self._tokenize(new))
                pending = [item for item in pending if not item.ticket.cancelled]
                if not pending:
                    continue
                wait = self._wait_for_more(pending)
                if wait > 0:
                    self._backlog = False
                    with self._cond:
                        if not self._queue and not self._stopping:
                            self._cond.wait(wait)
                    continue
                window = pending[: 1 + 2 * self.max_texts]
                chosen = set(select_batch([item.length for item in window], max_texts=self.max_texts,
                                          max_tokens=self.max_tokens, padding_waste=self.padding_waste))
                batch = [item for index, item in enumerate(window) if index in chosen]
                pending = [item for index, item in enumerate(pending) if index not in chosen]
                self._forward(batch)
                self._backlog = bool(pending) or bool(self._queue)
            except Exception as exc:  # A bug here must not leave callers waiting forever.
                logger.exception("batcher error")
                failed = {id(item): item for item in pending}
                failed.update((id(item), item) for item in new if not item.ticket.cancelled)
                pending = []
                self._fail(list(failed.values()), exc)

    def _tokenize(self, items: list[_Item]) -> list[_Item]:
        live = [item for item in items if not item.ticket.cancelled]
        if not live:
            return []
        try:
            encodings = self.classifier.encode([item.text for item in live])
        except Exception as exc:
            logger.exception("tokenizing failed")
            self._fail(live, exc)
            return []
        with self._cond:
            for item, encoding in zip(live, encodings, strict=True):
                item.encoding = encoding
                ticket = item.ticket
                if ticket.open_texts > 0:  # still counted: its estimate becomes its real length
                    ticket.open_tokens += len(encoding) - item.tokens
                    self._queued_tokens += len(encoding) - item.tokens
                item.tokens = len(encoding)
        chars = sum(len(item.text) for item in live if not item.encoding.truncated)  # type: ignore[union-attr]
        tokens = sum(item.length - SPECIAL_TOKENS for item in live if not item.encoding.truncated)  # type: ignore[union-attr]
        self.cost.observe_tokenized(chars, tokens)
        return live

    def _wait_for_more(self, pending: list[_Item]) -> float:
        """Seconds to wait for more texts before a pass that is not full (only with max_wait_s)."""
        if self.max_wait_s <= 0 or len(pending) >= self.max_texts or self._stopping:
            return 0.0
        return pending[0].arrived + self.max_wait_s - time.perf_counter()

    def _forward(self, batch: list[_Item]) -> None:
        started = time.perf_counter()
        for item in batch:
            if item.ticket.started is None:
                item.ticket.started = started
        try:
            probabilities = self.classifier.forward([item.encoding.ids for item in batch])  # type: ignore[union-attr]
        except Exception as exc:
            logger.exception("forward pass failed", extra={"batch_texts": len(batch)})
            self._fail(batch, exc)
            return
        finished = time.perf_counter()
        seconds = finished - started
        # With texts waiting since the previous pass, the whole interval counts: the rate then
        # includes tokenizing and whatever else took the CPUs, as the queue really drains.
        interval = finished - self._last_finished if self._backlog else seconds
        self._last_finished = finished
        real_tokens = sum(item.length for item in batch)
        self.cost.observe_pass(real_tokens, seconds, interval)
        if self._observe_batch is not None:
            longest = max(item.length for item in batch)
            self._observe_batch(len(batch), real_tokens, longest * len(batch), seconds)
        done: list[_Ticket] = []
        for item, row in zip(batch, probabilities, strict=True):
            ticket = item.ticket
            ticket.probabilities[item.index] = row
            ticket.encodings[item.index] = item.encoding
            ticket.remaining -= 1
            ticket.finished = finished
            if ticket.remaining == 0:
                done.append(ticket)
        self._release_items(batch)
        for ticket in done:
            if ticket.cancelled:
                continue
            try:
                predictions = self.classifier.to_predictions(np.stack(ticket.probabilities),  # type: ignore[arg-type]
                                                             ticket.encodings)  # type: ignore[arg-type]
            except Exception as exc:
                ticket.resolve(error=exc)
                continue
            started_at = ticket.started or finished
            ticket.resolve(BatchResult(predictions, (ticket.finished - started_at) * 1000,
                                       (started_at - ticket.submitted) * 1000))

    def _fail(self, items: list[_Item], error: BaseException) -> None:
        tickets = {id(item.ticket): item.ticket for item in items}
        # Every other text of a failed request is dropped with it.
        for ticket in tickets.values():
            self._cancel(ticket)
            ticket.resolve(error=error)

    # ------------------------------------------------------------ queue accounting (under the lock)

    def _release_items(self, items: list[_Item]) -> None:
        with self._cond:
            for item in items:
                ticket = item.ticket
                if ticket.open_texts <= 0:
                    continue  # released already: its client left, or it failed
                ticket.open_texts -= 1
                ticket.open_tokens -= item.tokens
                self._queued_texts -= 1
                self._queued_tokens -= item.tokens

    def _release_ticket(self, ticket: _Ticket) -> None:
        with self._cond:
            self._queued_texts -= ticket.open_texts
            self._queued_tokens -= ticket.open_tokens
            ticket.open_texts = ticket.open_tokens = 0


def select_batch(lengths: Sequence[int], *, max_texts: int, max_tokens: int, padding_waste: float) -> list[int]:
    """The next forward pass, as indices into ``lengths``: the token counts of waiting texts,
    oldest first. The pass holds the oldest text (nothing starves), then those of the next
    2 x ``max_texts`` nearest to it in length (ties: the older), while it stays within
    ``max_texts`` texts, ``max_tokens`` padded tokens and ``padding_waste`` (pad tokens as a
    fraction of real ones). Returned in arrival order.
    """
    if not lengths:
        return []
    anchor = lengths[0]
    chosen, longest, real = [0], anchor, anchor
    # Only the oldest texts are candidates: picking by length from the whole queue lets new
    # texts overtake old ones again and again, and a full queue then waits several times
    # what its size says (queue_max_seconds would mean nothing).
    window = range(1, min(len(lengths), 1 + 2 * max_texts))
    for index in sorted(window, key=lambda i: (abs(lengths[i] - anchor), i)):
        if len(chosen) >= max_texts:
            break
        new_longest = max(longest, lengths[index])
        padded = new_longest * (len(chosen) + 1)
        new_real = real + lengths[index]
        if padded > max_tokens or padded - new_real > padding_waste * new_real:
            continue
        chosen.append(index)
        longest, real = new_longest, new_real
    return sorted(chosen)


async def _disconnected(receive: Callable[[], Awaitable[object]]) -> None:
    """Returns when the ASGI connection reports http.disconnect (after the body was read)."""
    while True:
        message = await receive()
        if isinstance(message, dict) and message.get("type") == "http.disconnect":
            return
