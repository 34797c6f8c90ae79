from __future__ import annotations

import pytest
from llm_provider.providers.judgement_format import (
    InvalidJudgementError,
    essays_message,
    instruction_block,
    parse_judgement,
)

from common_core.events.llm import ComparisonPrompt, ComparisonWinner


def test_a_valid_verdict_is_parsed_from_an_object_or_json() -> None:
    verdict = {"winner": "Essay B", "justification": "Clearer.", "confidence": 3}
    assert parse_judgement(verdict) == parse_judgement(
        '{"winner": "Essay B", "justification": "Clearer.", "confidence": 3}'
    )
    parsed = parse_judgement(verdict)
    assert parsed.winner is ComparisonWinner.ESSAY_B
    assert parsed.confidence == 3


def test_long_justifications_are_trimmed_to_fifty_words() -> None:
    parsed = parse_judgement(
        {"winner": "Essay A", "justification": "because " * 90, "confidence": 4}
    )
    assert len(parsed.justification.split()) == 50


def test_confidence_is_clamped_to_one_to_five() -> None:
    assert (
        parse_judgement({"winner": "Essay A", "justification": "x", "confidence": 9}).confidence
        == 5
    )
    assert (
        parse_judgement({"winner": "Essay A", "justification": "x", "confidence": 0}).confidence
        == 1
    )
    assert (
        parse_judgement({"winner": "Essay A", "justification": "x", "confidence": 2.0}).confidence
        == 2
    )


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[1, 2]",
        {"winner": "Essay C", "justification": "x", "confidence": 3},
        {"winner": "Essay A", "justification": "  ", "confidence": 3},
        {"winner": "Essay A", "confidence": 3},
        {"winner": "Essay A", "justification": "x", "confidence": "high"},
        {"winner": "Essay A", "justification": "x", "confidence": True},
    ],
)
def test_malformed_verdicts_are_rejected(data: object) -> None:
    with pytest.raises(InvalidJudgementError):
        parse_judgement(data)


def test_the_instruction_block_holds_the_stable_parts_and_not_the_essays() -> None:
    prompt = ComparisonPrompt(
        assignment="Argue a case.", criteria="Evidence.", instructions="Be fair."
    )
    block = instruction_block(prompt)
    for part in ("Argue a case.", "Evidence.", "Be fair.", "Essay A", "50 words"):
        assert part in block
    message = essays_message("first text", "second text")
    assert "first text" in message
    assert "second text" in message
    assert "first text" not in block
