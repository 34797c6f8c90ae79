"""The spellchecker: tokens with code-point offsets → corrections → corrected text.

Deterministic by construction: the same text and word lists always give the same corrections
(the nearest dictionary words ranked by a fixed error model, ties broken alphabetically), so a
redelivered request reproduces the result it already reported.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from symspellpy import SymSpell, Verbosity

from common_core.events.spellcheck import CorrectionCategory
from spellchecker.domain.error_model import Candidate, rank
from spellchecker.domain.lexicon import (
    BRITISH_AMERICAN,
    LEARNER_PHRASES,
    LEARNER_WORDS,
    SWEDISH_NAMES_AND_PLACES,
)

# Letters only (any script), joined by apostrophes: "don't", "teacher's", "Malmö".
_APOSTROPHE = "\u2019"  # typographic apostrophe, read as "'"
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")
_SENTENCE_BREAK = re.compile(r"[.!?:;\n\"“”]")
# Neighbours that mark a token as part of an address, handle, path or code, never prose.
_GLUED_BEFORE = frozenset("@#/\\_0123456789")
_GLUED_AFTER = frozenset("@/\\_0123456789")
_PRONOUN_I = frozenset({"i", "i'm", "i've", "i'll", "i'd"})
_MAX_PHRASE = max(len(words) for words in LEARNER_PHRASES)
_MIN_CHECKED_LENGTH = 3
MAX_EDIT_DISTANCE = 2


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    sentence_start: bool


@dataclass(frozen=True)
class Correction:
    """`original` at [start, end) of the checked text is replaced by `corrected`."""

    start: int
    end: int
    original: str
    corrected: str
    category: CorrectionCategory


@dataclass(frozen=True)
class CheckedText:
    original: str
    corrections: tuple[Correction, ...]

    @property
    def corrected(self) -> str:
        return apply_corrections(self.original, self.corrections)

    @property
    def error_counts(self) -> dict[CorrectionCategory, int]:
        return count_by_category(self.corrections)


def tokenize(text: str) -> list[Token]:
    """Words with their offsets (code points) and whether each starts a sentence."""
    tokens: list[Token] = []
    previous_end = 0
    for match in _WORD.finditer(text):
        start, end = match.span()
        sentence_start = not tokens or bool(_SENTENCE_BREAK.search(text, previous_end, start))
        tokens.append(Token(match.group(), start, end, sentence_start))
        previous_end = end
    return tokens


def apply_corrections(text: str, corrections: Sequence[Correction]) -> str:
    """`text` with every correction applied; they must match the text and not overlap."""
    pieces: list[str] = []
    position = 0
    for correction in sorted(corrections, key=lambda c: c.start):
        if correction.start < position or text[correction.start : correction.end] != (
            correction.original
        ):
            raise ValueError(f"correction does not fit the text: {correction}")
        pieces.append(text[position : correction.start])
        pieces.append(correction.corrected)
        position = correction.end
    pieces.append(text[position:])
    return "".join(pieces)


def count_by_category(corrections: Iterable[Correction]) -> dict[CorrectionCategory, int]:
    return dict(Counter(correction.category for correction in corrections))


def _with_case_of(original: str, replacement: str) -> str:
    if len(original) > 1 and original.isupper():
        return replacement.upper()
    if original[:1].isupper() and replacement[:1].islower():
        return replacement[:1].upper() + replacement[1:]
    return replacement


class Spellchecker:
    """Built once per process (loading the dictionary takes 2-3 s), then shared."""

    def __init__(
        self, frequencies: Iterable[tuple[str, int]], *, allowlist: Iterable[str] = ()
    ) -> None:
        self._symspell = SymSpell(max_dictionary_edit_distance=MAX_EDIT_DISTANCE, prefix_length=7)
        for word, count in frequencies:
            self._symspell.create_dictionary_entry(word, count)
        words: dict[str, int] = self._symspell.words
        for british, american in BRITISH_AMERICAN.items():
            # Just below the American count: accepted as correct, American wins a tie.
            count = max(1, words.get(american, 2) - 1)
            if british not in words:
                self._symspell.create_dictionary_entry(british, count)
            if american not in words:
                self._symspell.create_dictionary_entry(american, count + 1)
        self._words: dict[str, int] = self._symspell.words
        self._allowlist = frozenset(
            word.casefold() for word in (*SWEDISH_NAMES_AND_PLACES, *allowlist)
        )

    def is_known(self, word: str) -> bool:
        lowered = word.casefold().replace(_APOSTROPHE, "'")
        if lowered in self._words or lowered in self._allowlist:
            return True
        stem = lowered.split("'", 1)[0]
        return "'" in lowered and (stem in self._words or stem in self._allowlist)

    def check(self, text: str) -> CheckedText:
        tokens = [t for t in tokenize(text) if not _glued(text, t)]
        proper_nouns = {t.text for t in tokens if not t.sentence_start and t.text[:1].isupper()}
        corrections: list[Correction] = []
        index = 0
        while index < len(tokens):
            phrase = self._phrase_at(text, tokens, index)
            if phrase is not None:
                correction, length = phrase
                corrections.append(correction)
                index += length
                continue
            correction_or_none = self._check_word(tokens[index], proper_nouns)
            if correction_or_none is not None:
                corrections.append(correction_or_none)
            index += 1
        return CheckedText(text, tuple(corrections))

    def _phrase_at(
        self, text: str, tokens: Sequence[Token], index: int
    ) -> tuple[Correction, int] | None:
        for length in range(min(_MAX_PHRASE, len(tokens) - index), 1, -1):
            window = tokens[index : index + length]
            replacement = LEARNER_PHRASES.get(tuple(t.text.casefold() for t in window))
            if replacement is None:
                continue
            if any(not text[a.end : b.start].isspace() for a, b in itertools.pairwise(window)):
                continue
            start, end = window[0].start, window[-1].end
            original = text[start:end]
            corrected = _with_case_of(window[0].text, replacement)
            return Correction(start, end, original, corrected, CorrectionCategory.LEARNER_ERROR), (
                length
            )
        return None

    def _check_word(self, token: Token, proper_nouns: set[str]) -> Correction | None:
        word = token.text
        lowered = word.casefold().replace(_APOSTROPHE, "'")
        learner = LEARNER_WORDS.get(lowered)
        if learner is not None:
            return self._correction(
                token, _with_case_of(word, learner), CorrectionCategory.LEARNER_ERROR
            )
        if lowered in _PRONOUN_I and word[0] == "i":
            return self._correction(token, "I" + word[1:], CorrectionCategory.CAPITALIZATION)
        if lowered in self._allowlist or len(word) < _MIN_CHECKED_LENGTH:
            return None
        if word.isupper() or any(c.isupper() for c in word[1:]):
            return None  # acronyms (EU, NATO) and brand-like words (iPhone, TikTok)
        if word[0].isupper() and (not token.sentence_start or word in proper_nouns):
            return None  # a proper noun: capitalised where a sentence does not start
        if self.is_known(lowered) or "'" in lowered:
            return None
        suggestion = self.best_suggestion(lowered)
        if suggestion is None:
            return None
        return self._correction(token, _with_case_of(word, suggestion), CorrectionCategory.SPELLING)

    def best_suggestion(self, word: str) -> str | None:
        """The most likely meant of the nearest dictionary words (see `error_model`)."""
        nearest = self._candidates(word, Verbosity.CLOSEST, _max_distance(word))
        if not nearest:
            return None
        return rank(word, nearest)[0]

    def suggestions(self, word: str, limit: int = 5) -> list[str]:
        """Ranked candidates for accuracy measurements: `best_suggestion` first, then the
        other nearest words, then words one edit further, each group in the model's order."""
        lowered = word.casefold()
        nearest = self._candidates(lowered, Verbosity.CLOSEST, _max_distance(lowered))
        ranked = rank(lowered, nearest)
        if len(ranked) < limit:
            seen = set(ranked)
            further = self._candidates(lowered, Verbosity.ALL, MAX_EDIT_DISTANCE)
            ranked += rank(lowered, [c for c in further if c.term not in seen])
        return ranked[:limit]

    def _candidates(self, word: str, verbosity: Verbosity, distance: int) -> list[Candidate]:
        found = self._symspell.lookup(word, verbosity, max_edit_distance=distance)
        return [Candidate(item.term, item.distance, item.count) for item in found]

    @staticmethod
    def _correction(
        token: Token, corrected: str, category: CorrectionCategory
    ) -> Correction | None:
        if corrected == token.text:
            return None
        return Correction(token.start, token.end, token.text, corrected, category)


def _max_distance(word: str) -> int:
    """Short words get one edit: at two, almost any short word is near another."""
    return 1 if len(word) <= 4 else MAX_EDIT_DISTANCE


def _glued(text: str, token: Token) -> bool:
    """Part of an address, handle, path, number or file name rather than a word of prose."""
    before = text[token.start - 1] if token.start > 0 else " "
    after = text[token.end] if token.end < len(text) else " "
    if before in _GLUED_BEFORE or after in _GLUED_AFTER:
        return True
    following = text[token.end + 1] if token.end + 1 < len(text) else " "
    preceding = text[token.start - 2] if token.start > 1 else " "
    return (after == "." and following.isalpha()) or (before == "." and preceding.isalpha())
