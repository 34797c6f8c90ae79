"""Topic names as deployed: the registry's name with the run's prefix."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

DEAD_LETTER_SUFFIX = ".dlt"


class TopicNamer:
    """Applies the deployment prefix (empty in production, per run in tests)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def topic(self, logical: str) -> str:
        return f"{self.prefix}{logical}"

    def dead_letter(self, logical: str) -> str:
        return f"{self.prefix}{logical}{DEAD_LETTER_SUFFIX}"

    def group(self, consumer_name: str) -> str:
        """Consumer groups are isolated like topics: runs sharing a broker never share one."""
        return f"{self.prefix}{consumer_name}"


async def ensure_topics(
    bootstrap_servers: str, topics: Iterable[str], *, partitions: int = 3
) -> None:
    """Create topics that do not exist yet; existing ones are left as they are."""
    wanted = sorted(set(topics))
    if not wanted:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing]
                )
    finally:
        await admin.close()
