"""The grade scales teachers register anchors on, by their API names."""

from __future__ import annotations

from enum import StrEnum

from cj_assessment.domain.grade_projection import ENG5_NP_9_STEP, SWEDISH_F_TO_A, GradeScale


class GradeScaleName(StrEnum):
    SWEDISH_F_A = "swedish_f_a"
    ENG5_NP = "eng5_np"


_SCALES: dict[GradeScaleName, GradeScale] = {
    GradeScaleName.SWEDISH_F_A: SWEDISH_F_TO_A,
    GradeScaleName.ENG5_NP: ENG5_NP_9_STEP,
}


def grade_scale(name: GradeScaleName) -> GradeScale:
    return _SCALES[name]


def is_grade_on(name: GradeScaleName, grade: str) -> bool:
    return grade in _SCALES[name].labels
