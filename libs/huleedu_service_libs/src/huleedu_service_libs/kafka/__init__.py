"""Kafka access: topic naming, the producer, the consumer loop and dead-lettering."""
