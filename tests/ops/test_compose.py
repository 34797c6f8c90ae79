"""The compose files: valid for a real validator, complete, and consistent with the services.

`docker compose` (the plugin) is not on every CI machine; Debian's `docker-compose` (1.29, the
Python implementation of the same file format) validates and resolves the files without an
engine, and the checks below read its resolved output.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from huleedu_service_libs.local_infra.probes import asyncpg_dsn
from huleedu_service_libs.testing.databases import database_url
from tests.ops.conftest import ROOT

INFRA = "docker-compose.infrastructure.yml"
SERVICES = "docker-compose.services.yml"
# Services being built next to the platform manifest; the compose file covers them already.
EXTRA_SERVICES = {
    "llm_provider": {"http": True, "worker": True},
    "cj_assessment": {"http": True, "worker": True},
    "result_aggregator": {"http": True, "worker": True},
}
# Set in the image (Dockerfile) or by the runtime, not settings of one service.
IMAGE_ENV = {"HTTP_HOST", "HTTP_PORT", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|API_KEY|TOKEN")


def compose_name(service: str, process: str) -> str:
    return f"{service.replace('_', '-')}-{process}"


def platform_services() -> dict[str, dict[str, Any]]:
    manifest = tomllib.loads((ROOT / "services" / "platform.toml").read_text())
    services = {entry["name"]: entry for entry in manifest["service"]}
    for name, processes in EXTRA_SERVICES.items():
        services.setdefault(name, {"name": name, "package": name, **processes})
    return services


def env_file(tmp_path: Path, **values: str) -> Path:
    """.env.example with the given values filled in, as an operator's .env."""
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values[name]}" if name in values else line)
    path = tmp_path / "env"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_compose(
    binary: str, env: Path, *files: str | Path, args: tuple[str, ...] = ("config",)
) -> subprocess.CompletedProcess[str]:
    command = [binary, "--project-directory", str(ROOT), "--env-file", str(env)]
    for file in files:
        command += ["-f", str(ROOT / file)]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=120, check=False
    )


FILLED = {"POSTGRES_PASSWORD": "pw", "GRAFANA_ADMIN_PASSWORD": "pw", "JWT_SECRET": "s" * 32}


@pytest.fixture(scope="module")
def compose(system_tool: Callable[[str], str]) -> str:
    return system_tool("docker-compose")


