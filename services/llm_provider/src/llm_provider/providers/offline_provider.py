"""The offline judge behind the Provider protocol: no network, no cost, deterministic.

Token counts are estimated from the prompt the real providers would send, so the limiter, the
ledger and the metrics behave the same with the offline provider as with a real one.
"""

from __future__ import annotations

import asyncio

from llm_provider.domain.offline_judge import OfflineJudge
from llm_provider.domain.token_estimate import estimate_tokens
from llm_provider.providers.base import ComparisonCall, ProviderResponse
from llm_provider.providers.judgement_format import (
    WINNER_LABELS,
    essays_message,
    instruction_block,
)

PROVIDER_NAME = "offline"


class OfflineProvider:
    def __init__(self, judge: OfflineJudge | None = None) -> None:
        self._judge = judge or OfflineJudge()

    @property
    def name(self) -> str:
        return PROVIDER_NAME

    async def aclose(self) -> None:
        return None

    async def compare(self, call: ComparisonCall) -> ProviderResponse:
        noise_key = f"{call.request_id}|{call.essay_a_id}|{call.essay_b_id}"
        if call.request_id is None and call.essay_a_id is None and call.essay_b_id is None:
            noise_key = ""  # the judge then seeds from the texts
        judgement = self._judge.judge(call.essay_a_text, call.essay_b_text, noise_key=noise_key)
        await asyncio.sleep(0)  # a provider call is a suspension point; keep that true here
        prompt_text = instruction_block(call.prompt) + essays_message(
            call.essay_a_text, call.essay_b_text
        )
        answer = (
            f'{{"winner": "{WINNER_LABELS[judgement.winner]}", '
            f'"justification": "{judgement.justification}", '
            f'"confidence": {judgement.confidence}}}'
        )
        return ProviderResponse(
            winner=judgement.winner,
            justification=judgement.justification,
            confidence=judgement.confidence,
            input_tokens=estimate_tokens(prompt_text),
            output_tokens=min(call.max_tokens, estimate_tokens(answer)),
            cached_tokens=0,
            model=call.model,
            headers={},
            stop_reason="end_turn",
        )
