"""OpenAI Chat Completions through the official SDK (its retries off: one attempt per call).

The verdict is a JSON-schema structured output (`response_format` json_schema, strict). The
instruction block is the first (system) message so OpenAI's automatic prefix caching reuses
it; `prompt_cache_key` groups a batch's calls on one cache. A refusal, a content-filter stop or
`finish_reason == "length"` is an error, never a verdict.
"""

from __future__ import annotations

import hashlib
from typing import Any

import openai
from openai.types.chat import ChatCompletion

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

PROVIDER_NAME = "openai"


def _translate(exc: openai.APIError) -> ProviderError:
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError(ProviderErrorKind.TIMEOUT, str(exc), provider=PROVIDER_NAME)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(ProviderErrorKind.CONNECTION, str(exc), provider=PROVIDER_NAME)
    if isinstance(exc, openai.APIStatusError):
        return ProviderError(
            kind_from_status(exc.status_code, exc.body),
            exc.message,
            provider=PROVIDER_NAME,
            status_code=exc.status_code,
            headers=dict(exc.response.headers),
            body=exc.body,
        )
    if isinstance(exc, openai.APIResponseValidationError):
        return ProviderError(
            ProviderErrorKind.MALFORMED_RESPONSE,
            str(exc),
            provider=PROVIDER_NAME,
            status_code=exc.status_code,
            headers=dict(exc.response.headers),
        )
    return ProviderError(ProviderErrorKind.CONNECTION, str(exc), provider=PROVIDER_NAME)


def _usage(completion: ChatCompletion) -> TokenUsage:
    usage = completion.usage
    if usage is None:
        return TokenUsage()
    details = usage.prompt_tokens_details
    return TokenUsage(
        input_tokens=usage.prompt_tokens,  # includes the cached prefix
        output_tokens=usage.completion_tokens,
        cached_tokens=(details.cached_tokens or 0) if details is not None else 0,
    )


class OpenAIProvider:
    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s
        )

    @property
    def name(self) -> str:
        return PROVIDER_NAME

    async def aclose(self) -> None:
        await self._client.close()

    def request_params(self, call: ComparisonCall) -> dict[str, Any]:
        """The Chat Completions request for one pair (public for tests and logs)."""
        instructions = instruction_block(call.prompt)
        params: dict[str, Any] = {
            "model": call.model,
            "max_completion_tokens": call.max_tokens,
            "messages": [
                {"role": "system", "content": instructions},
                {"role": "user", "content": essays_message(call.essay_a_text, call.essay_b_text)},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": TOOL_NAME, "schema": JUDGEMENT_SCHEMA, "strict": True},
            },
            "prompt_cache_key": hashlib.sha256(instructions.encode()).hexdigest()[:32],
        }
        if call.temperature is not None:
            params["temperature"] = call.temperature
        return params

    async def compare(self, call: ComparisonCall) -> ProviderResponse:
        try:
            raw = await self._client.chat.completions.with_raw_response.create(
                **self.request_params(call)
            )
            headers = dict(raw.headers)
            try:
                completion = raw.parse()
            except ValueError as exc:  # 200 with a body that is not JSON
                raise ProviderError(
                    ProviderErrorKind.MALFORMED_RESPONSE,
                    f"response body is not JSON: {exc}",
                    provider=PROVIDER_NAME,
                    status_code=raw.status_code,
                    headers=headers,
                ) from exc
        except openai.APIError as exc:
            raise _translate(exc) from exc
        if not isinstance(completion, ChatCompletion):
            raise ProviderError(
                ProviderErrorKind.MALFORMED_RESPONSE,
                "response is not a chat completion",
                provider=PROVIDER_NAME,
                status_code=raw.status_code,
                headers=headers,
            )
        return self._interpret(completion, headers)

    def _interpret(self, completion: ChatCompletion, headers: dict[str, str]) -> ProviderResponse:
        try:
            usage = _usage(completion)
            choice = completion.choices[0]
            finish_reason = choice.finish_reason
            refusal = choice.message.refusal
            content = choice.message.content
        except (AttributeError, TypeError, IndexError) as exc:
            raise ProviderError(
                ProviderErrorKind.MALFORMED_RESPONSE,
                f"completion lacks required fields: {exc}",
                provider=PROVIDER_NAME,
                headers=headers,
            ) from exc

        def failure(kind: ProviderErrorKind, text: str) -> ProviderError:
            return ProviderError(
                kind, text, provider=PROVIDER_NAME, status_code=200, headers=headers, usage=usage
            )

        if refusal:
            raise failure(ProviderErrorKind.REFUSAL, f"the model refused: {refusal}")
        if finish_reason == "content_filter":
            raise failure(ProviderErrorKind.REFUSAL, "the answer was withheld by content filters")
        if finish_reason == "length":
            raise failure(ProviderErrorKind.TRUNCATED, "stopped at max tokens before the verdict")
        if not content:
            raise failure(ProviderErrorKind.INVALID_OUTPUT, "empty answer")
        try:
            judgement = parse_judgement(content)
        except InvalidJudgementError as exc:
            raise failure(ProviderErrorKind.INVALID_OUTPUT, str(exc)) from exc
        return ProviderResponse(
            winner=judgement.winner,
            justification=judgement.justification,
            confidence=judgement.confidence,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_tokens,
            model=str(completion.model),
            headers=headers,
            stop_reason=finish_reason,
        )
