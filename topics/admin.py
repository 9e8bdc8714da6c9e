"""Create and verify the registry's topics on the broker at start-up."""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

from services.common import kafka_conf
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
    admin = AdminClient(kafka_conf.client(bootstrap))
    existing = admin.list_topics(timeout=timeout_s).topics
    configs = names.configs(specs)
    wanted = list(configs)
    missing = [n for n in wanted if n not in existing]
    if missing:
        futures = admin.create_topics(
            [NewTopic(n, partitions, replication_factor, config=configs[n]) for n in missing],
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
    _keep_configs(admin, {n: c for n, c in configs.items() if c and n not in missing}, timeout_s)
    return missing


def _keep_configs(admin: AdminClient, configs: dict[str, dict[str, str]], timeout_s: float) -> None:
    """Existing topics get the configs the registry requires (e.g. created by hand, or by an older
    version, with the broker's default retention): a replay source must not shrink silently."""
    if not configs:
        return
    described = admin.describe_configs([ConfigResource("topic", n) for n in configs])
    changes = []
    for resource, future in described.items():
        have = {k: v.value for k, v in future.result(timeout=timeout_s).items()}
        need = configs[resource.name]
        wrong = [
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
            for k, v in need.items()
            if have.get(k) != v
        ]
        if wrong:
            changes.append(ConfigResource("topic", resource.name, incremental_configs=wrong))
    if not changes:
        return
    for resource, future in admin.incremental_alter_configs(changes).items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            raise TopicSetupError(f"cannot set the required configs of topic {resource.name}: {exc}") from exc
