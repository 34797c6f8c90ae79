"""The public /v1 API (every route authenticated, rate limited per teacher and documented except
the development sign-in), and the teacher's page."""

from __future__ import annotations

from quart import Blueprint

from api_gateway.api.anchors import anchors_blueprint
from api_gateway.api.batches import batches_blueprint
from api_gateway.api.dev import dev_blueprint
from api_gateway.api.events import events_blueprint
from api_gateway.api.files import files_blueprint
from api_gateway.api.page import page_blueprint


def public_blueprints() -> list[Blueprint]:
    return [
        batches_blueprint(),
        files_blueprint(),
        anchors_blueprint(),
        events_blueprint(),
        dev_blueprint(),
        page_blueprint(),
    ]


__all__ = ["public_blueprints"]
