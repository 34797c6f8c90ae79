"""Bearer JWT authentication: only a well-formed, unexpired HS256 token signed with the
configured secret gets through; everything else is the same 401 with a Bearer challenge."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from api_gateway.auth import InvalidTokenError, issue_token, verify_token
from api_gateway.settings import DEVELOPMENT_JWT_SECRET, GatewaySettings
from gateway_harness import SECRET, bearer  # type: ignore[import-not-found]
from pydantic import ValidationError
from quart.testing import QuartClient

pytestmark = [
    pytest.mark.integration,
    # The wrong-algorithm case signs HS512 with the HS256 secret on purpose.
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]

OTHER_SECRET = "another-secret-that-is-also-32-bytes-long"


def _now() -> datetime:
    return datetime.now(UTC)


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": "teacher-1", "exp": _now() + timedelta(minutes=5)}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


BAD_TOKENS: dict[str, Any] = {
    "expired": lambda: issue_token("teacher-1", SECRET, -1),
    "forged signature": lambda: issue_token("teacher-1", OTHER_SECRET, 300),
    "tampered payload": lambda: _swap_subject(issue_token("teacher-1", SECRET, 300)),
    "alg none": lambda: _unsigned(_claims(exp=int((_now() + timedelta(minutes=5)).timestamp()))),
    "wrong alg (HS512)": lambda: jwt.encode(_claims(), SECRET, algorithm="HS512"),
    "no exp": lambda: jwt.encode(_claims(exp=None), SECRET, algorithm="HS256"),
    "no sub": lambda: jwt.encode(_claims(sub=None), SECRET, algorithm="HS256"),
    "empty sub": lambda: jwt.encode(_claims(sub="  "), SECRET, algorithm="HS256"),
    "not yet valid": lambda: jwt.encode(
        _claims(nbf=_now() + timedelta(minutes=1)), SECRET, algorithm="HS256"
    ),
    "malformed": lambda: "not-a-jwt",
    "two segments": lambda: "abc.def",
    "garbage segments": lambda: "!!!.???.***",
}


def _swap_subject(token: str) -> str:
    header, _payload, signature = token.split(".")
    forged = base64.urlsafe_b64encode(
        json.dumps({"sub": "someone-else", "exp": 4102444800}).encode()
    ).rstrip(b"=")
    return f"{header}.{forged.decode()}.{signature}"


def test_an_issued_token_names_its_teacher() -> None:
    token = issue_token("teacher-7", SECRET, timedelta(minutes=1))
    assert verify_token(token, SECRET, algorithm="HS256").teacher_id == "teacher-7"


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_bad_tokens_prove_nothing(case: str) -> None:
    with pytest.raises(InvalidTokenError):
        verify_token(BAD_TOKENS[case](), SECRET, algorithm="HS256")


def test_leeway_tolerates_small_clock_skew_only() -> None:
    token = issue_token("teacher-1", SECRET, 300, now=_now() - timedelta(seconds=305))
    assert verify_token(token, SECRET, algorithm="HS256", leeway=30).teacher_id == "teacher-1"
    with pytest.raises(InvalidTokenError, match="expired"):
        verify_token(token, SECRET, algorithm="HS256", leeway=0)


def test_production_refuses_the_development_secret_and_short_secrets() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        GatewaySettings(environment="production")
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        GatewaySettings(jwt_secret="short")
    assert GatewaySettings(environment="production", jwt_secret=OTHER_SECRET)
    assert GatewaySettings().jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET


ROUTES = [
    ("POST", "/v1/batches/register", {"json": {"expected_essay_count": 3, "course_code": "ENG5"}}),
    ("GET", "/v1/batches", {}),
    ("GET", f"/v1/batches/{uuid.uuid4()}/status", {}),
    ("POST", "/v1/files/batch", {"form": {"batch_id": str(uuid.uuid4())}}),
]


def _assert_unauthorized(status: int, headers: Any, body: dict[str, Any]) -> None:
    assert status == 401
    assert headers["WWW-Authenticate"].startswith('Bearer realm="huleedu"')
    assert body["code"] == "unauthorized"
    assert body["service"] == "api_gateway"


@pytest.mark.parametrize(("method", "path", "kwargs"), ROUTES)
async def test_every_route_refuses_a_request_without_a_token(
    gateway: QuartClient, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    response = await gateway.open(path, method=method, **kwargs)
    _assert_unauthorized(response.status_code, response.headers, await response.get_json())
    assert "error=" not in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
@pytest.mark.parametrize(("method", "path", "kwargs"), ROUTES[:2])
async def test_bad_tokens_are_refused_with_an_invalid_token_challenge(
    gateway: QuartClient, case: str, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    headers = {"Authorization": f"Bearer {BAD_TOKENS[case]()}"}
    response = await gateway.open(path, method=method, headers=headers, **kwargs)
    _assert_unauthorized(response.status_code, response.headers, await response.get_json())
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "authorization", ["Basic dGVhY2hlcjpwdw==", "Bearer", "Bearer   ", "Token abc.def.ghi"]
)
async def test_a_header_that_is_not_bearer_is_refused(
    gateway: QuartClient, authorization: str
) -> None:
    response = await gateway.get("/v1/batches", headers={"Authorization": authorization})
    _assert_unauthorized(response.status_code, response.headers, await response.get_json())


async def test_authentication_comes_before_body_validation(gateway: QuartClient) -> None:
    """A caller without a token learns nothing about what a valid body looks like."""
    response = await gateway.post(
        "/v1/batches/register", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401


async def test_a_valid_token_gets_through(gateway: QuartClient, teacher: str) -> None:
    response = await gateway.get("/v1/batches", headers=bearer(teacher))
    assert response.status_code == 200
    assert (await response.get_json())["items"] == []
