"""A worker's own /metrics and /healthz/live (`METRICS_PORT`), served until the worker stops."""

from __future__ import annotations

import asyncio
import socket

import httpx

from huleedu_service_libs.outbox.metrics import outbox_metrics
from huleedu_service_libs.runtime import serve_worker_metrics
from huleedu_service_libs.settings import ServiceSettings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_metrics_port_is_off_unless_set(monkeypatch) -> None:
    assert ServiceSettings().metrics_port is None
    monkeypatch.setenv("METRICS_PORT", "9100")
    assert ServiceSettings().metrics_port == 9100


async def test_the_worker_serves_its_registry_and_liveness_until_stopped() -> None:
    outbox_metrics().for_service("worker_metrics_check").leader.set(1)
    port = _free_port()
    stop = asyncio.Event()
    server = asyncio.create_task(
        serve_worker_metrics(ServiceSettings(service_name="worker_metrics_check"), port, stop)
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            async with asyncio.timeout(30):
                while True:
                    try:
                        live = await http.get("/healthz/live")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.05)
            metrics = await http.get("/metrics")
    finally:
        stop.set()
        await asyncio.wait_for(server, timeout=30)

    assert live.json() == {"status": "live", "process": "worker"}
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'huleedu_outbox_relay_leader{service="worker_metrics_check"} 1.0' in metrics.text
