"""Invariant 5: the migrations build exactly the models (enum values included)."""

from __future__ import annotations

import pytest
from result_aggregator.models import metadata
from result_aggregator.service import DEFINITION

from huleedu_service_libs.testing.schema_drift import check_migrations_match_models

pytestmark = pytest.mark.integration


async def test_migrations_match_models(database_url: str) -> None:
    await check_migrations_match_models(database_url, DEFINITION.migrations_path, metadata)
