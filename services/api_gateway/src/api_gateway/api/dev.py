"""Development sign-in: `POST /v1/dev/token` issues a token for any teacher id.

Until the identity service exists, the teacher's page and `make run` sign in here. It answers
only when `environment` is `development` or `test`; anywhere else the route does not exist
(404), so a production gateway never hands out tokens.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints
from quart import Blueprint
from quart_schema import document_response, validate_request, validate_response

from api_gateway.auth import MAX_TEACHER_ID_LENGTH, issue_token
from api_gateway.settings import GatewaySettings
from common_core.errors import ErrorCode, ErrorDetail
from huleedu_service_libs.http import FromDishka, HttpError

DEV_ENVIRONMENTS = frozenset({"development", "test"})

TeacherId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_TEACHER_ID_LENGTH, pattern=r"^\S+$"
    ),
]


class DevTokenRequest(BaseModel):
    teacher_id: TeacherId = Field(description="Who to sign in as (no spaces), e.g. `teacher-1`.")


class DevToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds the token stays valid.")
    teacher_id: str


def dev_blueprint() -> Blueprint:
    blueprint = Blueprint("dev", __name__, url_prefix="/v1/dev")

    @blueprint.post("/token")
    @validate_request(DevTokenRequest)
    @validate_response(DevToken, 200)
    @document_response(ErrorDetail, 400)
    @document_response(ErrorDetail, 404)
    async def dev_token(data: DevTokenRequest, settings: FromDishka[GatewaySettings]) -> DevToken:
        """Development and test only: a signed token for `teacher_id` (404 elsewhere)."""
        if settings.environment not in DEV_ENVIRONMENTS:
            raise HttpError(404, ErrorCode.NOT_FOUND, "no such route")
        token = issue_token(
            data.teacher_id,
            settings.jwt_secret.get_secret_value(),
            settings.dev_token_ttl_seconds,
            algorithm=settings.jwt_algorithm,
        )
        return DevToken(
            access_token=token,
            token_type="bearer",
            expires_in=settings.dev_token_ttl_seconds,
            teacher_id=data.teacher_id,
        )

    return blueprint
