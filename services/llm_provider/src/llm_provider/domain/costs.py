"""Model manifest (prices, context, defaults, limits) and the cost ledger's value objects.

Prices live in `model_manifest.yaml` next to this package, never in code. A call is charged
uncached input, cache reads and cache writes at their own prices plus output, in Decimal USD
rounded to 1e-8. Ledger values are immutable; a batch total counts each request id once, so a
redelivered request cannot be billed twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from importlib import resources
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml
from pydantic import BaseModel, ConfigDict, Field

from llm_provider.domain.provider_errors import TokenUsage
from llm_provider.domain.rate_limit import LimitKey, RateLimits

_PER_MILLION = Decimal(1_000_000)
COST_QUANTUM = Decimal("0.00000001")


class UnknownModelError(KeyError):
    """The manifest has no such provider/model; calls to it are refused rather than unpriced."""


class ManifestRateLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    requests_per_minute: float | None = Field(default=None, gt=0)
    input_tokens_per_minute: float | None = Field(default=None, gt=0)
    output_tokens_per_minute: float | None = Field(default=None, gt=0)


class ModelSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str = Field(min_length=1)
    model: str = Field(min_length=1)
    default: bool = False
    input_per_mtok: Decimal = Field(ge=0)
    output_per_mtok: Decimal = Field(ge=0)
    cache_read_per_mtok: Decimal = Field(default=Decimal(0), ge=0)
    cache_write_per_mtok: Decimal = Field(default=Decimal(0), ge=0)
    context_window: int = Field(gt=0)
    default_max_tokens: int = Field(gt=0)
    rate_limits: ManifestRateLimits = ManifestRateLimits()

    @property
    def key(self) -> LimitKey:
        return (self.provider, self.model)

    def limits(self) -> RateLimits:
        return RateLimits(
            requests_per_minute=self.rate_limits.requests_per_minute,
            input_tokens_per_minute=self.rate_limits.input_tokens_per_minute,
            output_tokens_per_minute=self.rate_limits.output_tokens_per_minute,
        )


def call_cost(spec: ModelSpec, usage: TokenUsage) -> Decimal:
    """USD cost of one call's usage at the spec's prices."""
    uncached = max(0, usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens)
    micro_usd = (
        uncached * spec.input_per_mtok
        + usage.cached_tokens * spec.cache_read_per_mtok
        + usage.cache_write_tokens * spec.cache_write_per_mtok
        + usage.output_tokens * spec.output_per_mtok
    )
    return (micro_usd / _PER_MILLION).quantize(COST_QUANTUM, rounding=ROUND_HALF_EVEN)


class ModelManifest:
    def __init__(self, specs: Sequence[ModelSpec]) -> None:
        self._specs: dict[LimitKey, ModelSpec] = {}
        self._defaults: dict[str, ModelSpec] = {}
        for spec in specs:
            if spec.key in self._specs:
                raise ValueError(f"model listed twice: {spec.provider}/{spec.model}")
            self._specs[spec.key] = spec
            if spec.default:
                if spec.provider in self._defaults:
                    raise ValueError(f"two default models for {spec.provider}")
                self._defaults[spec.provider] = spec
        for provider in {spec.provider for spec in specs} - self._defaults.keys():
            raise ValueError(f"no default model for {provider}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ModelManifest:
        entries = data.get("models")
        if not isinstance(entries, list):
            raise ValueError("manifest needs a `models` list")
        return cls([ModelSpec.model_validate(entry) for entry in entries])

    @classmethod
    def load(cls, path: Path | None = None) -> ModelManifest:
        """The given YAML file, else the manifest shipped with the package."""
        if path is not None:
            text = path.read_text(encoding="utf-8")
        else:
            text = (
                resources.files("llm_provider")
                .joinpath("model_manifest.yaml")
                .read_text(encoding="utf-8")
            )
        data = yaml.safe_load(text)
        if not isinstance(data, Mapping):
            raise ValueError("manifest must be a YAML mapping")
        return cls.from_mapping(data)

    @property
    def specs(self) -> list[ModelSpec]:
        return list(self._specs.values())

    def providers(self) -> set[str]:
        return set(self._defaults)

    def get(self, provider: str, model: str) -> ModelSpec:
        spec = self._specs.get((provider, model))
        if spec is None:
            raise UnknownModelError(f"{provider}/{model} is not in the model manifest")
        return spec

    def default_for(self, provider: str) -> ModelSpec:
        spec = self._defaults.get(provider)
        if spec is None:
            raise UnknownModelError(f"provider {provider!r} is not in the model manifest")
        return spec

    def resolve(self, provider: str, model: str | None = None) -> ModelSpec:
        """The requested model, or the provider's default when none is named."""
        return self.get(provider, model) if model else self.default_for(provider)

    def rate_limits(self) -> dict[LimitKey, RateLimits]:
        return {spec.key: spec.limits() for spec in self._specs.values()}


@dataclass(frozen=True)
class RequestCost:
    """What one comparison request cost, across all its attempts."""

    request_id: UUID
    batch_id: UUID
    provider: str
    model: str
    usage: TokenUsage
    cost_usd: Decimal

    @classmethod
    def of(
        cls, *, request_id: UUID, batch_id: UUID, spec: ModelSpec, usage: TokenUsage
    ) -> RequestCost:
        return cls(request_id, batch_id, spec.provider, spec.model, usage, call_cost(spec, usage))


@dataclass(frozen=True)
class BatchCost:
    """Running total of a batch; adding a request already counted changes nothing."""

    batch_id: UUID
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost_usd: Decimal = Decimal(0)
    request_ids: frozenset[UUID] = field(default_factory=frozenset)
    cost_by_model: Mapping[LimitKey, Decimal] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.request_ids)

    def add(self, entry: RequestCost) -> BatchCost:
        if entry.batch_id != self.batch_id:
            raise ValueError(f"request {entry.request_id} belongs to batch {entry.batch_id}")
        if entry.request_id in self.request_ids:
            return self
        key = (entry.provider, entry.model)
        by_model = dict(self.cost_by_model)
        by_model[key] = by_model.get(key, Decimal(0)) + entry.cost_usd
        return BatchCost(
            batch_id=self.batch_id,
            usage=self.usage + entry.usage,
            cost_usd=self.cost_usd + entry.cost_usd,
            request_ids=self.request_ids | {entry.request_id},
            cost_by_model=by_model,
        )

    @classmethod
    def of(cls, batch_id: UUID, entries: Iterable[RequestCost]) -> BatchCost:
        total = cls(batch_id)
        for entry in entries:
            total = total.add(entry)
        return total
