"""The spellchecker's corrections: located exactly, counted exactly, and only where due."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spellchecker.domain.checker import CheckedText, Spellchecker, apply_corrections, tokenize
from spellchecker.domain.dictionary import english_spellchecker
from spellchecker.domain.lexicon import BRITISH_AMERICAN, LEARNER_WORDS

from common_core.events.spellcheck import CorrectionCategory

SAMPLE_ESSAYS = sorted((Path(__file__).parents[3] / "sample" / "essays").glob("*.txt"))
SWEDISH = ["Malmö", "Umeå", "Göteborg", "Västerås", "Linköping", "Uppsala", "Örebro"]
SWEDISH += ["Jönköping", "Borlänge", "Lisa", "Oskar", "Elin"]


@pytest.fixture(scope="module")
def checker() -> Spellchecker:
    return english_spellchecker()


def spliced_from_the_end(text: str, checked: CheckedText) -> str:
    """The corrected text rebuilt independently of `apply_corrections`."""
    for correction in sorted(checked.corrections, key=lambda c: c.start, reverse=True):
        text = text[: correction.start] + correction.corrected + text[correction.end :]
    return text


def assert_consistent(text: str, checked: CheckedText) -> None:
    previous_end = 0
    for correction in checked.corrections:
        assert previous_end <= correction.start <= correction.end <= len(text)
        assert text[correction.start : correction.end] == correction.original
        assert correction.original != correction.corrected
        previous_end = correction.end
    assert checked.corrected == spliced_from_the_end(text, checked)
    assert checked.error_counts == dict(Counter(c.category for c in checked.corrections))


VOCABULARY = [
    "alot",
    "becouse",
    "definately",
    "informations",
    "teached",
    "thats",
    "more",
    "better",
    "I",
    "am",
    "agree",
    "i",
    "studens",
    "recieve",
    "colour",
    "color",
    "Malmö",
    "Umeå",
    "NATO",
    "TikTok",
    "teacher's",
    "don\u2019t",
    "the",
    "school",
    "Phones",
    "wich",
    "okey",
    "discuss",
    "about",
    "x2",
    "e-mail",
    "www.example.com",
    "Lisa",
    "ärligt",
    "naïve",
    "Ωmega",
]
SEPARATORS = [" ", "  ", ", ", ". ", "! ", "\n", "\n\n", " - ", "'", "\u2019", "(", ") ", ": "]

texts = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(VOCABULARY), st.text(min_size=1, max_size=8)),
        st.sampled_from(SEPARATORS),
    ),
    max_size=40,
).map(lambda parts: "".join(word + separator for word, separator in parts))


@settings(max_examples=300, deadline=None)
@given(text=texts)
def test_corrections_fit_the_original_and_rebuild_the_corrected_text(
    checker: Spellchecker, text: str
) -> None:
    checked = checker.check(text)
    assert_consistent(text, checked)
    assert checker.check(text) == checked  # deterministic


@pytest.mark.parametrize("path", SAMPLE_ESSAYS, ids=lambda p: p.name)
def test_sample_essays_are_corrected_consistently(checker: Spellchecker, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    checked = checker.check(text)
    assert_consistent(text, checked)
    for name in SWEDISH:
        assert all(c.original != name for c in checked.corrections)


def test_sample_essays_with_learner_errors_get_them_corrected(checker: Spellchecker) -> None:
    corrected = {p.name: checker.check(p.read_text(encoding="utf-8")) for p in SAMPLE_ESSAYS}
    learner = [
        c
        for checked in corrected.values()
        for c in checked.corrections
        if c.category is CorrectionCategory.LEARNER_ERROR
    ]
    assert {("becouse", "because"), ("more better", "better")} <= {
        (c.original, c.corrected) for c in learner
    }


@pytest.mark.parametrize(("british", "american"), sorted(BRITISH_AMERICAN.items()))
def test_british_and_american_spellings_are_both_accepted(
    checker: Spellchecker, british: str, american: str
) -> None:
    text = f"We think the {british} is like the {american}."
    assert checker.check(text).corrections == ()


def test_swedish_names_and_places_are_never_corrected(checker: Spellchecker) -> None:
    text = (
        "Lisa and Oskar moved from Malmö to Umeå. Elin lives in Göteborg, not Västerås. "
        "Linköping, Uppsala, Örebro, Jönköping and Borlänge are towns. malmö is nice."
    )
    assert checker.check(text).corrections == ()


def test_an_allowlist_from_settings_extends_the_built_in_one() -> None:
    text = "My kompis was late again."
    assert [c.original for c in english_spellchecker().check(text).corrections] == ["kompis"]
    assert english_spellchecker(("Kompis",)).check(text).corrections == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It helps alot.", "It helps a lot."),
        ("I stayed becouse it rained.", "I stayed because it rained."),
        ("It is definately true.", "It is definitely true."),
        ("We need more informations.", "We need more information."),
        ("She teached us English.", "She taught us English."),
        ("I know thats hard.", "I know that's hard."),
        ("Phones are more better now.", "Phones are better now."),
        ("I am agree with you.", "I agree with you."),
        ("Alot of people say so.", "A lot of people say so."),
        ("Thats why.", "That's why."),
    ],
)
def test_learner_errors_are_corrected(checker: Spellchecker, text: str, expected: str) -> None:
    checked = checker.check(text)
    assert checked.corrected == expected
    assert {c.category for c in checked.corrections} == {CorrectionCategory.LEARNER_ERROR}


def test_a_phrase_split_by_punctuation_is_not_a_learner_error(checker: Spellchecker) -> None:
    assert checker.check("We want more, better phones.").corrections == ()


def test_misspellings_are_corrected_and_keep_their_capital(checker: Spellchecker) -> None:
    checked = checker.check("Many studens use phones. Studens like them.")
    assert checked.corrected == "Many students use phones. Students like them."
    assert checked.error_counts == {CorrectionCategory.SPELLING: 2}


def test_proper_nouns_and_acronyms_are_left_alone(checker: Spellchecker) -> None:
    text = "We met Zlatanovic at the UNHCR office, and Zlatanovic used his iPhone on TikTok."
    assert checker.check(text).corrections == ()


def test_lower_case_pronoun_i_is_a_capitalisation_error(checker: Spellchecker) -> None:
    checked = checker.check("Yesterday i said i\u2019m tired.")
    assert checked.corrected == "Yesterday I said I\u2019m tired."
    assert checked.error_counts == {CorrectionCategory.CAPITALIZATION: 2}


def test_offsets_count_code_points(checker: Spellchecker) -> None:
    text = "Malmö 😀 and Umeå: alot."
    [correction] = checker.check(text).corrections
    assert (correction.start, correction.end) == (text.index("alot"), text.index("alot") + 4)


def test_tokens_carry_offsets_and_sentence_starts() -> None:
    tokens = tokenize("Hi there. Don't go!\nNow")
    assert [(t.text, t.start, t.end, t.sentence_start) for t in tokens] == [
        ("Hi", 0, 2, True),
        ("there", 3, 8, False),
        ("Don't", 10, 15, True),
        ("go", 16, 18, False),
        ("Now", 20, 23, True),
    ]


def test_overlapping_corrections_are_refused(checker: Spellchecker) -> None:
    [first] = checker.check("alot").corrections
    with pytest.raises(ValueError, match="does not fit"):
        apply_corrections("alot", [first, first])


def test_every_learner_word_replacement_is_itself_accepted(checker: Spellchecker) -> None:
    for replacement in LEARNER_WORDS.values():
        for word in replacement.split():
            assert checker.is_known(word), word
