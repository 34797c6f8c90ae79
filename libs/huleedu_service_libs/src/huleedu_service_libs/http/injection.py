"""dishka for Quart: one REQUEST-scope container per request, `FromDishka[T]` in handlers.

dishka 1.10 ships no Quart integration, so this is the same shape as its Flask/aiohttp ones,
built on dishka's public `wrap_injection`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from dishka import AsyncContainer, FromDishka, Provider, Scope, from_context
from dishka.integrations.base import is_dishka_injected, wrap_injection
from quart import Quart, Request, g, request

__all__ = ["FromDishka", "QuartProvider", "inject", "setup_dishka"]

FuncT = TypeVar("FuncT", bound=Callable[..., Any])


class QuartProvider(Provider):
    """Add to a container whose REQUEST-scope factories need the current `quart.Request`."""

    request = from_context(provides=Request, scope=Scope.REQUEST)


def inject(func: FuncT) -> FuncT:
    """Resolve a handler's `FromDishka[T]` parameters from the request's container."""
    injected = wrap_injection(
        func=func,
        is_async=True,
        container_getter=lambda _args, _kwargs: g.dishka_container,
    )
    if injected is not func:
        # Keep quart-schema's request/response models visible to the OpenAPI generator.
        for key, value in vars(func).items():
            if key.startswith("_quart_schema"):
                setattr(injected, key, value)
    return injected  # type: ignore[return-value]


def setup_dishka(container: AsyncContainer, app: Quart) -> None:
    """Open a REQUEST scope per request and inject every view registered so far.

    Views added after this call need `@inject` themselves. The container is closed when the
    app stops serving, which finalises APP-scope resources (engine, Redis, producer).
    """

    async def enter_request_scope() -> None:
        child = container(context={Request: request._get_current_object()})  # type: ignore[attr-defined]
        g.dishka_container = await child.__aenter__()

    async def exit_request_scope(_exc: BaseException | None) -> None:
        child: AsyncContainer | None = g.pop("dishka_container", None)
        if child is not None:
            await child.close()

    async def close_container() -> None:
        await container.close()

    app.before_request(enter_request_scope)
    app.teardown_request(exit_request_scope)
    app.after_serving(close_container)
    for endpoint, view in list(app.view_functions.items()):
        if not is_dishka_injected(view) and _wants_injection(view):
            app.view_functions[endpoint] = inject(view)


def _wants_injection(func: Callable[..., Any]) -> bool:
    """Whether any parameter is annotated for dishka.

    The raw annotations are read, not evaluated: Quart's own views have hints that do not
    resolve at run time and must be left alone, while a dishka view whose hints do not
    resolve should fail loudly in `inject`.
    """
    annotations: dict[str, Any] = getattr(func, "__annotations__", {})
    return any(
        marker in (hint if isinstance(hint, str) else repr(hint))
        for name, hint in annotations.items()
        if name != "return"
        for marker in ("FromDishka", "FromComponent")
    )
