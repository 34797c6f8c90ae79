"""api_gateway: the public /v1 API (JWT auth, ownership, per-teacher rate limits) in front of
the services that own the data."""
