"""Which of several equally distant dictionary words did the writer most likely mean?

symspell finds the candidates nearest in edit distance and orders ties by word frequency alone,
so "movment" becomes "moment" and "reffered" becomes "offered". People do not misspell at
random: they double or undouble letters, swap vowels, write what they hear ("fonetic"), swap
two neighbouring letters and rarely get the first letter wrong. Each candidate is scored as a
noisy channel would: log10 of its frequency (the prior), minus a fixed price per edit, plus one
order of magnitude for every such clue the typed word and the candidate share. The weights are
round numbers, not fitted values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

# One edit is worth three orders of magnitude of frequency, so a clue (one order) reorders
# candidates at the same distance but only several clues together outweigh an extra edit.
EDIT_PRICE = 3.0
CLUE_WEIGHT = 1.0

_REPEATS = re.compile(r"(.)\1+")
_VOWELS = re.compile(r"[aeiouy]+")
# Spellings of the same sound, longest first so "tion" wins over "t".
_SOUNDS = {
    "tch": "ch",
    "tion": "shn",
    "sion": "shn",
    "cian": "shn",
    "ph": "f",
    "ck": "k",
    "gh": "",
    "dg": "j",
    "wr": "r",
    "kn": "n",
    "ce": "se",
    "ci": "si",
    "cy": "sy",
    "c": "k",
    "q": "k",
    "x": "ks",
    "z": "s",
}
_SOUND_SPELLINGS = re.compile("|".join(sorted(_SOUNDS, key=len, reverse=True)))


def collapse_repeats(word: str) -> str:
    """`word` with every run of one letter written once: "reffered" → "refered"."""
    return _REPEATS.sub(r"\1", word)


def consonant_skeleton(word: str) -> str:
    """The first letter, then the consonants without repeats: "humer", "humor" → "hmr"."""
    collapsed = collapse_repeats(word)
    return collapsed[:1] + _VOWELS.sub("", collapsed[1:])


def sound_key(word: str) -> str:
    """A rough pronunciation: spellings of one sound merged, then the consonant skeleton."""
    return consonant_skeleton(_SOUND_SPELLINGS.sub(lambda m: _SOUNDS[m.group()], word))


@dataclass(frozen=True)
class Candidate:
    term: str
    distance: int
    count: int


class TypedWord:
    """The misspelled word, with the keys every candidate is compared against."""

    __slots__ = ("_collapsed", "_first", "_letters", "_skeleton", "_sound")

    def __init__(self, word: str) -> None:
        self._first = word[:1]
        self._collapsed = collapse_repeats(word)
        self._skeleton = consonant_skeleton(word)
        self._sound = sound_key(word)
        self._letters = sorted(word)

    def clues(self, term: str) -> int:
        """How many typical-error clues link the typed word to `term` (0-5)."""
        return (
            (term[:1] == self._first)
            + (collapse_repeats(term) == self._collapsed)
            + (consonant_skeleton(term) == self._skeleton)
            + (sound_key(term) == self._sound)
            + (sorted(term) == self._letters)
        )

    def score(self, candidate: Candidate) -> float:
        """log10 P(term) - price of the edits + the clues: higher is more likely meant."""
        return (
            math.log10(max(candidate.count, 1))
            - EDIT_PRICE * candidate.distance
            + CLUE_WEIGHT * self.clues(candidate.term)
        )


def rank(word: str, candidates: Iterable[Candidate]) -> list[str]:
    """The candidates' terms, most likely meant first; ties go to the alphabetically first."""
    candidates = list(candidates)
    if len(candidates) < 2:
        return [c.term for c in candidates]
    typed = TypedWord(word)
    scored = sorted((-typed.score(c), c.term) for c in candidates)
    return [term for _, term in scored]
