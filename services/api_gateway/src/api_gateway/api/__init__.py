"""The public /v1 API; every route is authenticated, rate limited per teacher and documented."""

from __future__ import annotations

from quart import Blueprint

from api_gateway.api.batches import batches_blueprint
from api_gateway.api.files import files_blueprint


def public_blueprints() -> list[Blueprint]:
    return [batches_blueprint(), files_blueprint()]


__all__ = ["public_blueprints"]
