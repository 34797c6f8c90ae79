"""What every provider (offline, Anthropic, OpenAI) offers: judge one pair of essays.

A provider makes exactly one attempt per `compare` call; retries, rate limits and the circuit
breaker live outside it (comparison_caller), so all three providers share the same rules.
Failures are raised as ProviderError with a kind that says what went wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from common_core.events.llm import ComparisonPrompt, ComparisonWinner
from llm_provider.domain.provider_errors import TokenUsage


@dataclass(frozen=True)
class ComparisonCall:
    """One judgement to make; the ids only name it (offline noise seed, provider metadata)."""

    essay_a_text: str
    essay_b_text: str
    prompt: ComparisonPrompt
    model: str
    max_tokens: int
    temperature: float | None = None
    request_id: UUID | None = None
    essay_a_id: UUID | None = None
    essay_b_id: UUID | None = None


@dataclass(frozen=True)
class ProviderResponse:
    """A valid judgement with what it cost. `input_tokens` counts cached tokens too."""

    winner: ComparisonWinner
    justification: str
    confidence: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    model: str
    headers: Mapping[str, str] = field(default_factory=dict)
    stop_reason: str | None = None
    cache_write_tokens: int = 0

    @property
    def usage(self) -> TokenUsage:
        return TokenUsage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cached_tokens=self.cached_tokens,
            cache_write_tokens=self.cache_write_tokens,
        )


class Provider(Protocol):
    @property
    def name(self) -> str: ...

    async def compare(self, call: ComparisonCall) -> ProviderResponse:
        """One attempt. Raises ProviderError."""
        ...

    async def aclose(self) -> None: ...
