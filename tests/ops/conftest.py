"""Shared pieces of the operations checks: the repository root, the scripts under tools/, and
the system tools (docker-compose, promtool) that the checks install when they are missing."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

# Debian packages of the command-line tools the checks run. Docker's own `docker compose`
# plugin is not on every machine; the Python `docker-compose` (1.29) validates the same format.
SYSTEM_TOOLS = {
    "docker-compose": "docker-compose",
    "promtool": "prometheus",
    "psql": "postgresql-client",
}


def load_tool(name: str) -> ModuleType:
    """Import `tools/<name>.py` (a script directory, not a package)."""
    module_name = f"huleedu_tools_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "tools" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def read_yaml(relative: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / relative).read_text())
    assert isinstance(data, dict), f"{relative} is not a YAML mapping"
    return data


def _install(package: str) -> None:
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.fail(
            f"the Debian package {package!r} is required and cannot be installed here "
            "(needs apt-get as root): install it and run again"
        )
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        result = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=600, check=False
        )
        if result.returncode != 0:
            pytest.fail(f"installing {package!r} failed: {' '.join(command)}\n{result.stderr}")


@pytest.fixture(scope="session")
def system_tool() -> Callable[[str], str]:
    """The path of a validator binary, installed from Debian's package when it is missing."""

    def find(binary: str) -> str:
        path = shutil.which(binary)
        if path is None:
            _install(SYSTEM_TOOLS[binary])
            path = shutil.which(binary)
        if path is None:
            pytest.fail(f"{binary} is still missing after installing {SYSTEM_TOOLS[binary]}")
        return path

    return find
