"""What every call to another service carries: the request's correlation id and trace."""

from __future__ import annotations

from contextlib import suppress

from huleedu_service_libs.http import CORRELATION_ID_HEADER
from huleedu_service_libs.logging import current_correlation_id, traceparent_for_current_context


def context_headers() -> dict[str, str]:
    """Headers that keep one upload traceable across file_service, content_service and BOS."""
    headers = {"traceparent": traceparent_for_current_context()}
    # Outside a request (scripts, tests) there is none: the callee mints its own.
    with suppress(LookupError):
        headers[CORRELATION_ID_HEADER] = str(current_correlation_id())
    return headers