@pytest.fixture(scope="module")
def resolved(compose: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both files merged and interpolated as `docker compose ... config` resolves them."""
    env = env_file(tmp_path_factory.mktemp("env"), **FILLED)
    result = run_compose(compose, env, INFRA, SERVICES)
    assert result.returncode == 0, result.stderr
    services: dict[str, Any] = yaml.safe_load(result.stdout)["services"]
    return services


def test_infrastructure_file_is_valid_on_its_own(compose: str, tmp_path: Path) -> None:
    result = run_compose(compose, env_file(tmp_path, **FILLED), INFRA, args=("config", "-q"))

    assert result.returncode == 0, result.stderr


def test_validator_rejects_a_dependency_on_a_missing_service(compose: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        yaml.safe_dump(
            {"services": {"a": {"image": "x", "depends_on": {"nope": {"condition": "x"}}}}}
        )
    )

    result = run_compose(compose, env_file(tmp_path, **FILLED), broken, args=("config", "-q"))

    assert result.returncode != 0


def test_compose_refuses_to_start_without_the_required_secrets(
    compose: str, tmp_path: Path
) -> None:
    result = run_compose(compose, env_file(tmp_path), INFRA, SERVICES, args=("config", "-q"))

    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_env_example_declares_every_variable_and_commits_no_secret() -> None:
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    used = {
        match
        for file in (INFRA, SERVICES)
        for match in re.findall(r"\$\{(\w+)", (ROOT / file).read_text())
    }

    assert used - example.keys() == set()
    assert {
        name: value for name, value in example.items() if SECRET_NAME.search(name) and value
    } == {}


@pytest.mark.parametrize("service", sorted(platform_services()))
def test_every_service_has_its_processes_and_a_migration_first(
    resolved: dict[str, Any], service: str
) -> None:
    spec = platform_services()[service]
    package = spec.get("package", service)
    definition = _definition(package)
    has_database = definition is None or definition.metadata is not None
    processes = [p for p in ("http", "worker") if spec.get(p)]
    migrate = compose_name(service, "migrate")

    for process in processes:
        container = resolved[compose_name(service, process)]
        assert container["build"]["args"]["SERVICE"] == package
        assert container["command"] == [process]
        assert container["restart"] == "unless-stopped"
        assert "healthcheck" in container
        depends = container["depends_on"]
        assert depends["kafka-topics"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"
        if service != "api_gateway":
            assert depends[migrate]["condition"] == "service_completed_successfully"
        for callee in spec.get("calls", []):
            assert depends[compose_name(callee, "http")]["condition"] == "service_healthy"
            assert (
                container["environment"][f"{callee.upper()}_URL"]
                == f"http://{compose_name(callee, 'http')}:8000"
            )
    if service != "api_gateway" and has_database:
        assert resolved[migrate]["command"] == ["migrate"]
        assert resolved[migrate]["restart"] == "no"
        assert resolved[migrate]["build"]["args"]["SERVICE"] == package
    if spec.get("http"):
        probe = " ".join(resolved[compose_name(service, "http")]["healthcheck"]["test"])
        assert "/healthz/ready" in probe


def test_no_compose_service_is_unknown_to_the_platform(resolved: dict[str, Any]) -> None:
    infrastructure = set(yaml.safe_load((ROOT / INFRA).read_text())["services"])
    expected = {
        compose_name(name, process)
        for name, spec in platform_services().items()
        for process in ("http", "worker")
        if spec.get(process)
    } | {compose_name(name, "migrate") for name in platform_services() if name != "api_gateway"}

    assert set(resolved) - infrastructure == expected


@pytest.mark.parametrize("service", sorted(platform_services()))
def test_environment_names_are_settings_fields_and_every_url_is_set(
    resolved: dict[str, Any], service: str
) -> None:
    package = platform_services()[service].get("package", service)
    definition = _definition(package)
    if definition is None:
        pytest.skip(f"{package}.service is not importable yet")
    model_fields = definition.settings_class.model_fields
    fields = set(model_fields)
    # Every URL that defaults to this machine must be pointed at its container.
    urls = {
        name
        for name, field in model_fields.items()
        if name.endswith("_url") and "127.0.0.1" in str(field.default)
    }
    if definition.metadata is None:
        urls.discard("database_url")

    for name, container in resolved.items():
        if not name.startswith(service.replace("_", "-") + "-"):
            continue
        given = {key.lower() for key in container["environment"]} - {v.lower() for v in IMAGE_ENV}
        assert given - fields == set(), f"{name} sets variables {package} does not read"
        assert urls - given == set(), f"{name} leaves URLs at their localhost defaults"


def test_database_script_creates_the_database_of_every_service(resolved: dict[str, Any]) -> None:
    script = (ROOT / "docker" / "postgres" / "create-service-databases.sql").read_text()
    created = set(re.findall(r"'(huleedu_\w+)'", script))
    wanted = {
        container["environment"]["DATABASE_URL"].rsplit("/", 1)[1]
        for container in resolved.values()
        if "DATABASE_URL" in container.get("environment", {})
    }

    assert wanted == created


@pytest.mark.integration
def test_database_script_runs_and_is_safe_to_run_again(
    infra: Any, run_id: str, system_tool: Callable[[str], str]
) -> None:
    """The script against the run's Postgres, with its names under this run's prefix."""
    psql = system_tool("psql")
    prefix = f"t{run_id}_ops_"
    script = (ROOT / "docker" / "postgres" / "create-service-databases.sql").read_text()
    script = script.replace("'huleedu_", f"'{prefix}")
    expected = re.findall(rf"'({prefix}\w+)'", script)
    dsn = asyncpg_dsn(database_url(infra.postgres_url, "postgres"))

    def run(*args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [psql, dsn, "-v", "ON_ERROR_STOP=1", "-qAt", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    try:
        run(stdin=script)
        run(stdin=script)
        listed = run("-c", f"SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%'")
        assert sorted(listed.split()) == sorted(expected)
    finally:
        for name in expected:
            run("-c", f'DROP DATABASE IF EXISTS "{name}"')


@pytest.mark.parametrize(
    "package", sorted({s.get("package", n) for n, s in platform_services().items()})
)
def test_build_argument_names_a_runnable_package(package: str) -> None:
    """What the Dockerfile's builder checks before installing `SERVICE`."""
    source = ROOT / "services" / package
    assert (source / "pyproject.toml").is_file()
    assert (source / "src" / package / "__init__.py").is_file()
    if not (source / "src" / package / "service.py").exists():
        pytest.skip(f"{package} has no ServiceDefinition yet")
    assert (source / "src" / package / "__main__.py").is_file()
    definition = importlib.import_module(f"{package}.service").DEFINITION
    assert definition.name == package


def _definition(package: str) -> Any:
    """The service's ServiceDefinition, or None while the service is not built yet."""
    try:
        module = importlib.import_module(f"{package}.service")
    except ModuleNotFoundError:
        return None
    return module.DEFINITION
