"""HTTP API: `POST /v1/content` stores bytes, `GET /v1/content/{id}` returns them."""

from __future__ import annotations

from pydantic import BaseModel
from quart import Blueprint, Response, request
from quart_schema import validate_response

from common_core.errors import ErrorCode
from content_service.domain import content_id, is_content_id
from content_service.repository import ContentRepository
from content_service.settings import ContentSettings
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.http import FromDishka, HttpError


class StoredContentResponse(BaseModel):
    content_id: str
    size_bytes: int
    media_type: str


def content_blueprint() -> Blueprint:
    blueprint = Blueprint("content", __name__, url_prefix="/v1/content")

    @blueprint.post("")
    @validate_response(StoredContentResponse, 201)
    async def store(
        uow: FromDishka[UnitOfWork], settings: FromDishka[ContentSettings]
    ) -> tuple[StoredContentResponse, int]:
        data = await request.get_data(cache=False, as_text=False, parse_form_data=False)
        if not data:
            raise HttpError(400, ErrorCode.VALIDATION_ERROR, "content is empty")
        if len(data) > settings.max_content_bytes:
            raise HttpError(
                413,
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"content exceeds {settings.max_content_bytes} bytes",
            )
        media_type = request.mimetype or "application/octet-stream"
        identifier = content_id(data)
        async with uow:
            await ContentRepository(uow.session).store(identifier, media_type, data)
            await uow.commit()
        return StoredContentResponse(
            content_id=identifier, size_bytes=len(data), media_type=media_type
        ), 201

    @blueprint.get("/<content_id>")
    async def fetch(content_id: str, uow: FromDishka[UnitOfWork]) -> Response:
        if not is_content_id(content_id):
            raise HttpError(404, ErrorCode.NOT_FOUND, "no such content")
        async with uow:
            stored = await ContentRepository(uow.session).get(content_id)
        if stored is None:
            raise HttpError(404, ErrorCode.NOT_FOUND, "no such content")
        return Response(stored.data, status=200, mimetype=stored.media_type)

    return blueprint
