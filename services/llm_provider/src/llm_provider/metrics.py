"""llm_provider's Prometheus metrics (HTTP and consumer metrics come from the shared libs)."""

from __future__ import annotations

from huleedu_service_libs import metrics

QUEUE_DEPTH = metrics.gauge("huleedu_llm_queue_depth", "Request ids waiting in the Redis queue.")
QUEUE_OLDEST_AGE = metrics.gauge(
    "huleedu_llm_queue_oldest_age_seconds", "Age of the oldest request in state queued."
)
IN_FLIGHT = metrics.gauge("huleedu_llm_in_flight", "Requests this process is working on.")
REQUESTS_ACCEPTED = metrics.counter(
    "huleedu_llm_requests_accepted_total",
    "New comparison requests stored, by entry point.",
    ("via",),
)
CALLBACKS = metrics.counter(
    "huleedu_llm_callbacks_total",
    "Callbacks written to the outbox, by outcome and error code (`none` for verdicts).",
    ("outcome", "code"),
)
PROVIDER_CALLS = metrics.counter(
    "huleedu_llm_provider_calls_total",
    "Comparisons sent through the caller (all attempts of one request count once).",
    ("provider", "model"),
)
RATE_LIMIT_WAIT = metrics.counter(
    "huleedu_llm_rate_limit_wait_seconds_total",
    "Time spent waiting for rate-limit capacity.",
    ("provider", "model"),
)
RETRIES = metrics.counter(
    "huleedu_llm_retries_total", "Provider attempts retried, by reason.", ("provider", "reason")
)
BREAKER_STATE = metrics.gauge(
    "huleedu_llm_breaker_state", "Circuit breaker: 0 closed, 1 half open, 2 open.", ("provider",)
)
TOKENS = metrics.counter(
    "huleedu_llm_tokens_total",
    "Tokens billed, by kind (input/output/cached).",
    ("provider", "kind"),
)
COST = metrics.counter("huleedu_llm_cost_usd_total", "Cost of answered requests.", ("provider",))
LEASES_REQUEUED = metrics.counter(
    "huleedu_llm_leases_requeued_total", "In-flight requests requeued after their lease expired."
)
