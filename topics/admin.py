"""Create and verify the registry's topics on the broker at start-up."""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from topics import ALL, TopicNames, TopicSpec


class TopicSetupError(RuntimeError):
    pass


def ensure_topics(
    bootstrap: str,
    names: TopicNames,
    partitions: int,
    replication_factor: int = 1,
    specs: tuple[TopicSpec, ...] = ALL,
    timeout_s: float = 15.0,
) -> list[str]:
    """Create every missing topic (and its DLQ); verify existing ones have enough partitions.

    Returns the names created. Idempotent: safe to run from every service at start-up.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=timeout_s).topics
    wanted = names.all_names(specs)
    missing = [n for n in wanted if n not in existing]
    if missing:
        futures = admin.create_topics(
            [NewTopic(n, num_partitions=partitions, replication_factor=replication_factor) for n in missing],
            operation_timeout=timeout_s,
        )
        for name, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):  # another service won the race: fine
                    raise TopicSetupError(f"cannot create topic {name}: {exc}") from exc
    metadata = admin.list_topics(timeout=timeout_s).topics
    for name in wanted:
        topic = metadata.get(name)
        if topic is None:
            raise TopicSetupError(f"topic {name} is missing after creation")
        if not topic.partitions or topic.error is not None:
            raise TopicSetupError(f"topic {name} is not usable: {topic.error or 'no partitions'}")
    return missing
