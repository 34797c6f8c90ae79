"""Local infrastructure without Docker: Postgres, Redis and a Kafka-protocol broker.

Used by `make run`, by the test suite and by CI. It prefers what the environment names,
then servers on their default ports, then starts its own from Python wheels, and stops
only what it started.
"""

from huleedu_service_libs.local_infra.launcher import Endpoints, LocalInfra

__all__ = ["Endpoints", "LocalInfra"]
