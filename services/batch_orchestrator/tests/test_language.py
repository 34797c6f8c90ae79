"""The essays' language follows the course code."""

from __future__ import annotations

import pytest
from batch_orchestrator.domain.language import language_for_course


@pytest.mark.parametrize(
    ("course_code", "language"),
    [
        ("SV1", "sv"),
        ("SVA2", "sv"),
        ("sv3", "sv"),
        (" SV1", "sv"),
        ("ENG5", "en"),
        ("ENG6", "en"),
        ("S", "en"),
        ("XSV", "en"),
    ],
)
def test_swedish_courses_are_swedish_and_every_other_course_is_english(
    course_code: str, language: str
) -> None:
    assert language_for_course(course_code) == language
