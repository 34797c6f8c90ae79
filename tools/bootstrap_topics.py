"""Create every topic of the event registry, and its dead-letter topic, on a Kafka cluster.

The one-shot `kafka-topics` step of docker-compose.infrastructure.yml runs this before any
service starts, so Apache Kafka can run with `auto.create.topics.enable=false`: a topic that
is not in `common_core.events.REGISTRY` never exists by accident. Connection settings come
from the same environment variables the services read (KAFKA_BOOTSTRAP_SERVERS,
KAFKA_TOPIC_PREFIX, KAFKA_PARTITIONS). Topics that already exist are left as they are, so
running it again is safe.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from common_core.events import REGISTRY
from common_core.events.registry import EventRegistry
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics
from huleedu_service_libs.settings import ServiceSettings


def registry_topics(registry: EventRegistry, namer: TopicNamer) -> list[str]:
    """Every event topic of `registry` and its dead-letter twin, as deployed under `namer`."""
    topics = {namer.topic(spec.topic) for spec in registry}
    topics |= {namer.dead_letter(spec.topic) for spec in registry}
    return sorted(topics)


async def bootstrap(settings: ServiceSettings, registry: EventRegistry = REGISTRY) -> list[str]:
    """Ensure the registry's topics exist on `settings`' cluster; returns the topic names."""
    topics = registry_topics(registry, TopicNamer(settings.kafka_topic_prefix))
    await ensure_topics(
        settings.kafka_bootstrap_servers, topics, partitions=settings.kafka_partitions
    )
    return topics


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--list", action="store_true", help="print the topic names without contacting Kafka"
    )
    args = parser.parse_args(argv)
    settings = ServiceSettings(service_name="bootstrap_topics")
    if args.list:
        topics = registry_topics(REGISTRY, TopicNamer(settings.kafka_topic_prefix))
    else:
        topics = asyncio.run(bootstrap(settings))
    for topic in topics:
        print(topic)
    return 0


if __name__ == "__main__":
    sys.exit(main())
