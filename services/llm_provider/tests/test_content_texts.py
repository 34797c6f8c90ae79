"""Essay texts from a real content_service: found, missing (an error callback, not a crash),
and content_service down (the request is retried, and finally failed with the outage)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from content_harness import running_content_service, store_text  # type: ignore[import-not-found]
from llm_provider.models import RequestState
from llm_provider.repository import RequestRepository
from llm_provider.texts import ContentMissingError, ContentServiceTexts, ContentUnavailableError
from lps_harness import Lps, comparison_request  # type: ignore[import-not-found]

from common_core.errors import ErrorCode
from common_core.events.llm import LLMComparisonResult
from huleedu_service_libs.content_client import ContentClient
from huleedu_service_libs.testing.services import closed_port_url

pytestmark = pytest.mark.integration

ESSAY_A = "Malmö by the sea: I walk along the harbour every morning, and the light is calm."
ESSAY_B = "My town is smal but i like it. There is a park and a lake and a shop."
UNKNOWN_ID = "0" * 64


@pytest.fixture
async def content_url(
    database_factory: Callable[[str], Awaitable[str]], settings_factory: Callable[..., Any]
) -> AsyncIterator[str]:
    async with running_content_service(database_factory, settings_factory) as url:
        yield url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def texts_at(http: httpx.AsyncClient, url: str) -> ContentServiceTexts:
    return ContentServiceTexts(ContentClient(http, url))


async def callbacks(lps: Lps) -> list[LLMComparisonResult]:
    return [
        LLMComparisonResult.model_validate(row["payload"]["data"])
        for row in await lps.callbacks_written()
    ]


async def request_state(lps: Lps, request_id: Any) -> tuple[RequestState, int]:
    async with lps.sessions() as session:
        record = await RequestRepository(session).get(request_id)
    assert record is not None
    return record.state, record.attempts


async def test_a_stored_text_is_read_back_and_then_served_from_memory(
    database_factory: Callable[[str], Awaitable[str]],
    settings_factory: Callable[..., Any],
    http: httpx.AsyncClient,
) -> None:
    async with running_content_service(database_factory, settings_factory) as url:
        content_id = await store_text(url, ESSAY_A)
        texts = texts_at(http, url)
        assert await texts.text(content_id) == ESSAY_A
    # content_service is gone; a text never changes, so the copy already read still serves.
    assert await texts.text(content_id) == ESSAY_A
    with pytest.raises(ContentUnavailableError):
        await texts.text(UNKNOWN_ID)


@pytest.mark.parametrize("content_id", [UNKNOWN_ID, "not-a-content-id"])
async def test_an_unknown_id_is_missing_content_naming_the_id(
    content_url: str, http: httpx.AsyncClient, content_id: str
) -> None:
    with pytest.raises(ContentMissingError, match=content_id):
        await texts_at(http, content_url).text(content_id)


async def test_content_service_down_is_unavailable_not_missing(http: httpx.AsyncClient) -> None:
    with pytest.raises(ContentUnavailableError, match="unreachable"):
        await texts_at(http, closed_port_url()).text(UNKNOWN_ID)


async def test_a_request_for_a_missing_text_gets_an_error_callback_without_a_provider_call(
    lps: Lps, content_url: str, http: httpx.AsyncClient
) -> None:
    request = comparison_request(text_ids=(await store_text(content_url, ESSAY_A), UNKNOWN_ID))
    await lps.accept([request])
    worker = lps.worker(texts=texts_at(http, content_url))

    assert await worker.process(request.request_id)
    [result] = await callbacks(lps)
    assert result.request_id == request.request_id
    assert result.winner is None
    assert result.error is not None
    assert result.error.code is ErrorCode.CONTENT_UNAVAILABLE
    assert UNKNOWN_ID in result.error.message
    assert await request_state(lps, request.request_id) == (RequestState.FAILED, 1)
    assert lps.provider.calls == Counter()
    assert not await worker.process(request.request_id)  # answered is answered


async def test_a_request_waits_out_a_content_outage_and_is_answered_when_it_ends(
    lps: Lps, content_url: str, http: httpx.AsyncClient
) -> None:
    text_ids = (await store_text(content_url, ESSAY_A), await store_text(content_url, ESSAY_B))
    request = comparison_request(text_ids=text_ids)
    await lps.accept([request])

    during_outage = lps.worker(texts=texts_at(http, closed_port_url()))
    assert not await during_outage.process(request.request_id)
    assert await request_state(lps, request.request_id) == (RequestState.QUEUED, 1)
    assert await callbacks(lps) == []

    after_outage = lps.worker(texts=texts_at(http, content_url))
    assert await after_outage.process(request.request_id)
    [result] = await callbacks(lps)
    assert result.error is None
    assert result.winner is not None
    assert await request_state(lps, request.request_id) == (RequestState.DONE, 2)
    assert lps.provider.calls == Counter({request.request_id: 1})


async def test_a_request_fails_with_the_outage_as_its_reason_when_content_stays_down(
    lps: Lps, http: httpx.AsyncClient
) -> None:
    request = comparison_request()
    await lps.accept([request])
    worker = lps.worker(texts=texts_at(http, closed_port_url()), max_claims=3)

    assert not await worker.process(request.request_id)
    assert not await worker.process(request.request_id)
    assert await callbacks(lps) == []
    assert await worker.process(request.request_id)  # the last claim answers with the reason

    [result] = await callbacks(lps)
    assert result.error is not None
    assert result.error.code is ErrorCode.CONTENT_UNAVAILABLE
    assert "content_service unavailable on all 3 attempts" in result.error.message
    assert "unreachable" in result.error.message
    assert await request_state(lps, request.request_id) == (RequestState.FAILED, 3)
    assert lps.provider.calls == Counter()
