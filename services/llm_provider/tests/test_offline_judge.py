from __future__ import annotations

import itertools
import random
import re

import pytest
from llm_provider.domain.offline_judge import (
    OfflineJudge,
    confidence_for,
    latent_quality,
    trim_words,
    win_probability,
)
from llm_provider.domain.text_features import (
    extract_features,
    looks_misspelt,
    mtld,
    quality_components,
)

from common_core.events.llm import ComparisonWinner

STRONG = (
    "Many people believe that social media has changed the way teenagers communicate with "
    "their friends and families. In my opinion, these platforms bring both clear benefits and "
    "serious risks, and schools should teach students how to use them wisely.\n\n"
    "Firstly, social media allows young people to stay connected across great distances. A "
    "student who moves to a new city can still share photographs, jokes and news with old "
    "classmates every evening. Furthermore, online communities give isolated teenagers a place "
    "where they feel understood, which can strengthen their confidence.\n\n"
    "However, the same technology creates pressures that earlier generations never faced. "
    "Algorithms reward dramatic posts, so users may exaggerate their achievements or compare "
    "themselves unfavourably with carefully edited images. Consequently, anxiety and "
    "loneliness can grow even while the number of followers increases.\n\n"
    "In conclusion, social media is neither simply good nor simply harmful. Therefore, parents "
    "and teachers should guide teenagers rather than ban these platforms entirely."
)
MIDDLE = (
    "Social media has good and bad sides. People can talk to friends that live far away. But "
    "some people spend too much time online and this is not good for them. Teenagers also "
    "compare themselves with others and feel sad. I think schools should teach students about "
    "this."
)
WEAK = (
    "i think social media is bad. it is bad becuase people use it alot. my freind use it. it "
    "is bad for sleep. thats why it is bad."
)


def _with_typos(text: str, rate: float, seed: int) -> str:
    rng = random.Random(seed)

    def drop_letter(match: re.Match[str]) -> str:
        word = match.group()
        if len(word) < 5 or rng.random() >= rate:
            return word
        i = rng.randrange(1, len(word) - 1)
        return word[:i] + word[i + 1 :]

    return re.sub(r"[a-z]+", drop_letter, text)


def test_latent_quality_orders_strong_middle_weak() -> None:
    assert latent_quality(STRONG) > latent_quality(MIDDLE) > latent_quality(WEAK)


def test_typos_lower_quality_and_raise_the_error_rate() -> None:
    typed = _with_typos(STRONG, rate=0.3, seed=1)
    assert (
        extract_features(typed).spelling_error_rate > extract_features(STRONG).spelling_error_rate
    )
    assert latent_quality(typed) < latent_quality(STRONG)


def test_length_has_diminishing_returns() -> None:
    sentence = "Students who read widely develop richer arguments and clearer prose. "
    vocabulary_neutral = [sentence * n for n in (2, 4, 8, 16)]
    development = [extract_features(t).words for t in vocabulary_neutral]
    assert development == sorted(development)
    gains = [
        quality_components(extract_features(b))["development"]
        - quality_components(extract_features(a))["development"]
        for a, b in itertools.pairwise(vocabulary_neutral)
    ]
    assert all(gain > 0 for gain in gains)
    assert gains[0] > gains[-1]


def test_repetition_lowers_vocabulary_diversity() -> None:
    repetitive = ("social media is bad " * 30).split()
    varied = re.findall(r"[a-z]+", STRONG.lower())
    assert mtld(repetitive) < mtld(varied)


@pytest.mark.parametrize("word", ["recieve", "becuase", "enviroment", "chnged", "thier"])
def test_typical_misspellings_are_detected(word: str) -> None:
    assert looks_misspelt(word)


@pytest.mark.parametrize(
    "word", ["receive", "because", "environment", "changed", "photographs", "scrolling"]
)
def test_correct_words_are_not_flagged(word: str) -> None:
    assert not looks_misspelt(word)


def test_capitalised_names_are_not_counted_as_errors() -> None:
    assert extract_features("Siobhan met Wojciech in Reykjavik.").spelling_error_rate == 0.0


def test_same_seed_and_key_give_the_same_judgement() -> None:
    first = OfflineJudge(seed=7).judge(STRONG, MIDDLE, noise_key="req-1")
    second = OfflineJudge(seed=7).judge(STRONG, MIDDLE, noise_key="req-1")
    assert first == second


def test_seed_changes_the_draws() -> None:
    # Two essays of equal quality: the winner is a coin toss that the seed decides.
    outcomes = {
        OfflineJudge(seed=seed).judge(MIDDLE, MIDDLE + " ", noise_key="k").winner
        for seed in range(20)
    }
    assert outcomes == {ComparisonWinner.ESSAY_A, ComparisonWinner.ESSAY_B}


def test_win_frequency_follows_the_bradley_terry_probability() -> None:
    judge = OfflineJudge(seed=3)
    probability = judge.judge(STRONG, MIDDLE, noise_key="x").probability_a
    assert 0.5 < probability < 0.99
    wins = sum(
        judge.judge(STRONG, MIDDLE, noise_key=f"r{i}").winner is ComparisonWinner.ESSAY_A
        for i in range(2000)
    )
    assert abs(wins / 2000 - probability) < 0.04


def test_position_bias_favours_the_first_essay() -> None:
    neutral = OfflineJudge(seed=1).judge(MIDDLE, STRONG, noise_key="k")
    biased = OfflineJudge(seed=1, position_bias=1.0).judge(MIDDLE, STRONG, noise_key="k")
    assert biased.probability_a > neutral.probability_a
    assert neutral.probability_a == pytest.approx(
        win_probability(latent_quality(MIDDLE), latent_quality(STRONG))
    )


def test_justification_is_short_names_the_winner_and_features() -> None:
    judgement = OfflineJudge(seed=0).judge(WEAK, STRONG, noise_key="k")
    assert judgement.winner is ComparisonWinner.ESSAY_B
    assert len(judgement.justification.split()) <= 50
    assert judgement.justification.startswith("Essay B is stronger")
    assert "spelling" in judgement.justification or "vocabulary" in judgement.justification
    assert judgement.confidence == 5


@pytest.mark.parametrize(
    ("probability", "confidence"), [(0.5, 1), (0.59, 1), (0.65, 2), (0.75, 3), (0.85, 4), (1.0, 5)]
)
def test_confidence_scale(probability: float, confidence: int) -> None:
    assert confidence_for(probability) == confidence


def test_trim_words_caps_the_length() -> None:
    assert len(trim_words("word " * 80).split()) == 50
    assert trim_words("  short   text ") == "short text"
