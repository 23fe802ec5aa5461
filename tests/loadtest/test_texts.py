"""The generated review-like texts."""

from __future__ import annotations

import random

from loadtest.texts import review, reviews


def test_reviews_vary_in_length_and_content_and_are_reproducible_with_a_seed():
    texts = reviews(300, random.Random(1))
    assert texts == reviews(300, random.Random(1))
    assert len(set(texts)) > 250
    words = [len(t.split()) for t in texts]
    assert min(words) >= 3 and max(words) > 40
    assert all(t.strip() == t and t[0].isupper() for t in texts)
    assert review(random.Random(2))
