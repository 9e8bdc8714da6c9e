"""After a reindex the generation searches read has topics of its own (``<prefix>v2.docs.embedded``)
and so dead letters of its own: `ragstream dlq` lists and replays those, on the real broker. The
first form read the first generation's names only: a poisoned chunk of the live index was never
seen, nor replayed."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

import topics
from services import ops
from services.catchup import generation_names, serving_names, write_live_label
from services.common.settings import Settings
from topics import TopicNames
from topics.admin import ensure_topics

pytestmark = pytest.mark.integration


@pytest.fixture
def bootstrap(kafka_bootstrap: str) -> str:
    return kafka_bootstrap


def records_on(bootstrap: str, topic: str) -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex})
    consumer.assign([TopicPartition(topic, 0, 0)])
    found = [m.value() or b"" for m in consumer.consume(10, 5) if not m.error()]
    consumer.close()
    return found


def test_the_live_generations_dead_letters_are_listed_and_replayed(bootstrap: str, tmp_path: Path) -> None:
    names = TopicNames(prefix=f"gd{uuid.uuid4().hex[:8]}.")
    live = generation_names(names, "v2")
    ensure_topics(bootstrap, live, partitions=1)
    dlq = live.dlq(topics.EMBEDDED)
    producer = Producer({"bootstrap.servers": bootstrap})
    reason = [("x-dlq-reason", b"index-model-mismatch")]
    producer.produce(dlq, b"a poisoned chunk", key=b"doc-1", headers=reason)
    assert producer.flush(30) == 0
    settings = Settings(home=tmp_path)
    write_live_label(settings, "v2")  # what a reindex records when it swaps generation v2 in

    assert [d.dlq_topic for d in ops.dead_letters(bootstrap, names)] == []  # the first form's view
    serving = serving_names(settings, names)
    [letter] = ops.dead_letters(bootstrap, serving)
    assert (letter.dlq_topic, letter.key, letter.reason) == (dlq, "doc-1", "index-model-mismatch")
    assert [d.dlq_topic for d in ops.replay(bootstrap, serving)] == [dlq]
    assert records_on(bootstrap, live(topics.EMBEDDED)) == [b"a poisoned chunk"]
    assert [d.replayed for d in ops.dead_letters(bootstrap, serving)] == [True]
