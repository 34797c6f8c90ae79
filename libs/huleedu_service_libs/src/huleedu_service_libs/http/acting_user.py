"""The teacher an internal request acts for.

Only the gateway authenticates teachers; when it calls a service on one's behalf it names the
teacher in `X-User-ID`. Services read it here, so the header and its limits are one thing.
"""

from __future__ import annotations

from quart import request

USER_ID_HEADER = "X-User-ID"
MAX_USER_ID_LENGTH = 255


def acting_user_id() -> str | None:
    """The header's user id, stripped; None when it is missing, blank or too long."""
    user_id = request.headers.get(USER_ID_HEADER, "").strip()
    if not user_id or len(user_id) > MAX_USER_ID_LENGTH:
        return None
    return user_id
