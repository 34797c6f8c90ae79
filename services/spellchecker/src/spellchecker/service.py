"""spellchecker as the runtime sees it: a worker that consumes EssaySpellcheckRequested."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from functools import partial
from pathlib import Path

import httpx
from dishka import AsyncContainer, Provider, Scope, from_context, provide

from common_core.events import REGISTRY
from common_core.events.spellcheck import EssaySpellcheckRequested
from huleedu_service_libs.content_client import ContentClient
from huleedu_service_libs.kafka.consumer import Handler
from huleedu_service_libs.runtime import ServiceDefinition
from spellchecker.domain.checker import Spellchecker
from spellchecker.domain.dictionary import english_spellchecker
from spellchecker.handlers.essay_spellcheck_requested import handle_essay_spellcheck_requested
from spellchecker.models import metadata
from spellchecker.settings import SpellcheckerSettings


def spellcheck_handlers(checker: Spellchecker, content: ContentClient) -> Mapping[str, Handler]:
    """The consumed event types and their handlers, bound to the process's checker and client."""
    return {
        REGISTRY.spec_for_model(EssaySpellcheckRequested).event_type: partial(
            handle_essay_spellcheck_requested, checker=checker, content=content
        ),
    }


class SpellcheckerProvider(Provider):
    settings = from_context(provides=SpellcheckerSettings, scope=Scope.APP)

    @provide(scope=Scope.APP)
    async def http(self, settings: SpellcheckerSettings) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(timeout=settings.content_service_timeout_s) as client:
            yield client

    @provide(scope=Scope.APP)
    def content(self, http: httpx.AsyncClient, settings: SpellcheckerSettings) -> ContentClient:
        return ContentClient(http, settings.content_service_url)

    @provide(scope=Scope.APP)
    def checker(self, settings: SpellcheckerSettings) -> Spellchecker:
        return english_spellchecker(tuple(settings.extra_allowlist))


async def _handlers(container: AsyncContainer) -> Mapping[str, Handler]:
    return spellcheck_handlers(
        await container.get(Spellchecker), await container.get(ContentClient)
    )


DEFINITION = ServiceDefinition(
    name="spellchecker",
    title="HuleEdu spellchecker",
    settings_class=SpellcheckerSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    providers=lambda: [SpellcheckerProvider()],
    handlers=_handlers,
)
