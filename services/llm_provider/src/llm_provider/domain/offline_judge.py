"""Deterministic offline judge: compares two essays on their text features, no model involved.

Each text gets a latent quality (a sum of feature contributions in logit units, see
text_features.quality_components). The probability that Essay A wins is the Bradley-Terry
probability sigmoid(sharpness * (q_A - q_B) + position_bias); the winner is drawn from it with
a random number seeded by the judge's seed and the request/essay identity, so the same request
always gets the same answer while a batch of comparisons is as noisy as a real judge. Rankings
built from these judgements therefore track `latent_quality`.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

from common_core.events.llm import ComparisonWinner
from llm_provider.domain.text_features import extract_features, quality_components

MAX_JUSTIFICATION_WORDS = 50

_REASONS = {
    "development": "a more fully developed argument ({a} vs {b} words)",
    "vocabulary": "more varied vocabulary",
    "spelling": "fewer apparent spelling errors",
    "sentences": "better controlled sentence structure",
    "cohesion": "clearer links between ideas",
}


def latent_quality(text: str) -> float:
    """The judge's hidden quality score of one text (higher is better)."""
    return sum(quality_components(extract_features(text)).values())


def win_probability(
    quality_a: float, quality_b: float, *, sharpness: float = 1.0, position_bias: float = 0.0
) -> float:
    """Bradley-Terry probability that the first-shown essay (A) wins."""
    logit = sharpness * (quality_a - quality_b) + position_bias
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    exp = math.exp(logit)
    return exp / (1.0 + exp)


def confidence_for(probability_of_winner: float) -> int:
    """1..5 from how clear the preference was: 0.5-0.6 -> 1, ..., 0.9-1.0 -> 5."""
    return max(1, min(5, 1 + int((probability_of_winner - 0.5) * 10)))


def trim_words(text: str, limit: int = MAX_JUSTIFICATION_WORDS) -> str:
    words = text.split()
    if len(words) <= limit:
        return " ".join(words)
    return " ".join(words[:limit]).rstrip(",;:") + "."


@dataclass(frozen=True)
class OfflineJudgement:
    winner: ComparisonWinner
    justification: str
    confidence: int
    probability_a: float


class OfflineJudge:
    """Pure and deterministic: same seed, same texts, same noise key -> same judgement."""

    def __init__(self, *, seed: int = 0, sharpness: float = 1.0, position_bias: float = 0.0):
        self.seed = seed
        self.sharpness = sharpness
        self.position_bias = position_bias  # logit added in favour of Essay A (shown first)

    def _uniform(self, essay_a: str, essay_b: str, noise_key: str) -> float:
        key = noise_key or hashlib.sha256(f"{essay_a}\x00{essay_b}".encode()).hexdigest()
        digest = hashlib.sha256(f"{self.seed}|{key}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big")).random()

    def judge(self, essay_a: str, essay_b: str, *, noise_key: str = "") -> OfflineJudgement:
        """`noise_key` names the comparison (e.g. request and essay ids) for the seeded draw."""
        components_a = quality_components(extract_features(essay_a))
        components_b = quality_components(extract_features(essay_b))
        probability_a = win_probability(
            sum(components_a.values()),
            sum(components_b.values()),
            sharpness=self.sharpness,
            position_bias=self.position_bias,
        )
        a_wins = self._uniform(essay_a, essay_b, noise_key) < probability_a
        winner = ComparisonWinner.ESSAY_A if a_wins else ComparisonWinner.ESSAY_B
        probability_winner = probability_a if a_wins else 1.0 - probability_a
        return OfflineJudgement(
            winner=winner,
            justification=self._justify(a_wins, components_a, components_b, essay_a, essay_b),
            confidence=confidence_for(probability_winner),
            probability_a=probability_a,
        )

    def _justify(
        self,
        a_wins: bool,
        components_a: dict[str, float],
        components_b: dict[str, float],
        essay_a: str,
        essay_b: str,
    ) -> str:
        winner, loser = ("A", "B") if a_wins else ("B", "A")
        won, lost = (components_a, components_b) if a_wins else (components_b, components_a)
        words = {
            "A": extract_features(essay_a).words,
            "B": extract_features(essay_b).words,
        }
        margins = sorted(((won[name] - lost[name], name) for name in _REASONS), reverse=True)
        strengths = [
            _REASONS[name].format(a=words[winner], b=words[loser])
            for margin, name in margins[:2]
            if margin > 0.05
        ]
        weakness = margins[-1]
        if strengths:
            text = f"Essay {winner} is stronger overall, with {' and '.join(strengths)}."
        else:
            text = f"On balance Essay {winner} is preferred; the two essays are close."
        if weakness[0] < -0.05:
            concession = _REASONS[weakness[1]].format(a=words[loser], b=words[winner])
            text += f" Essay {loser} does show {concession}."
        return trim_words(text)
