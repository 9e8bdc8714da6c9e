"""Reading a topic to its end (`dlq list`, `dlq replay`, `eval --from-feedback`): every message of every
assigned partition comes back, empty partitions included, even when the broker is slow to answer the
first fetch. Reading until a second passed without a message, `ragstream dlq list` once printed no dead
letters while a busy durable broker took longer than that to answer."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from services.ops import READ_TO_END, drain

pytestmark = pytest.mark.integration


def slow_consumer(bootstrap: str) -> Consumer:
    """The broker holds each fetch until its wait is over (far more bytes asked for than there are):
    answers come 1.5 s apart, longer than the 1 s without news that used to end the read."""
    return Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex[:8]}"}
        | READ_TO_END
        | {"fetch.wait.max.ms": 1500, "fetch.min.bytes": 10_000_000}
    )


def test_a_slow_first_answer_is_waited_for_and_every_partition_is_read(kafka_bootstrap: str) -> None:
    full, empty = f"read-{uuid.uuid4().hex[:8]}", f"read-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics([NewTopic(full, 3, 1), NewTopic(empty, 2, 1)]).values():
        future.result()
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for k in range(30):
        producer.produce(full, key=f"k{k}".encode(), value=f"v{k}".encode())
    assert producer.flush(15) == 0
    consumer = slow_consumer(kafka_bootstrap)
    try:
        consumer.assign(
            [TopicPartition(full, p, 0) for p in range(3)] + [TopicPartition(empty, p, 0) for p in range(2)]
        )
        read = drain(consumer)
    finally:
        consumer.close()
    assert sorted(m.value() for m in read) == sorted(f"v{k}".encode() for k in range(30))


def test_a_read_that_cannot_reach_the_end_in_time_says_so(kafka_bootstrap: str) -> None:
    """Out of time, the reader names the partitions it did not finish instead of passing a short list
    off as the whole topic."""
    topic = f"read-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics([NewTopic(topic, 2, 1)]).values():
        future.result()
    consumer = slow_consumer(kafka_bootstrap)
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(2)])
        with pytest.raises(TimeoutError, match=rf"{topic}\[0\], {topic}\[1\] did not reach their end"):
            drain(consumer, timeout_s=0.3)
    finally:
        consumer.close()
