"""Helpers for the gateway's tests: tokens, the gateway app, and serving apps on free ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
from api_gateway.auth import issue_token
from api_gateway.service import build_app
from api_gateway.settings import GatewaySettings
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart.testing import QuartClient

from huleedu_service_libs.local_infra.probes import free_port

READY_TIMEOUT_S = 20.0
SECRET = "gateway-tests-secret-of-at-least-32-bytes"


def bearer(teacher_id: str, *, ttl: float = 300, secret: str = SECRET) -> dict[str, str]:
    """Headers of a request by `teacher_id` with a fresh token."""
    return {"Authorization": f"Bearer {issue_token(teacher_id, secret, ttl)}"}


@asynccontextmanager
async def gateway_client(settings: GatewaySettings) -> AsyncIterator[QuartClient]:
    """The real gateway app (its container, Redis and HTTP clients) behind a test client."""
    app = await build_app(settings)
    async with app.test_app() as test_app:
        yield cast(QuartClient, test_app.test_client())


@asynccontextmanager
async def served_gateway(settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway served over real HTTP, and a client for it (multipart with repeated parts
    needs a real client: Quart's test client sends one file per field name)."""
    async with (
        serving(await build_app(settings)) as url,
        httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as client,
    ):
        yield client


@asynccontextmanager
async def serving(app: Any, *, probe: str = "/healthz/live") -> AsyncIterator[str]:
    """Yield the base URL while `app` serves it; stop gracefully afterwards."""
    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.graceful_timeout = 0.5  # idle keep-alive connections would hold shutdown
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_until_answering(f"{url}{probe}", task)
        yield url
    finally:
        stop.set()
        await task


async def wait_until_answering(url: str, task: asyncio.Task[Any] | None = None) -> None:
    deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_S
    async with httpx.AsyncClient(trust_env=False, timeout=2) as client:
        while True:
            if task is not None and task.done():
                task.result()  # the server died: raise its error
                raise RuntimeError(f"server for {url} stopped before answering")
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{url} did not answer within {READY_TIMEOUT_S}s")
            await asyncio.sleep(0.05)
