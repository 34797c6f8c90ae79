"""The teacher's page at `/`: one HTML document, one JS module and one stylesheet, no build.

The assets live in the package's `static/` folder, which Quart serves at `/static/...` for the
app (the app is named after this package). The document is sent with a Content-Security-Policy
that allows only this origin's script, style and API: no inline code, no third parties.
"""

from __future__ import annotations

from pathlib import Path

from quart import Blueprint, Response, send_file
from quart_schema import hide

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)

PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def page_blueprint() -> Blueprint:
    blueprint = Blueprint("page", __name__)

    @blueprint.get("/")
    @hide
    async def teacher_page() -> Response:
        response = await send_file(STATIC_DIR / "index.html", mimetype="text/html")
        response.headers.update(PAGE_HEADERS)
        return response

    return blueprint
