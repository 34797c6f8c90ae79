"""The development sign-in (only in development and test) and the teacher's page (its document,
security headers and assets)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from api_gateway.auth import verify_token
from api_gateway.settings import GatewaySettings
from gateway_harness import SECRET, gateway_client  # type: ignore[import-not-found]
from quart.testing import QuartClient

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("environment", ["development", "test"])
async def test_dev_token_signs_the_teacher_in(
    gateway_settings_factory: Callable[..., GatewaySettings], environment: str
) -> None:
    settings = gateway_settings_factory(environment=environment, dev_token_ttl_seconds=600)
    async with gateway_client(settings) as client:
        response = await client.post("/v1/dev/token", json={"teacher_id": "  teacher-dev "})
        body = await response.get_json()
        assert response.status_code == 200
        assert (body["token_type"], body["expires_in"], body["teacher_id"]) == (
            "bearer",
            600,
            "teacher-dev",
        )
        assert verify_token(body["access_token"], SECRET, algorithm="HS256").teacher_id == (
            "teacher-dev"
        )
        signed_in = await client.get(
            "/v1/batches/00000000-0000-0000-0000-000000000000/events?after=x",
            headers={"Authorization": f"Bearer {body['access_token']}"},
        )
        assert signed_in.status_code == 400  # past authentication: the query is what is wrong


@pytest.mark.parametrize("body", [{}, {"teacher_id": ""}, {"teacher_id": "two words"}, []])
async def test_dev_token_refuses_a_bad_teacher_id(gateway: QuartClient, body: object) -> None:
    response = await gateway.post("/v1/dev/token", json=body)
    assert response.status_code == 400
    assert (await response.get_json())["code"] == "validation_error"


@pytest.mark.parametrize("environment", ["production", "staging"])
async def test_dev_token_does_not_exist_outside_development(
    gateway_settings_factory: Callable[..., GatewaySettings], environment: str
) -> None:
    settings = gateway_settings_factory(environment=environment)
    async with gateway_client(settings) as client:
        response = await client.post("/v1/dev/token", json={"teacher_id": "teacher-dev"})
    assert response.status_code == 404
    assert (await response.get_json())["code"] == "not_found"


async def test_the_page_is_served_with_a_content_security_policy(gateway: QuartClient) -> None:
    response = await gateway.get("/")
    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert '<html lang="en">' in html
    assert '<script type="module" src="/static/app.js">' in html
    assert 'aria-live="polite"' in html


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [("/static/app.js", "text/javascript"), ("/static/style.css", "text/css")],
)
async def test_the_page_assets_are_served(gateway: QuartClient, path: str, mimetype: str) -> None:
    response = await gateway.get(path)
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert await response.get_data()
