"""The prompt and the structured verdict shared by the Anthropic and OpenAI providers.

The instruction block (judge role, assignment, criteria, answer rules) is identical for every
pair of a batch, so it goes first and is what prompt caching reuses; the two essays follow in
the user turn. The verdict has exactly three fields: winner "Essay A" | "Essay B",
justification (at most 50 words; longer ones are trimmed), confidence 1-5.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from common_core.events.llm import ComparisonPrompt, ComparisonWinner
from llm_provider.domain.offline_judge import MAX_JUSTIFICATION_WORDS, trim_words

TOOL_NAME = "record_judgement"
WINNER_LABELS = {ComparisonWinner.ESSAY_A: "Essay A", ComparisonWinner.ESSAY_B: "Essay B"}
_WINNER_BY_LABEL = {
    "essay a": ComparisonWinner.ESSAY_A,
    "essay b": ComparisonWinner.ESSAY_B,
    "essay_a": ComparisonWinner.ESSAY_A,
    "essay_b": ComparisonWinner.ESSAY_B,
}

_ROLE = (
    "You are an experienced examiner using comparative judgement. You are shown two student "
    "essays written for the same assignment and decide which one is better overall according "
    "to the criteria. Judge quality, not length alone, and ignore the order in which the essays "
    "are shown."
)
_ANSWER_RULES = (
    'Record your verdict with exactly three fields: winner ("Essay A" or "Essay B"), '
    f"justification (at most {MAX_JUSTIFICATION_WORDS} words, naming the decisive differences) "
    "and confidence (an integer from 1, a near coin toss, to 5, certain)."
)

JUDGEMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "winner": {
            "type": "string",
            "enum": ["Essay A", "Essay B"],
            "description": "The better essay.",
        },
        "justification": {
            "type": "string",
            "description": f"Why, in at most {MAX_JUSTIFICATION_WORDS} words.",
        },
        "confidence": {
            "type": "integer",
            "enum": [1, 2, 3, 4, 5],
            "description": "1 = near coin toss, 5 = certain.",
        },
    },
    "required": ["winner", "justification", "confidence"],
    "additionalProperties": False,
}


def instruction_block(prompt: ComparisonPrompt) -> str:
    """The stable, cacheable part of the prompt."""
    return (
        f"{_ROLE}\n\n## Assignment\n{prompt.assignment.strip()}\n\n"
        f"## Criteria\n{prompt.criteria.strip()}\n\n"
        f"## Instructions\n{prompt.instructions.strip()}\n\n{_ANSWER_RULES}"
    )


def essays_message(essay_a: str, essay_b: str) -> str:
    return (
        f"Essay A:\n<essay_a>\n{essay_a.strip()}\n</essay_a>\n\n"
        f"Essay B:\n<essay_b>\n{essay_b.strip()}\n</essay_b>\n\n"
        "Which essay is better according to the criteria?"
    )


@dataclass(frozen=True)
class Judgement:
    winner: ComparisonWinner
    justification: str
    confidence: int


class InvalidJudgementError(ValueError):
    """The model's answer does not have the verdict's structure."""


def parse_judgement(data: object) -> Judgement:
    """Validate a verdict object; trims the justification and clamps confidence to 1..5."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InvalidJudgementError(f"verdict is not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise InvalidJudgementError("verdict is not an object")
    label = data.get("winner")
    winner = _WINNER_BY_LABEL.get(label.strip().lower()) if isinstance(label, str) else None
    if winner is None:
        raise InvalidJudgementError(f"winner must be 'Essay A' or 'Essay B', got {label!r}")
    justification = data.get("justification")
    if not isinstance(justification, str) or not justification.strip():
        raise InvalidJudgementError("justification missing or empty")
    confidence = data.get("confidence")
    if isinstance(confidence, float) and confidence.is_integer():
        confidence = int(confidence)
    if not isinstance(confidence, int) or isinstance(confidence, bool):
        raise InvalidJudgementError(f"confidence must be an integer, got {confidence!r}")
    return Judgement(
        winner=winner,
        justification=trim_words(justification),
        confidence=max(1, min(5, confidence)),
    )
