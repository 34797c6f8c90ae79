"""Alembic environment of the sample service: the shared runner and the service's models."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from huleedu_service_libs.migrations import run_migrations_online


def _load_models() -> ModuleType:
    # A real service imports its installed package; the sample is loaded from its file.
    path = Path(__file__).resolve().parents[1] / "models.py"
    spec = importlib.util.spec_from_file_location("huleedu_sample_service_models", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_migrations_online(_load_models().metadata)
