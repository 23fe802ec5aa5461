"""Review-like texts for the load test: varied length and vocabulary, positive, negative and mixed."""

from __future__ import annotations

import random
from typing import Optional

_SUBJECTS = ["This movie", "The film", "The sequel", "This product", "The hotel", "Our stay", "The service",
             "The battery", "This book", "The restaurant", "The app", "The soundtrack", "The delivery", "The plot"]
_POSITIVE = ["was wonderful", "exceeded every expectation", "is the best I have seen in years", "felt heartfelt and honest",
             "works exactly as described", "made the whole family laugh", "is worth every penny", "was a real pleasure"]
_NEGATIVE = ["was a complete waste of time", "broke after two days", "is boring and far too long", "felt lazy and cynical",
             "never arrived on time", "is badly written", "left me cold", "was rude and slow"]
_DETAILS = ["the acting was superb", "the ending made no sense", "the staff were friendly", "the pacing drags in the middle",
            "customer support answered within minutes", "the colours are vivid", "the price is too high for what you get",
            "I would buy it again", "I want my money back", "the second half is much stronger than the first",
            "the instructions were confusing", "it arrived well packed", "the dialogue sounds natural",
            "the food was cold", "the camera is excellent in low light", "the story moved me to tears"]
_CLOSERS = ["Highly recommended.", "Avoid.", "Three stars.", "Would not recommend.", "Five stars!", "Mixed feelings overall.",
            "I will be back.", "Never again.", ""]


def review(rng: Optional[random.Random] = None) -> str:
    """One review: a verdict, some detail sentences (0-6), maybe a closer; 5 to about 120 words."""
    rng = rng or random
    verdict = rng.choice(_POSITIVE if rng.random() < 0.55 else _NEGATIVE)
    sentences = [f"{rng.choice(_SUBJECTS)} {verdict}."]
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4, 6])):
        detail = rng.choice(_DETAILS)
        sentences.append(detail[0].upper() + detail[1:] + rng.choice([".", ".", "!", ", but overall it was fine."]))
    closer = rng.choice(_CLOSERS)
    if closer:
        sentences.append(closer)
    return " ".join(sentences)


def reviews(count: int, rng: Optional[random.Random] = None) -> list[str]:
    return [review(rng) for _ in range(count)]
