"""Text features of an essay that a human judge would notice, computed without any model.

Length (with diminishing returns), vocabulary diversity (MTLD, which unlike a raw type-token
ratio does not fall with length), an apparent spelling-error rate, sentence length and its
variation, and the density of discourse connectives.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass
from functools import lru_cache

from llm_provider.domain.english_words import COMMON_MISSPELLINGS, COMMON_WORDS, CONNECTIVES

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)|\n\s*\n")
_TRIPLE_LETTER = re.compile(r"(.)\1\1")
_VOWEL = re.compile(r"[aeiouy]")
_CONNECTIVE_PATTERNS = tuple(
    re.compile(r"\b" + re.escape(phrase).replace(r"\ ", r"\s+") + r"\b") for phrase in CONNECTIVES
)
_SUFFIXES = (
    "ations", "ation", "ments", "ment", "ness", "ings", "ing", "ies", "ied", "ers", "est", "ful",
    "less", "ally", "ly", "ity", "ions", "ion", "ers", "er", "ed", "es", "s", "d", "al",
)  # fmt: skip
_PREFIXES = ("un", "re", "dis", "in", "im", "non", "pre", "over", "under", "mis")
_MTLD_THRESHOLD = 0.72
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class TextFeatures:
    words: int
    mtld: float
    spelling_error_rate: float  # apparent misspellings per word
    mean_sentence_words: float
    sentence_length_cv: float  # standard deviation / mean of sentence lengths
    connectives_per_100_words: float


def _suffix_stems(word: str) -> set[str]:
    """The word and what is left after removing one inflectional/derivational suffix."""
    stems = {word}
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            stem = word[: -len(suffix)]
            stems.add(stem)
            if len(stem) >= 3 and stem[-1] == stem[-2]:
                stems.add(stem[:-1])  # running -> run
            if stem.endswith("i"):
                stems.add(stem[:-1] + "y")  # studies -> study
    return stems


def _stems(word: str) -> set[str]:
    """Candidate base forms: suffix stems, with a restored final e, with a prefix removed."""
    bases = {word}
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 3:
            bases.add(word[len(prefix) :])
    stems: set[str] = set()
    for base in bases:
        for stem in _suffix_stems(base):
            stems.update({stem, stem + "e"})
    return stems


@lru_cache(maxsize=65_536)
def is_known_word(word: str) -> bool:
    return any(stem in COMMON_WORDS for stem in _stems(word))


@lru_cache(maxsize=65_536)
def looks_misspelt(word: str) -> bool:
    """A lower-case word that is a listed misspelling or a one-edit typo of a common word.

    Words that are merely rare are not errors: only a word one interior insertion, deletion or
    adjacent swap (or, for long words, one substitution) away from a common word is counted.
    """
    if len(word) < 3:
        return False
    if word in COMMON_MISSPELLINGS:
        return True
    if is_known_word(word):
        return False
    if _TRIPLE_LETTER.search(word) or not _VOWEL.search(word):
        return True
    return any(
        not variants.isdisjoint(COMMON_WORDS)
        for variants in map(_one_edit_variants, _suffix_stems(word))
    )
    return False


def _one_edit_variants(word: str) -> set[str]:
    """Words one interior typo away: the first and last letters are kept, because real words
    differ from common ones there far more often than typists slip there.

    Swaps and deletions from 4 letters, insertions from 5, substitutions from 6: shorter words
    have too many real neighbours for an edit to mean an error.
    """
    n = len(word)
    variants: set[str] = set()
    if n >= 4:
        variants.update(word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(1, n - 2))
        variants.update(word[:i] + word[i + 1 :] for i in range(1, n - 1))
    if n >= 5:
        variants.update(word[:i] + c + word[i:] for i in range(1, n) for c in _LETTERS)
    if n >= 6:
        variants.update(word[:i] + c + word[i + 1 :] for i in range(1, n - 1) for c in _LETTERS)
    variants.discard(word)
    return variants


def mtld(tokens: list[str], threshold: float = _MTLD_THRESHOLD) -> float:
    """Measure of Textual Lexical Diversity (McCarthy & Jarvis 2010), forward/backward mean."""
    if not tokens:
        return 0.0

    def one_direction(sequence: list[str]) -> float:
        factors = 0.0
        types: set[str] = set()
        count = 0
        for token in sequence:
            types.add(token)
            count += 1
            if len(types) / count <= threshold:
                factors += 1.0
                types.clear()
                count = 0
        if count:
            ttr = len(types) / count
            factors += (1.0 - ttr) / (1.0 - threshold)
        return len(sequence) / factors if factors > 0 else float(len(sequence))

    return (one_direction(tokens) + one_direction(tokens[::-1])) / 2.0


def _sentence_lengths(text: str) -> list[int]:
    lengths = []
    for sentence in _SENTENCE_END.split(text):
        count = len(_WORD.findall(sentence))
        if count:
            lengths.append(count)
    return lengths


@lru_cache(maxsize=2_048)
def extract_features(text: str) -> TextFeatures:
    raw_words = _WORD.findall(text)
    words = [w.lower() for w in raw_words]
    n = len(words)
    if n == 0:
        return TextFeatures(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    errors = 0
    for raw, word in zip(raw_words, words, strict=True):
        base = word.split("'")[0]
        if raw[0].isupper():  # likely a name: only count listed misspellings
            errors += base in COMMON_MISSPELLINGS
        else:
            errors += looks_misspelt(base)
    lengths = _sentence_lengths(text) or [n]
    mean_length = statistics.fmean(lengths)
    cv = statistics.pstdev(lengths) / mean_length if len(lengths) > 1 else 0.0
    lowered = " ".join(words)
    connectives = sum(len(pattern.findall(lowered)) for pattern in _CONNECTIVE_PATTERNS)
    return TextFeatures(
        words=n,
        mtld=mtld(words),
        spelling_error_rate=errors / n,
        mean_sentence_words=mean_length,
        sentence_length_cv=cv,
        connectives_per_100_words=100.0 * connectives / n,
    )


def quality_components(features: TextFeatures) -> dict[str, float]:
    """Each feature's contribution to latent quality, in logit units (higher is better)."""
    if features.words == 0:
        return {"development": -4.0, "vocabulary": 0.0, "spelling": 0.0, "sentences": 0.0,
                "cohesion": 0.0}  # fmt: skip
    development = 1.2 * math.log1p(features.words / 100.0)
    if features.words < 50:
        development -= 1.0 * (50 - features.words) / 50
    vocabulary = 1.1 * math.log(max(features.mtld, 5.0) / 60.0)
    spelling = -35.0 * min(features.spelling_error_rate, 0.2)
    sentences = -0.9 * abs(math.log(max(features.mean_sentence_words, 1.0) / 18.0))
    sentences += 0.6 * min(features.sentence_length_cv, 0.6)
    cohesion = 0.5 * math.log1p(min(features.connectives_per_100_words, 6.0))
    return {
        "development": development,
        "vocabulary": vocabulary,
        "spelling": spelling,
        "sentences": sentences,
        "cohesion": cohesion,
    }
