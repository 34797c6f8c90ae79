"""What of the Dockerfile can be checked without a Docker engine: its pin step, its user, and
that the copies it makes exist and are not excluded from the build context."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.ops.conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_pin_step_turns_the_lock_into_constraints_without_workspace_packages(
    tmp_path: Path,
) -> None:
    [script] = re.findall(r"RUN python - <<'EOF'\n(.*?)\nEOF\n", DOCKERFILE, re.S)
    shutil.copy(ROOT / "pdm.lock", tmp_path / "pdm.lock")

    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True, timeout=60)

    pins = (tmp_path / "constraints.txt").read_text().split()
    lock = tomllib.loads((ROOT / "pdm.lock").read_text())["package"]
    workspace = {p["name"] for p in lock if "path" in p}
    assert workspace
    assert not any(pin.split("==")[0] in workspace for pin in pins)
    assert {f"{p['name']}=={p['version']}" for p in lock if "path" not in p} == set(pins)


def test_runtime_runs_as_a_non_root_user_chosen_service() -> None:
    runtime = DOCKERFILE.split("AS runtime", 1)[1]
    [user] = re.findall(r"^USER (\S+)", runtime, re.M)

    assert user.split(":")[0] not in {"root", "0"}
    assert "ARG SERVICE" in runtime
    assert 'python -m \\"${SERVICE_PACKAGE}\\"' in runtime


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = [
        source
        for line in re.findall(r"^COPY (?!--from)(.+)$", DOCKERFILE, re.M)
        for source in line.split()[:-1]
    ]
    needed = [s.replace("${SERVICE}", "essay_lifecycle") for s in sources]
    needed += ["services/essay_lifecycle/src/essay_lifecycle/__main__.py"]

    for path in needed:
        assert (ROOT / path).exists(), path
        assert not [p for p in ignored if _excludes(p, path)], f"{path} is excluded"


def _excludes(pattern: str, path: str) -> bool:
    """Whether a .dockerignore pattern excludes `path` or one of its parent directories."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    glob = pattern.removeprefix("**/")
    return any(
        fnmatch.fnmatch(prefix, pattern)
        or (pattern.startswith("**/") and fnmatch.fnmatch(prefix.rsplit("/", 1)[-1], glob))
        for prefix in prefixes
    )
