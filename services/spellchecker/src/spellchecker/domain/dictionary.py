"""The English frequency dictionary bundled with symspellpy, loaded once per process."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from importlib import resources

from spellchecker.domain.checker import Spellchecker

_DICTIONARY = "frequency_dictionary_en_82_765.txt"


def bundled_frequencies() -> Iterator[tuple[str, int]]:
    """`(word, count)` pairs of symspellpy's English dictionary ("word count" per line)."""
    text = resources.files("symspellpy").joinpath(_DICTIONARY).read_text(encoding="utf-8")
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            yield parts[0], int(parts[1])


@lru_cache(maxsize=4)
def english_spellchecker(extra_allowlist: tuple[str, ...] = ()) -> Spellchecker:
    """The process-wide spellchecker for this allowlist (a tuple, so it can be cached)."""
    return Spellchecker(bundled_frequencies(), allowlist=extra_allowlist)
