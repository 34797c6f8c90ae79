"""Starts the services as real processes on the local infrastructure.

`services/platform.toml` lists the services in start order: which processes each runs
(`http`, `worker`, `worker_replicas`) and which other services it calls over HTTP. For every
service this creates its own database, runs its migrations, then starts each process with
`python -m <package> <process>` and an environment that points it at the infrastructure,
its database and the services it calls. `make run`, the functional tests and the benchmarks
all start the platform this way.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from common_core.events import REGISTRY
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics
from huleedu_service_libs.local_infra.launcher import Endpoints, InfraError
from huleedu_service_libs.local_infra.probes import asyncpg_dsn, free_port
from huleedu_service_libs.testing.databases import create_database, database_url

READY_TIMEOUT_S = float(os.environ.get("HULEEDU_READY_TIMEOUT_S", "180"))
"""How long every service has to answer its readiness probe. Generous: on a loaded 2-core
machine (a test run beside benchmarks) nine services and their workers take a while; a
crashed process is reported at once regardless (its exit is checked while waiting)."""
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ServiceSpec:
    """One entry of `services/platform.toml`."""

    name: str
    package: str
    http: bool = True
    worker: bool = False
    worker_replicas: int = 1
    calls: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url_variable(self) -> str:
        return f"{self.name.upper()}_URL"


def load_manifest(path: Path) -> list[ServiceSpec]:
    data = tomllib.loads(path.read_text())
    specs = []
    for entry in data.get("service", []):
        entry = dict(entry)
        entry["calls"] = tuple(entry.get("calls", ()))
        specs.append(ServiceSpec(**entry))
    return specs


def _terminate_with_parent() -> None:
    """Linux: a service gets SIGTERM when the launcher dies, so none outlives it."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class _Process:
    service: str
    role: str
    popen: subprocess.Popen[bytes]


class Platform:
    """The running services of one platform instance (one per `make run` or test run)."""

    def __init__(
        self,
        infra: Endpoints,
        *,
        manifest: Path,
        state_dir: Path,
        database_prefix: str = "huleedu",
        topic_prefix: str = "",
        redis_prefix: str = "huleedu",
        extra_env: dict[str, str] | None = None,
        only: set[str] | None = None,
    ) -> None:
        self.infra = infra
        self.specs = [s for s in load_manifest(manifest) if only is None or s.name in only]
        self.state_dir = state_dir
        self.database_prefix = database_prefix
        self.topic_prefix = topic_prefix
        self.redis_prefix = redis_prefix
        self.extra_env = extra_env or {}
        self.urls: dict[str, str] = {}
        self.database_names: dict[str, str] = {}
        self.database_urls: dict[str, str] = {}
        self._processes: list[_Process] = []

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Databases, migrations, topics, then every process; returns when HTTP is ready."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.specs:
            if spec.http:
                self.urls[spec.name] = f"http://127.0.0.1:{free_port()}"
        topics = TopicNamer(self.topic_prefix)
        await ensure_topics(
            self.infra.kafka_bootstrap_servers,
            [topics.topic(s.topic) for s in REGISTRY]
            + [topics.dead_letter(s.topic) for s in REGISTRY],
        )
        try:
            for spec in self.specs:
                name = f"{self.database_prefix}_{spec.name}"[:63]
                self.database_names[spec.name] = name
                self.database_urls[spec.name] = database_url(self.infra.postgres_url, name)
                if not await self._database_exists(name):
                    await create_database(self.infra.postgres_url, name)
                await asyncio.to_thread(self._run_to_completion, spec, "migrate")
            for spec in self.specs:
                if spec.http:
                    self._spawn(spec, "http")
                if spec.worker:
                    for replica in range(spec.worker_replicas):
                        self._spawn(spec, "worker", replica)
            await self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM every process (graceful shutdown), SIGKILL what has not exited in time."""
        for process in self._processes:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self._processes:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                process.popen.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()
        self._processes.clear()

    def processes(self, service: str, role: str) -> list[subprocess.Popen[bytes]]:
        return [p.popen for p in self._processes if p.service == service and p.role == role]

    def kill(self, service: str, role: str, signum: int = signal.SIGKILL) -> None:
        """Send `signum` to a service's processes and reap them (failure drills in tests)."""
        for process in [p for p in self._processes if (p.service, p.role) == (service, role)]:
            process.popen.send_signal(signum)
            process.popen.wait(timeout=30)
            self._processes.remove(process)

    def respawn(self, service: str, role: str) -> None:
        """Start a service's process again, as an orchestrator would after a crash."""
        [spec] = [s for s in self.specs if s.name == service]
        self._spawn(spec, role)

    def log_path(self, service: str, role: str, replica: int = 0) -> Path:
        suffix = f"-{replica}" if replica else ""
        return self.state_dir / f"{service}.{role}{suffix}.log"

    # --- internals ----------------------------------------------------------------------

    def _environment(self, spec: ServiceSpec) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "SERVICE_NAME": spec.name,
                "DATABASE_URL": self.database_urls[spec.name],
                "REDIS_URL": self.infra.redis_url,
                "REDIS_KEY_PREFIX": f"{self.redis_prefix}:{spec.name}",
                "KAFKA_BOOTSTRAP_SERVERS": self.infra.kafka_bootstrap_servers,
                "KAFKA_TOPIC_PREFIX": self.topic_prefix,
                "PYTHONUNBUFFERED": "1",
            }
        )
        if spec.name in self.urls:
            env["HTTP_PORT"] = self.urls[spec.name].rsplit(":", 1)[1]
        for callee in spec.calls:
            env[f"{callee.upper()}_URL"] = self.urls[callee]
        env.update(spec.env)
        env.update(self.extra_env)
        return env

    def _argv(self, spec: ServiceSpec, role: str) -> list[str]:
        return [sys.executable, "-m", spec.package, role]

    def _run_to_completion(self, spec: ServiceSpec, role: str) -> None:
        with self.log_path(spec.name, role).open("ab") as log:
            result = subprocess.run(
                self._argv(spec, role),
                env=self._environment(spec),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                check=False,
                timeout=120,
            )
        if result.returncode != 0:
            raise InfraError(
                f"{spec.name} {role} failed (exit {result.returncode}); "
                f"see {self.log_path(spec.name, role)}"
            )

    def _spawn(self, spec: ServiceSpec, role: str, replica: int = 0) -> None:
        log = self.log_path(spec.name, role, replica).open("ab")
        popen = subprocess.Popen(
            self._argv(spec, role),
            env=self._environment(spec),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_terminate_with_parent,
        )
        self._processes.append(_Process(spec.name, role, popen))

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        pending = dict(self.urls)
        async with httpx.AsyncClient(timeout=2) as client:
            while pending:
                self._fail_on_exited_process()
                for name, url in list(pending.items()):
                    try:
                        response = await client.get(f"{url}/healthz/ready")
                    except httpx.HTTPError:
                        continue
                    if response.status_code == 200:
                        del pending[name]
                if time.monotonic() > deadline:
                    raise InfraError(f"not ready within {READY_TIMEOUT_S:.0f}s: {sorted(pending)}")
                await asyncio.sleep(0.2)

    def _fail_on_exited_process(self) -> None:
        for process in self._processes:
            code = process.popen.poll()
            if code is not None:
                raise InfraError(
                    f"{process.service} {process.role} exited with {code}; "
                    f"see {self.log_path(process.service, process.role)}"
                )

    async def _database_exists(self, name: str) -> bool:
        conn = await asyncpg.connect(asyncpg_dsn(database_url(self.infra.postgres_url, "postgres")))
        try:
            return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
        finally:
            await conn.close()
