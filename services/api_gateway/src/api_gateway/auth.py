"""Bearer JWT authentication: HS256 with the configured secret, `sub` is the teacher id.

`exp` is required and enforced; the accepted algorithm is pinned by the settings, so a token
signed with another algorithm (or `none`) is refused however it is signed. Every failure is
the same 401 `unauthorized` with an RFC 6750 `WWW-Authenticate` challenge; the reason is in
the challenge's description but nothing from the token is echoed back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from api_gateway.errors import HeaderedHttpError
from api_gateway.settings import GatewaySettings
from common_core.errors import ErrorCode

REALM = "huleedu"
MAX_TEACHER_ID_LENGTH = 255
"""The orchestrator stores `user_id` in at most 255 characters."""


@dataclass(frozen=True)
class AuthenticatedTeacher:
    """The caller of this request, as proven by a valid token."""

    teacher_id: str


class InvalidTokenError(Exception):
    """A token that does not prove who the caller is; `reason` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def issue_token(
    sub: str,
    secret: str,
    ttl: timedelta | float,
    *,
    algorithm: str = "HS256",
    now: datetime | None = None,
    claims: Mapping[str, Any] | None = None,
) -> str:
    """A signed token for teacher `sub`, valid for `ttl` (a timedelta or seconds) from `now`."""
    issued_at = now or datetime.now(UTC)
    lifetime = ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl)
    payload: dict[str, Any] = {
        **(claims or {}),
        "sub": sub,
        "iat": issued_at,
        "exp": issued_at + lifetime,
    }
    return jwt.encode(payload, secret, algorithm=algorithm)


def verify_token(
    token: str, secret: str, *, algorithm: str, leeway: int = 0
) -> AuthenticatedTeacher:
    """The teacher a token names, or `InvalidTokenError` saying why it proves nothing."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[algorithm],
            leeway=leeway,
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise InvalidTokenError("token has expired") from error
    except jwt.InvalidSignatureError as error:
        raise InvalidTokenError("token signature is invalid") from error
    except jwt.InvalidAlgorithmError as error:
        raise InvalidTokenError("token algorithm is not accepted") from error
    except jwt.MissingRequiredClaimError as error:
        raise InvalidTokenError(f"token lacks the {error.claim!r} claim") from error
    except jwt.DecodeError as error:
        raise InvalidTokenError("token is malformed") from error
    except jwt.InvalidTokenError as error:
        raise InvalidTokenError("token is not valid") from error
    teacher_id = claims["sub"]
    if not isinstance(teacher_id, str) or not teacher_id.strip():
        raise InvalidTokenError("token subject is empty")
    if len(teacher_id) > MAX_TEACHER_ID_LENGTH:
        raise InvalidTokenError("token subject is too long")
    return AuthenticatedTeacher(teacher_id=teacher_id)


def authenticate(authorization: str | None, settings: GatewaySettings) -> AuthenticatedTeacher:
    """The teacher behind an `Authorization` header, or a 401 with a Bearer challenge."""
    if not authorization:
        raise _unauthorized("a bearer token is required", challenge=f'Bearer realm="{REALM}"')
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("the Authorization header must be 'Bearer <token>'", "invalid_request")
    try:
        return verify_token(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithm=settings.jwt_algorithm,
            leeway=settings.jwt_leeway_seconds,
        )
    except InvalidTokenError as error:
        raise _unauthorized(error.reason, "invalid_token") from error


def _unauthorized(
    message: str, error: str | None = None, *, challenge: str | None = None
) -> HeaderedHttpError:
    if challenge is None:
        challenge = f'Bearer realm="{REALM}", error="{error}", error_description="{message}"'
    return HeaderedHttpError(
        401, ErrorCode.UNAUTHORIZED, message, headers={"WWW-Authenticate": challenge}
    )
