"""The error model that picks the meant word among symspell's nearest candidates."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spellchecker.domain.checker import Spellchecker
from spellchecker.domain.error_model import (
    CLUE_WEIGHT,
    EDIT_PRICE,
    Candidate,
    TypedWord,
    collapse_repeats,
    consonant_skeleton,
    rank,
    sound_key,
)

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=14)
vowels = st.sampled_from("aeiouy")


@pytest.mark.parametrize(
    ("word", "collapsed", "skeleton", "sound"),
    [
        ("reffered", "refered", "rfrd", "rfrd"),
        ("humour", "humour", "hmr", "hmr"),
        ("phonetic", "phonetic", "phntc", "fntk"),
        ("nation", "nation", "ntn", "nshn"),
        ("accident", "acident", "acdnt", "aksdnt"),
        ("knight", "knight", "knght", "nt"),
    ],
)
def test_keys_of_known_words(word: str, collapsed: str, skeleton: str, sound: str) -> None:
    assert collapse_repeats(word) == collapsed
    assert consonant_skeleton(word) == skeleton
    assert sound_key(word) == sound


@given(words)
def test_collapsing_leaves_no_repeated_letter_and_is_idempotent(word: str) -> None:
    collapsed = collapse_repeats(word)
    assert all(a != b for a, b in itertools.pairwise(collapsed))
    assert collapse_repeats(collapsed) == collapsed
    assert set(collapsed) == set(word)


@given(words, st.data())
def test_doubling_a_letter_changes_none_of_the_keys(word: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(word) - 1))
    doubled = word[: at + 1] + word[at] + word[at + 1 :]
    assert collapse_repeats(doubled) == collapse_repeats(word)
    assert consonant_skeleton(doubled) == consonant_skeleton(word)
    assert TypedWord(word).clues(doubled) >= 3  # first letter, repeats, skeleton


@given(words, st.data())
def test_changing_a_vowel_after_the_first_letter_keeps_the_skeleton(
    word: str, data: st.DataObject
) -> None:
    positions = [i for i, letter in enumerate(word) if i > 0 and letter in "aeiouy"]
    if not positions:
        return
    at = data.draw(st.sampled_from(positions))
    neighbours = {word[at - 1], word[at + 1] if at + 1 < len(word) else ""}
    vowel = data.draw(vowels.filter(lambda v: v not in neighbours))
    assert consonant_skeleton(word[:at] + vowel + word[at + 1 :]) == consonant_skeleton(word)


@given(st.lists(st.tuples(words, st.integers(0, 2), st.integers(1, 10**9)), max_size=8), words)
def test_ranking_is_a_permutation_independent_of_input_order(
    rows: list[tuple[str, int, int]], typed: str
) -> None:
    by_term = {term: Candidate(term, distance, count) for term, distance, count in rows}
    candidates = list(by_term.values())
    ranked = rank(typed, candidates)
    assert sorted(ranked) == sorted(by_term)
    assert rank(typed, reversed(candidates)) == ranked


def test_a_doubling_error_beats_a_more_frequent_word_at_the_same_distance() -> None:
    candidates = [Candidate("offered", 2, 50_000_000), Candidate("referred", 2, 29_000_000)]
    assert rank("reffered", candidates)[0] == "referred"


def test_a_swap_of_neighbouring_letters_beats_a_far_more_frequent_deletion() -> None:
    candidates = [Candidate("the", 1, 10**9), Candidate("then", 1, 10**7)]
    assert rank("thne", candidates)[0] == "then"


def test_a_written_as_heard_spelling_finds_its_word() -> None:
    candidates = [Candidate("kinetic", 2, 2_700_000), Candidate("phonetic", 2, 780_000)]
    assert rank("fonetic", candidates)[0] == "phonetic"


def test_much_higher_frequency_still_wins_when_clues_are_equal() -> None:
    candidates = [Candidate("than", 1, 10**6), Candidate("then", 1, 10**9)]
    assert rank("thon", candidates)[0] == "then"


def test_an_extra_edit_costs_more_than_two_clues_are_worth() -> None:
    typed = TypedWord("hemo")
    near, far = Candidate("demo", 1, 1000), Candidate("home", 2, 1000)
    assert typed.clues("home") - typed.clues("demo") == 4
    assert rank("hemo", [near, far])[0] == "home"
    assert EDIT_PRICE > 2 * CLUE_WEIGHT


def test_the_spellchecker_corrects_with_the_model() -> None:
    checker = Spellchecker(
        [("moment", 36_000), ("movement", 35_000), ("the", 10**6), ("grew", 10**5)]
    )
    assert checker.best_suggestion("movment") == "movement"
    corrected = checker.check("The movment grew.").corrected
    assert corrected == "The movement grew."


def test_suggestions_start_with_the_best_and_reach_one_edit_further() -> None:
    checker = Spellchecker([("ligature", 200), ("literature", 46_000), ("the", 10**6)])
    assert checker.best_suggestion("litature") == "ligature"
    assert checker.suggestions("litature") == ["ligature", "literature"]
