"""dishka in Quart: a REQUEST scope per request, `FromDishka[T]` resolved in views."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from dishka import AsyncContainer, Provider, Scope, make_async_container, provide
from prometheus_client import CollectorRegistry
from pydantic import BaseModel
from quart import Blueprint, Quart, Request
from quart_schema import validate_request, validate_response

from huleedu_service_libs.http import FromDishka, QuartProvider, create_app, inject


@dataclass
class Lifecycle:
    """What the container finalised, in order."""

    events: list[str] = field(default_factory=list)


@dataclass
class Greeter:
    caller: str
    number: int


class GreetRequest(BaseModel):
    greeting: str


class GreetResponse(BaseModel):
    text: str
    request_number: int


class GreeterProvider(Provider):
    def __init__(self, lifecycle: Lifecycle) -> None:
        super().__init__()
        self.lifecycle = lifecycle
        self.created = 0

    @provide(scope=Scope.APP)
    async def lifecycle_log(self) -> AsyncIterator[Lifecycle]:
        yield self.lifecycle
        self.lifecycle.events.append("app closed")

    @provide(scope=Scope.REQUEST)
    async def greeter(self, request: Request, lifecycle: Lifecycle) -> AsyncIterator[Greeter]:
        self.created += 1
        greeter = Greeter(request.headers.get("X-Caller", "anonymous"), self.created)
        yield greeter
        lifecycle.events.append(f"request {greeter.number} closed")


def greeting_blueprint() -> Blueprint:
    blueprint = Blueprint("greetings", __name__)

    @blueprint.post("/greet")
    @validate_request(GreetRequest)
    @validate_response(GreetResponse)
    async def greet(data: GreetRequest, greeter: FromDishka[Greeter]) -> GreetResponse:
        return GreetResponse(
            text=f"{data.greeting}, {greeter.caller}", request_number=greeter.number
        )

    return blueprint


@pytest.fixture
def lifecycle() -> Lifecycle:
    return Lifecycle()


@pytest.fixture
def container(lifecycle: Lifecycle) -> AsyncContainer:
    return make_async_container(GreeterProvider(lifecycle), QuartProvider())


@pytest.fixture
def app(settings_factory, container: AsyncContainer) -> Quart:
    return create_app(
        settings_factory("greeter"),
        title="Greeter",
        container=container,
        blueprints=[greeting_blueprint()],
        registry=CollectorRegistry(),
    )


async def test_views_receive_request_scoped_dependencies(app: Quart, lifecycle: Lifecycle) -> None:
    client = app.test_client()
    first = await client.post("/greet", json={"greeting": "Hej"}, headers={"X-Caller": "Ada"})
    second = await client.post("/greet", json={"greeting": "Hi"})

    assert await first.get_json() == {"text": "Hej, Ada", "request_number": 1}
    assert await second.get_json() == {"text": "Hi, anonymous", "request_number": 2}
    assert lifecycle.events == ["request 1 closed", "request 2 closed"]


async def test_injected_views_keep_their_openapi_models(app: Quart) -> None:
    document = await (await app.test_client().get("/openapi.json")).get_json()
    operation = document["paths"]["/greet"]["post"]
    request_schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(request_schema["properties"]) == {"greeting"}
    assert "200" in operation["responses"]


async def test_views_added_later_use_inject(app: Quart) -> None:
    @app.get("/late")
    @inject
    async def late(greeter: FromDishka[Greeter]) -> dict[str, str]:
        return {"caller": greeter.caller}

    response = await app.test_client().get("/late", headers={"X-Caller": "Grace"})
    assert await response.get_json() == {"caller": "Grace"}


async def test_container_is_closed_when_the_app_stops_serving(
    app: Quart, lifecycle: Lifecycle
) -> None:
    async with app.test_app() as running:
        await running.test_client().post("/greet", json={"greeting": "Hej"})
        assert "app closed" not in lifecycle.events
    assert lifecycle.events[-1] == "app closed"
