"""The consumer test harness (`consumer/harness.py`) as a fixture for every suite here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_NAME = "huleedu_consumer_test_harness"


def _load_harness() -> ModuleType:
    # Loaded by path once (tests are not a package), so every suite shares one module.
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    path = Path(__file__).resolve().parent / "consumer" / "harness.py"
    spec = importlib.util.spec_from_file_location(_NAME, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
    return module


harness_factory = _load_harness().harness_factory
