"""Operator tools: per-stage backlog, dead-letter listing and replay."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

import topics
from services import roles
from services.common import kafka_conf
from services.common.stage import DLQ_HEADER_PREFIX, consumer_group, header_map
from topics import TopicNames, TopicSpec

# Which role consumes which topic through its consumer group: the stages and the agent's steps.
CONSUMERS: dict[str, tuple[TopicSpec, ...]] = {r.name: r.consumes for r in roles.ROLES if r.kind != "edge"}
REPLAY_GROUP = "ragstream.dlq-replay"


@dataclass(slots=True)
class Backlog:
    stage: str
    topic: str
    end: int
    committed: int

    @property
    def lag(self) -> int:
        return max(self.end - self.committed, 0)


def _end_offsets(
    consumer: Consumer, topic: str, partitions: list[int], wait_s: float = 2.0
) -> dict[int, int]:
    """High watermarks taken from fetch responses.

    Tansu answers ListOffsets(latest) with the last batch's base offset + 1 (design.md §2), which
    reads low. A fetch response carries the true high watermark on Tansu and on Apache Kafka alike,
    so fetch once from just below the listed end and read the cached watermark.
    """
    listed = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    consumer.assign([TopicPartition(topic, p, max(listed[p] - 1, 0)) for p in partitions if listed[p] > 0])
    deadline = time.monotonic() + wait_s
    pending = {p for p in partitions if listed[p] > 0}
    while pending and time.monotonic() < deadline:
        for msg in consumer.consume(100, 0.1):
            pending.discard(_partition(msg))
    ends = {}
    for p in partitions:
        try:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), cached=True)
        except KafkaException:
            high = -1
        ends[p] = max(listed[p], high)
    consumer.unassign()
    return ends


def backlog(
    bootstrap: str, names: TopicNames, suffix: str = "", stages: tuple[str, ...] | None = None
) -> list[Backlog]:
    """Messages each stage has yet to commit, per input topic.

    On Tansu the end offset is the last batch's base offset + 1 (design.md §2), so this can read low
    by less than one producer batch; on Apache Kafka it is exact.
    """
    consumer = Consumer(
        kafka_conf.client(bootstrap) | {"group.id": "ragstream-status", "enable.auto.commit": False}
    )
    admin = AdminClient(kafka_conf.client(bootstrap))
    try:
        metadata = consumer.list_topics(timeout=10).topics
        rows = []
        for stage, specs in CONSUMERS.items():
            if stages is not None and stage not in stages:
                continue
            for spec in specs:
                group = consumer_group(names, stage, spec, suffix)
                topic = names(spec)
                if topic not in metadata:
                    continue
                parts = list(metadata[topic].partitions)
                ends = _end_offsets(consumer, topic, parts)
                request = [TopicPartition(topic, p) for p in parts]
                future = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, request)])
                try:
                    result = next(iter(future.values())).result()
                    committed = {tp.partition: max(tp.offset, 0) for tp in result.topic_partitions}
                except KafkaException:
                    committed = {}
                rows.append(
                    Backlog(stage, topic, sum(ends.values()), sum(committed.get(p, 0) for p in parts))
                )
        return rows
    finally:
        consumer.close()


@dataclass(slots=True)
class DeadLetter:
    dlq_topic: str
    partition: int
    offset: int
    key: str
    value: bytes
    headers: dict[str, str] = field(default_factory=dict)
    replayed: bool = False

    @property
    def reason(self) -> str:
        return self.headers.get(DLQ_HEADER_PREFIX + "reason", "")

    @property
    def stage(self) -> str:
        return self.headers.get(DLQ_HEADER_PREFIX + "stage", "")

    @property
    def error(self) -> str:
        return self.headers.get(DLQ_HEADER_PREFIX + "error", "")

    @property
    def source_topic(self) -> str:
        return self.headers.get(DLQ_HEADER_PREFIX + "topic", "")


# A reader's consumer settings for ``drain``: librdkafka reports the end of each partition it reaches.
READ_TO_END = {"enable.partition.eof": True, "enable.auto.commit": False}


def drain(consumer: Consumer, limit: int = 100_000, timeout_s: float = 60.0) -> list[Message]:
    """Every message of the consumer's assigned partitions, read to their ends. The consumer is made
    with ``READ_TO_END``: reading stops once each assigned partition has reported its end (Apache Kafka
    and both of Tansu's engines report it, empty partitions included). Partitions still unread after
    ``timeout_s`` raise ``TimeoutError``: a list that stops short must not pass for the whole topic.
    A quiet spell is not an end: reading until a second passed without a message,
    `ragstream dlq list` once printed no dead letters while a busy durable broker took longer than that
    to answer its first fetch, and read one partition of three when the next fetch was that slow."""
    partitions = {(tp.topic, tp.partition) for tp in consumer.assignment()}
    ended: set[tuple[str, int]] = set()
    out: list[Message] = []
    deadline = time.monotonic() + timeout_s
    while partitions - ended and len(out) < limit and time.monotonic() < deadline:
        for msg in consumer.consume(500, 0.2):
            error = msg.error()
            if error is None:
                out.append(msg)
            elif error.code() == KafkaError._PARTITION_EOF:
                ended.add((str(msg.topic()), _partition(msg)))
    unread = partitions - ended
    if unread and len(out) < limit:
        names = ", ".join(f"{t}[{p}]" for t, p in sorted(unread))
        raise TimeoutError(
            f"read {len(out)} messages, but {names} did not reach their end in {timeout_s:.0f} s"
        )
    return out


def _offset(msg: Message) -> int:
    return int(msg.offset() or 0)


def _partition(msg: Message) -> int:
    return int(msg.partition() or 0)


def _letter(msg: Message, replayed: bool) -> DeadLetter:
    key = msg.key() or b""
    return DeadLetter(
        str(msg.topic()),
        _partition(msg),
        _offset(msg),
        key.decode() if isinstance(key, bytes) else str(key),
        msg.value() or b"",
        header_map(msg),
        replayed,
    )


def _dlq_topics(names: TopicNames, spec: TopicSpec | None) -> list[str]:
    specs = [spec] if spec else [s for s in topics.ALL if s.dlq]
    return [names.dlq(s) for s in specs]


def dead_letters(bootstrap: str, names: TopicNames, spec: TopicSpec | None = None) -> list[DeadLetter]:
    """Every dead letter, with whether ``replay`` already sent it back."""
    consumer = Consumer(
        kafka_conf.client(bootstrap) | READ_TO_END | {"group.id": names.prefix + REPLAY_GROUP}
    )
    try:
        wanted = _dlq_topics(names, spec)
        metadata = consumer.list_topics(timeout=10).topics
        assignment = [
            TopicPartition(t, p, 0) for t in wanted if t in metadata for p in metadata[t].partitions
        ]
        committed = {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(assignment, timeout=10)}
        consumer.assign(assignment)
        letters = []
        for msg in drain(consumer):
            done = _offset(msg) < committed.get((str(msg.topic()), _partition(msg)), -1)
            letters.append(_letter(msg, replayed=done))
        return letters
    finally:
        consumer.close()


def replay(bootstrap: str, names: TopicNames, spec: TopicSpec | None = None) -> list[DeadLetter]:
    """Send every not-yet-replayed dead letter back to its source topic with its original headers,
    then commit the replay group's offsets so the next replay does not send them twice."""
    consumer = Consumer(
        kafka_conf.client(bootstrap)
        | READ_TO_END
        | {"group.id": names.prefix + REPLAY_GROUP, "auto.offset.reset": "earliest"}
    )
    producer = Producer(kafka_conf.client(bootstrap) | {"enable.idempotence": True, "acks": "all"})
    try:
        wanted = _dlq_topics(names, spec)
        metadata = consumer.list_topics(timeout=10).topics
        assignment = [TopicPartition(t, p) for t in wanted if t in metadata for p in metadata[t].partitions]
        starts = consumer.committed(assignment, timeout=10)
        consumer.assign([TopicPartition(tp.topic, tp.partition, max(tp.offset, 0)) for tp in starts])
        sent = []
        for msg in drain(consumer):
            letter = _letter(msg, replayed=True)
            original: list[tuple[str, str | bytes | None]] = [
                (k, v) for k, v in letter.headers.items() if not k.startswith(DLQ_HEADER_PREFIX)
            ]
            source = names(names.spec_of(letter.dlq_topic))
            producer.produce(source, letter.value, key=msg.key(), headers=list(original))
            sent.append(letter)
        if producer.flush(30):
            raise RuntimeError("replay: some messages were not delivered; nothing committed, run it again")
        if sent:
            last: dict[tuple[str, int], int] = {}
            for letter in sent:
                last[(letter.dlq_topic, letter.partition)] = letter.offset + 1
            consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in last.items()], asynchronous=False
            )
        return sent
    finally:
        consumer.close()
