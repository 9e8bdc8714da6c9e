"""Topic set-up on the real broker: the replay source (docs.chunks) and every dead-letter topic are
created with time and size retention off, and an existing one with the broker's default retention
(made by hand or by an older version) is corrected, so a reindex can always rebuild everything."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # type: ignore[attr-defined]

import topics
from topics import TopicNames
from topics.admin import ensure_topics

pytestmark = pytest.mark.integration


def retention(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    [future] = admin.describe_configs([ConfigResource("topic", topic)]).values()
    return {k: v.value for k, v in future.result().items() if k in ("retention.ms", "retention.bytes")}


def test_the_replay_source_and_dead_letters_are_kept_forever(kafka_bootstrap: str, names: TopicNames) -> None:
    """Created by ensure_topics: docs.chunks and a DLQ keep everything; docs.parsed keeps the default."""
    ensure_topics(kafka_bootstrap, names, 2, 1, topics.INGESTION)
    forever = {"retention.ms": "-1", "retention.bytes": "-1"}
    assert retention(kafka_bootstrap, names(topics.CHUNKS)) == forever
    assert retention(kafka_bootstrap, names.dlq(topics.INGEST)) == forever
    assert retention(kafka_bootstrap, names(topics.PARSED)).get("retention.ms") != "-1"


def test_an_existing_chunk_topic_with_default_retention_is_corrected(
    kafka_bootstrap: str, names: TopicNames
) -> None:
    """A docs.chunks made without the registry's configs gets them at the next start."""
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics(
        [NewTopic(names(topics.CHUNKS), 2, 1, config={"retention.ms": "604800000"})]
    ).values():
        future.result()
    assert retention(kafka_bootstrap, names(topics.CHUNKS))["retention.ms"] == "604800000"
    ensure_topics(kafka_bootstrap, names, 2, 1, topics.INGESTION)
    assert retention(kafka_bootstrap, names(topics.CHUNKS)) == {"retention.ms": "-1", "retention.bytes": "-1"}
