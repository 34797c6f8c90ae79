"""Essays of clearly graded quality for the offline judge: longer, more varied, fewer typos.

Level 0 is a short, repetitive essay full of common learner misspellings; each level adds
sentences, widens the vocabulary and removes misspellings, so the offline judge's latent
quality rises steadily with the level.
"""

from __future__ import annotations

import random

from llm_provider.domain.english_words import COMMON_MISSPELLINGS

_SUBJECTS = (
    "the harbour", "my grandmother", "the old library", "our village", "the forest path",
    "the city market", "a quiet beach", "the school garden", "the mountain lake", "the museum",
    "the train station", "a small bakery", "the river bank", "the football field", "the island",
)  # fmt: skip
_VERBS = (
    "shows", "reminds me of", "teaches", "offers", "changes", "reveals", "protects", "connects",
    "inspires", "surprises", "welcomes", "challenges", "shapes", "celebrates", "explains",
)  # fmt: skip
_OBJECTS = (
    "the value of patience", "a sense of belonging", "the history of the region",
    "the importance of friendship", "a different way of seeing the world", "the power of nature",
    "how people live together", "the beauty of simple things", "the need for careful planning",
    "what a community can achieve", "the meaning of tradition", "the courage of ordinary people",
)  # fmt: skip
_CONNECTIVES = (
    "However,", "Moreover,", "For example,", "In addition,", "As a result,", "Nevertheless,",
    "Therefore,", "On the other hand,", "Furthermore,", "In contrast,",
)  # fmt: skip
_BASIC = "i like it. it is good. it is nice and i go there."


def graded_essay(level: int, levels: int, seed: int = 0) -> str:
    """An essay whose quality increases with `level` (0 .. levels - 1)."""
    rng = random.Random(seed * 1_000 + level)
    share = level / max(1, levels - 1)
    sentences = []
    for _ in range(3 + int(share * 14)):
        sentence = (
            f"{rng.choice(_SUBJECTS[: 3 + int(share * 12)])} "
            f"{rng.choice(_VERBS[: 3 + int(share * 12)])} "
            f"{rng.choice(_OBJECTS[: 2 + int(share * 10)])}"
        )
        if rng.random() < share:
            sentence = f"{rng.choice(_CONNECTIVES)} {sentence}"
        sentences.append(sentence[0].upper() + sentence[1:] + ".")
    text = " ".join(sentences)
    misspellings = sorted(COMMON_MISSPELLINGS)
    typos = int((1.0 - share) * 12)
    words = text.split()
    for _ in range(typos):
        words.insert(rng.randrange(len(words)), rng.choice(misspellings))
    if level < levels // 4:
        words = _BASIC.split() + words
    return " ".join(words)
