"""Token counts estimated from text, before a call (rate-limit reservations) or instead of one
(the offline judge). English prose runs at roughly four characters per token; we round up."""

from __future__ import annotations

import math

CHARS_PER_TOKEN = 3.5  # a little below the usual 4 so reservations err on the high side


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0
