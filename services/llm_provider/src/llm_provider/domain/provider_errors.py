"""One error type for every provider, so the retry loop and breaker never see SDK classes.

Each provider client translates its SDK's exceptions (or a bad answer) into a ProviderError
with a `kind`; everything downstream (retry decisions, breaker accounting, the ErrorCode in the
callback) is decided from the kind, the HTTP status, the response headers and body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class ProviderErrorKind(StrEnum):
    RATE_LIMITED = "rate_limited"  # 429: wait and retry
    QUOTA_EXHAUSTED = "quota_exhausted"  # 429 (or 402) saying the spend limit/credit is used up
    OVERLOADED = "overloaded"  # Anthropic 529
    SERVER_ERROR = "server_error"  # other 5xx
    TIMEOUT = "timeout"  # no answer within the client timeout
    CONNECTION = "connection"  # could not connect / connection dropped
    MALFORMED_RESPONSE = "malformed_response"  # HTTP 200 whose body is not the wire format
    AUTHENTICATION = "authentication"  # 401 / 403
    CLIENT_ERROR = "client_error"  # any other 4xx: our request is wrong
    INVALID_OUTPUT = "invalid_output"  # the model answered outside the required structure
    REFUSAL = "refusal"  # the model declined to judge
    TRUNCATED = "truncated"  # stopped at max_tokens before the judgement was complete
    CIRCUIT_OPEN = "circuit_open"  # we did not call: the provider's breaker is open


@dataclass(frozen=True)
class TokenUsage:
    """Tokens billed for one call. `input_tokens` counts every prompt token, cached included."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
        )

    @property
    def rate_limited_input_tokens(self) -> int:
        """Input tokens that count against an input-tokens/min limit (cache reads do not)."""
        return max(0, self.input_tokens - self.cached_tokens)


class ProviderError(Exception):
    """A failed provider call, described well enough to decide what to do next."""

    def __init__(
        self,
        kind: ProviderErrorKind,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
        body: object | None = None,
        usage: TokenUsage | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.headers: dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}
        self.body = body
        self.usage = usage  # set when the provider billed the call (refusal, truncation, ...)

    def __repr__(self) -> str:
        return f"ProviderError({self.kind.value!r}, {self.message!r}, status={self.status_code})"


_QUOTA_CODES = frozenset({"insufficient_quota", "billing_error", "billing_hard_limit_reached"})
_QUOTA_WORDING = re.compile(
    r"quota|credit balance|billing|(spend|spending|usage) limit", flags=re.IGNORECASE
)


def _error_object(body: object) -> Mapping[str, object]:
    """The `error` object of either wire format (Anthropic nests it, the OpenAI SDK unwraps it)."""
    if not isinstance(body, Mapping):
        return {}
    inner = body.get("error")
    if isinstance(inner, Mapping):
        return inner
    return body


def is_spend_limit_exhausted(body: object) -> bool:
    """True when an error body says the account's money, not its rate, has run out.

    OpenAI marks it with `code`/`type` `insufficient_quota`; Anthropic with a `billing_error`
    type or a message about usage/spend limits or the credit balance.
    """
    error = _error_object(body)
    for field in ("code", "type"):
        value = error.get(field)
        if isinstance(value, str) and value in _QUOTA_CODES:
            return True
    message = error.get("message")
    return isinstance(message, str) and bool(_QUOTA_WORDING.search(message))


def kind_from_status(status_code: int, body: object) -> ProviderErrorKind:
    """Map an HTTP error status (and, for 429/402, its body) to a ProviderErrorKind."""
    if status_code == 429:
        if is_spend_limit_exhausted(body):
            return ProviderErrorKind.QUOTA_EXHAUSTED
        return ProviderErrorKind.RATE_LIMITED
    if status_code == 402:
        return ProviderErrorKind.QUOTA_EXHAUSTED
    if status_code == 529:
        return ProviderErrorKind.OVERLOADED
    if status_code >= 500:
        return ProviderErrorKind.SERVER_ERROR
    if status_code == 408:
        return ProviderErrorKind.TIMEOUT
    if status_code in (401, 403):
        return ProviderErrorKind.AUTHENTICATION
    return ProviderErrorKind.CLIENT_ERROR
