"""The gateway's OpenAPI document: the bearer scheme, and UUID path parameters typed as such.

Both belong in the shared app factory eventually (see the report); until then the gateway
adjusts its own app's quart-schema extension after `create_app`.
"""

from __future__ import annotations

from typing import Any

from quart import Quart
from quart_schema import QuartSchema
from quart_schema.openapi import HttpSecurityScheme, OpenAPIProvider
from werkzeug.routing.converters import BaseConverter, UUIDConverter

BEARER_SCHEME = "bearerAuth"


class GatewayOpenAPIProvider(OpenAPIProvider):
    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        parameter = super().build_path_parameter(name, converter)
        if isinstance(converter, UUIDConverter):
            parameter["schema"] = {"type": "string", "format": "uuid"}
        return parameter


def document_gateway(app: Quart) -> None:
    extension: QuartSchema = app.extensions["QUART_SCHEMA"]
    extension.security_schemes = {
        BEARER_SCHEME: HttpSecurityScheme(scheme="bearer", bearer_format="JWT")
    }
    extension.openapi_provider = GatewayOpenAPIProvider(app, extension)
