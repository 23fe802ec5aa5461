"""Admission control for the dynamic batcher: how long the queue takes, from a cost model in tokens.

A text costs about the same per token whatever the mix (the forward pass is ~85 MFLOP per
token; attention's quadratic term adds ~10% at 512 tokens), so the queue's work is its tokens
times the seconds one token takes. The batcher measures that rate on the warm-up pass
(``CostModel.calibrate``) before it takes a request, then follows what forward passes really
take (``observe_pass``): the bound ``QUEUE_MAX_SECONDS`` holds from the first request on, and
long texts count for what they cost. Texts are counted at an estimate from their characters
until the worker has tokenized them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Decay of the running sums behind each rate: ~10 recent observations weigh in.
DECAY = 0.9
#: Tokens per character before any text was tokenized: 1 token per 2 characters over-counts
#: English (~1 per 4.5 for WordPiece) and the bound errs on the safe side.
DEFAULT_TOKENS_PER_CHAR = 0.5
#: The most a pass's drain time counts, in multiples of its compute time (see observe_pass).
MAX_DRAIN_FACTOR = 3.0
#: [CLS] and [SEP] (or their equivalents) around every text.
SPECIAL_TOKENS = 2


@dataclass
class CostModel:
    """Seconds per token of the forward passes, and tokens per character of the tokenizer."""

    max_length: int
    seconds_per_token: float = 0.0  # 0: not measured yet
    tokens_per_char: float = DEFAULT_TOKENS_PER_CHAR
    _seconds: float = 0.0
    _tokens: float = 0.0
    _chars: float = 0.0
    _char_tokens: float = 0.0

    @property
    def known(self) -> bool:
        return self.seconds_per_token > 0

    def estimate_tokens(self, text: str) -> int:
        """The tokens ``text`` will likely take, before it is tokenized (truncation included)."""
        return min(self.max_length, math.ceil(len(text) * self.tokens_per_char) + SPECIAL_TOKENS)

    def seconds(self, tokens: float) -> float:
        return tokens * self.seconds_per_token

    def calibrate(self, tokens: int, seconds: float) -> None:
        """Seed the rate from a measured pass (the warm-up), before any request."""
        self._tokens, self._seconds = float(tokens), max(seconds, 1e-6)
        self.seconds_per_token = self._seconds / max(tokens, 1)

    def observe_pass(self, tokens: int, compute_seconds: float, drain_seconds: float | None = None) -> None:
        """A forward pass of ``tokens`` real tokens ran ``compute_seconds``; the queue drained it in
        ``drain_seconds`` (since the previous pass, when texts were waiting: tokenizing and
        whatever else took the CPUs count too). The drain time counts at most
        ``MAX_DRAIN_FACTOR`` times the compute time: between small passes of a burst the event
        loop accepting requests takes the time, and that does not grow with the queue."""
        drain = compute_seconds if drain_seconds is None else drain_seconds
        seconds = min(drain, MAX_DRAIN_FACTOR * compute_seconds)
        # A ratio of decaying sums, not an average of per-pass rates (which short passes inflate).
        self._tokens = DECAY * self._tokens + tokens
        self._seconds = DECAY * self._seconds + max(seconds, 1e-6)
        self.seconds_per_token = self._seconds / max(self._tokens, 1e-9)

    def observe_tokenized(self, chars: int, tokens: int) -> None:
        """Texts of ``chars`` characters in all took ``tokens`` tokens (special tokens excluded)."""
        if chars <= 0:
            return
        self._chars = DECAY * self._chars + chars
        self._char_tokens = DECAY * self._char_tokens + max(tokens, 0)
        self.tokens_per_char = max(self._char_tokens / self._chars, 1e-3)


@dataclass(frozen=True)
class Queue:
    """What is accepted and not yet answered: texts, and tokens (exact once tokenized)."""

    texts: int
    tokens: float


def admit(queue: Queue, request: Queue, cost: CostModel, *, max_texts: int, max_seconds: float) -> bool:
    """Whether a request fits: an empty queue takes any request (a batch larger than the bound
    must not starve); otherwise at most ``max_texts`` texts, and at most ``max_seconds`` of
    work, the request's own included (``max_seconds`` 0: no time bound)."""
    if queue.texts == 0:
        return True
    if queue.texts + request.texts > max_texts:
        return False
    if max_seconds <= 0 or not cost.known:
        return True
    return cost.seconds(queue.tokens + request.tokens) <= max_seconds


def retry_after(queue: Queue, cost: CostModel) -> int:
    """Seconds until the queue has likely drained: what Retry-After says (1 to 60)."""
    if not cost.known:
        return 1
    return int(min(60, max(1, math.ceil(cost.seconds(queue.tokens)))))
