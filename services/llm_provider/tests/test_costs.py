from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest
from llm_provider.domain.costs import (
    BatchCost,
    ModelManifest,
    RequestCost,
    UnknownModelError,
    call_cost,
)
from llm_provider.domain.provider_errors import TokenUsage
from llm_provider.domain.rate_limit import RateLimits
from pydantic import ValidationError


def _entry(model: str = "x", **prices: str) -> dict[str, object]:
    return {
        "provider": "p",
        "model": model,
        "default": True,
        "input_per_mtok": "3.00",
        "output_per_mtok": "15.00",
        "cache_read_per_mtok": "0.30",
        "cache_write_per_mtok": "3.75",
        "context_window": 200000,
        "default_max_tokens": 512,
        **prices,
    }


def test_the_shipped_manifest_loads_with_a_default_per_provider() -> None:
    manifest = ModelManifest.load()
    assert {"offline", "anthropic", "openai"} <= manifest.providers()
    for provider in manifest.providers():
        spec = manifest.default_for(provider)
        assert spec.default_max_tokens > 0
        assert manifest.resolve(provider) == spec
        assert manifest.resolve(provider, spec.model) == spec
    haiku = manifest.get("anthropic", "claude-haiku-4-5")
    assert manifest.rate_limits()[("anthropic", "claude-haiku-4-5")] == RateLimits(
        requests_per_minute=haiku.rate_limits.requests_per_minute,
        input_tokens_per_minute=haiku.rate_limits.input_tokens_per_minute,
        output_tokens_per_minute=haiku.rate_limits.output_tokens_per_minute,
    )


def test_a_manifest_file_can_be_given(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text(
        "models:\n"
        "  - {provider: p, model: m, default: true, input_per_mtok: '1', output_per_mtok: '2',\n"
        "     context_window: 1000, default_max_tokens: 100,\n"
        "     rate_limits: {requests_per_minute: 5}}\n"
    )
    spec = ModelManifest.load(path).resolve("p")
    assert spec.model == "m"
    assert spec.limits() == RateLimits(requests_per_minute=5)


def test_unknown_models_are_refused() -> None:
    manifest = ModelManifest.load()
    with pytest.raises(UnknownModelError):
        manifest.get("anthropic", "no-such-model")
    with pytest.raises(UnknownModelError):
        manifest.resolve("no-such-provider")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([_entry("a"), _entry("a")], "listed twice"),
        ([_entry("a"), _entry("b")], "two default"),
        ([{**_entry("a"), "default": False}], "no default"),
    ],
)
def test_inconsistent_manifests_are_rejected(
    entries: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ModelManifest.from_mapping({"models": entries})


def test_negative_prices_are_rejected() -> None:
    with pytest.raises(ValidationError):
        ModelManifest.from_mapping({"models": [_entry(input_per_mtok="-1")]})


def test_cost_prices_uncached_cached_written_and_output_tokens_separately() -> None:
    spec = ModelManifest.from_mapping({"models": [_entry()]}).resolve("p")
    usage = TokenUsage(
        input_tokens=10_000, output_tokens=500, cached_tokens=6_000, cache_write_tokens=1_000
    )
    # 3000 uncached * 3 + 6000 * 0.30 + 1000 * 3.75 + 500 * 15, per million
    expected = (
        Decimal(3000 * 3) + Decimal(6000) * Decimal("0.30") + Decimal(3750) + Decimal(7500)
    ) / Decimal(1_000_000)
    assert call_cost(spec, usage) == expected
    assert call_cost(spec, usage) == Decimal("0.02205")
    assert call_cost(spec, TokenUsage()) == 0


def test_caching_makes_the_same_prompt_cheaper() -> None:
    spec = ModelManifest.load().get("anthropic", "claude-sonnet-4-5")
    cold = call_cost(spec, TokenUsage(input_tokens=5000, output_tokens=100))
    warm = call_cost(spec, TokenUsage(input_tokens=5000, output_tokens=100, cached_tokens=4000))
    assert warm < cold


def test_batch_ledger_totals_and_counts_each_request_once() -> None:
    spec = ModelManifest.load().get("anthropic", "claude-haiku-4-5")
    batch_id = uuid4()
    first = RequestCost.of(
        request_id=uuid4(), batch_id=batch_id, spec=spec, usage=TokenUsage(1000, 100, 200)
    )
    second = RequestCost.of(
        request_id=uuid4(), batch_id=batch_id, spec=spec, usage=TokenUsage(2000, 50)
    )
    total = BatchCost.of(batch_id, [first, second, first])
    assert total.requests == 2
    assert total.cost_usd == first.cost_usd + second.cost_usd
    assert total.usage == TokenUsage(3000, 150, 200)
    assert total.cost_by_model == {spec.key: total.cost_usd}
    assert total.add(second) is total


def test_batch_ledger_refuses_another_batch() -> None:
    spec = ModelManifest.load().resolve("offline")
    entry = RequestCost.of(request_id=uuid4(), batch_id=uuid4(), spec=spec, usage=TokenUsage())
    with pytest.raises(ValueError, match="belongs to batch"):
        BatchCost(uuid4()).add(entry)
