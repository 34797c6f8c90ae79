"""Anthropic Messages API through the official SDK (its retries off: one attempt per call).

The verdict comes back through a forced tool call (`tool_choice` names the one strict tool);
the instruction block is the system prompt with `cache_control: ephemeral`, so every pair of a
batch after the first reads it from the cache. Headers are read through `with_raw_response`
for the rate limiter. The SDK's Messages API in use takes no sampling parameters, so a
requested temperature is not sent.
"""

from __future__ import annotations

from typing import Any

import anthropic
from anthropic.types import Message, ToolUseBlock

from llm_provider.domain.provider_errors import (
    ProviderError,
    ProviderErrorKind,
    TokenUsage,
    kind_from_status,
)
from llm_provider.providers.base import ComparisonCall, ProviderResponse
from llm_provider.providers.judgement_format import (
    JUDGEMENT_SCHEMA,
    TOOL_NAME,
    InvalidJudgementError,
    essays_message,
    instruction_block,
    parse_judgement,
)

PROVIDER_NAME = "anthropic"


def _translate(exc: anthropic.APIError) -> ProviderError:
    if isinstance(exc, anthropic.APITimeoutError):
        return ProviderError(ProviderErrorKind.TIMEOUT, str(exc), provider=PROVIDER_NAME)
    if isinstance(exc, anthropic.APIConnectionError):
        return ProviderError(ProviderErrorKind.CONNECTION, str(exc), provider=PROVIDER_NAME)
    if isinstance(exc, anthropic.APIStatusError):
        return ProviderError(
            kind_from_status(exc.status_code, exc.body),
            exc.api_message or str(exc),
            provider=PROVIDER_NAME,
            status_code=exc.status_code,
            headers=dict(exc.response.headers),
            body=exc.body,
        )
    if isinstance(exc, anthropic.APIResponseValidationError):
        return ProviderError(
            ProviderErrorKind.MALFORMED_RESPONSE,
            str(exc),
            provider=PROVIDER_NAME,
            status_code=exc.status_code,
            headers=dict(exc.response.headers),
        )
    return ProviderError(ProviderErrorKind.CONNECTION, str(exc), provider=PROVIDER_NAME)


def _usage(message: Message) -> TokenUsage:
    usage = message.usage
    cached = usage.cache_read_input_tokens or 0
    written = usage.cache_creation_input_tokens or 0
    return TokenUsage(
        input_tokens=usage.input_tokens + cached + written,  # API reports the three apart
        output_tokens=usage.output_tokens,
        cached_tokens=cached,
        cache_write_tokens=written,
    )


class AnthropicProvider:
    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s
        )

    @property
    def name(self) -> str:
        return PROVIDER_NAME

    async def aclose(self) -> None:
        await self._client.close()

    def request_params(self, call: ComparisonCall) -> dict[str, Any]:
        """The Messages API request for one pair (public for tests and logs)."""
        return {
            "model": call.model,
            "max_tokens": call.max_tokens,
            "system": [
                {
                    "type": "text",
                    "text": instruction_block(call.prompt),
                    "cache_control": {"type": "ephemeral"},
                }
            ],
            "messages": [
                {"role": "user", "content": essays_message(call.essay_a_text, call.essay_b_text)}
            ],
            "tools": [
                {
                    "name": TOOL_NAME,
                    "description": "Record which essay is better, why, and how confident you are.",
                    "input_schema": JUDGEMENT_SCHEMA,
                    "strict": True,
                }
            ],
            "tool_choice": {"type": "tool", "name": TOOL_NAME, "disable_parallel_tool_use": True},
        }

    async def compare(self, call: ComparisonCall) -> ProviderResponse:
        try:
            raw = await self._client.messages.with_raw_response.create(**self.request_params(call))
            headers = dict(raw.headers)
            try:
                message = await raw.parse()
            except ValueError as exc:  # 200 with a body that is not JSON
                raise ProviderError(
                    ProviderErrorKind.MALFORMED_RESPONSE,
                    f"response body is not JSON: {exc}",
                    provider=PROVIDER_NAME,
                    status_code=raw.status_code,
                    headers=headers,
                ) from exc
        except anthropic.APIError as exc:
            raise _translate(exc) from exc
        if not isinstance(message, Message) or not hasattr(message, "usage"):
            raise ProviderError(
                ProviderErrorKind.MALFORMED_RESPONSE,
                "response is not a Messages API message",
                provider=PROVIDER_NAME,
                status_code=raw.status_code,
                headers=headers,
            )
        return self._interpret(message, headers)

    def _interpret(self, message: Message, headers: dict[str, str]) -> ProviderResponse:
        try:
            usage = _usage(message)
            stop_reason = message.stop_reason
            blocks = list(message.content)
        except (AttributeError, TypeError) as exc:
            raise ProviderError(
                ProviderErrorKind.MALFORMED_RESPONSE,
                f"message lacks required fields: {exc}",
                provider=PROVIDER_NAME,
                headers=headers,
            ) from exc

        def failure(kind: ProviderErrorKind, text: str) -> ProviderError:
            return ProviderError(
                kind, text, provider=PROVIDER_NAME, status_code=200, headers=headers, usage=usage
            )

        if stop_reason == "refusal":
            raise failure(ProviderErrorKind.REFUSAL, "the model declined to judge this pair")
        if stop_reason in ("max_tokens", "model_context_window_exceeded"):
            raise failure(
                ProviderErrorKind.TRUNCATED, f"stopped at {stop_reason} before the verdict ended"
            )
        tool_call = next(
            (b for b in blocks if isinstance(b, ToolUseBlock) and b.name == TOOL_NAME), None
        )
        if tool_call is None:
            raise failure(ProviderErrorKind.INVALID_OUTPUT, f"no {TOOL_NAME} tool call")
        try:
            judgement = parse_judgement(tool_call.input)
        except InvalidJudgementError as exc:
            raise failure(ProviderErrorKind.INVALID_OUTPUT, str(exc)) from exc
        return ProviderResponse(
            winner=judgement.winner,
            justification=judgement.justification,
            confidence=judgement.confidence,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            model=str(message.model),
            headers=headers,
            stop_reason=stop_reason,
        )
