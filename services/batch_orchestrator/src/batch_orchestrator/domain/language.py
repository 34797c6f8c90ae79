"""The language of a batch's essays, derived from its course code.

Swedish courses are coded `SV…` (e.g. `SV1`, `SVA2`); every other course is taught in English.
The language decides the spellchecker's dictionary later on, so it is fixed at registration.
"""

from __future__ import annotations

SWEDISH_COURSE_PREFIX = "SV"


def language_for_course(course_code: str) -> str:
    """ISO 639-1 code of the essays' language: `sv` for `SV*` courses, else `en`."""
    if course_code.strip().upper().startswith(SWEDISH_COURSE_PREFIX):
        return "sv"
    return "en"
