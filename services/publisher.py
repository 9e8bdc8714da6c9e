"""Publishing documents (claim check: bytes to the blob store, a small record to docs.ingest) and
waiting until each is indexed or dead-lettered. Used by ``ragstream publish`` and the tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

import topics
from services import roles
from services.common import ids, kafka_conf
from services.common.codec import Codec
from services.common.messages import DocumentIndexed, DocumentSubmitted
from services.common.renewal import RENEWALS, needs_new_producer
from services.common.stage import header_map
from services.stores.ports import BlobStore
from topics import TopicNames

log = structlog.get_logger("ragstream.publisher")


@dataclass(frozen=True, slots=True)
class Submission:
    path: str
    doc_id: str
    version: str
    operation: str
    size_bytes: int


@dataclass(slots=True)
class Outcome:
    submission: Submission
    status: str = "pending"  # pending | indexed | deleted | failed
    chunks: int = 0
    stage: str = ""
    reason: str = ""
    error: str = ""
    seconds: float = 0.0


def source_uri(path: Path) -> str:
    return path.resolve().as_uri()


class DocumentPublisher:
    def __init__(self, bootstrap: str, names: TopicNames, codec: Codec, blobs: BlobStore) -> None:
        self.names = names
        self.codec = codec
        self.blobs = blobs
        self._config = kafka_conf.client(bootstrap) | {
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
        }
        self._producer = Producer(self._config)
        self._errors: list[str] = []
        self._fenced = False  # the broker no longer accepts this producer: the next flush replaces it

    def _produce(self, record: DocumentSubmitted) -> None:
        topic = self.names(topics.INGEST)

        def delivered(err: KafkaError | None, _msg: object) -> None:
            if err is not None:
                self._errors.append(str(err))
                self._fenced |= needs_new_producer(KafkaException(err))

        self._producer.produce(
            topic, self.codec.encode(record, topic), key=record.doc_id.encode(), on_delivery=delivered
        )
        self._producer.poll(0)

    async def upsert(
        self, path: Path, tenant: str, uri: str | None = None, filename: str | None = None
    ) -> Submission:
        """Store the file's bytes, then announce it (``uri``: its identity, default the file's URI;
        ``filename``: what its type is judged by, default the path's name)."""
        blob_uri, sha, size = await self.blobs.put_file(str(path))
        uri = uri or source_uri(path)
        record = DocumentSubmitted(
            tenant=tenant,
            doc_id=ids.doc_id(tenant, uri),
            source_uri=uri,
            filename=filename or path.name,
            operation="UPSERT",
            blob_uri=blob_uri,
            sha256=sha,
            size_bytes=size,
            submitted_at=datetime.now(UTC),
        )
        self._produce(record)
        return Submission(str(path), record.doc_id, sha, "UPSERT", size)

    def delete(self, uri: str, tenant: str) -> Submission:
        record = DocumentSubmitted(
            tenant=tenant,
            doc_id=ids.doc_id(tenant, uri),
            source_uri=uri,
            filename=uri.rsplit("/", 1)[-1],
            operation="DELETE",
            submitted_at=datetime.now(UTC),
        )
        self._produce(record)
        return Submission(uri, record.doc_id, "", "DELETE", 0)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait for every record sent so far; raise if any could not be delivered (once: a publisher
        that lives long, as the API's does, is not poisoned by an earlier failure)."""
        remaining = self._producer.flush(timeout_s)
        errors, self._errors = self._errors, []
        if self._fenced:  # what failed is reported below; what is sent next goes on a new producer
            self._producer, self._fenced = Producer(self._config), False
            RENEWALS.labels("publisher").inc()
            log.error("producer replaced: the broker no longer accepts it", error=errors[:1])
        if remaining or errors:
            raise RuntimeError(f"{remaining} message(s) undelivered; errors: {errors[:3]}")


@dataclass(frozen=True, slots=True)
class Resolution:
    """What docs.indexed or a dead-letter topic says about one document."""

    doc_id: str
    status: str  # indexed | deleted | failed
    operation: str = ""
    version: str = ""
    chunks: int = 0
    stage: str = ""
    reason: str = ""
    error: str = ""

    def settles(self, sub: Submission) -> bool:
        """A failure settles any submission of the document; an announcement only its own version."""
        if self.status == "failed":
            return True
        return self.operation == sub.operation and (sub.operation != "UPSERT" or self.version == sub.version)

    def fill(self, outcome: Outcome, seconds: float) -> None:
        outcome.status, outcome.chunks, outcome.seconds = self.status, self.chunks, seconds
        outcome.stage, outcome.reason, outcome.error = self.stage, self.reason, self.error


# Every topic a pipeline stage consumes: a document that fails anywhere ends in one of their DLQs.
WATCHED_DLQS = tuple(dict.fromkeys(spec for name in roles.STAGES for spec in roles.BY_NAME[name].consumes))


class OutcomeWatcher:
    """Reads docs.indexed and the dead-letter topics from their current ends (no consumer group:
    watching must not move anyone's offsets) and resolves submissions as events arrive."""

    def __init__(self, bootstrap: str, names: TopicNames, codec: Codec) -> None:
        self.names = names
        self.codec = codec
        self._since = datetime.now(UTC).isoformat()
        self._consumer = Consumer(
            kafka_conf.client(bootstrap) | {"group.id": "ragstream-watch", "enable.auto.commit": False}
        )
        assignments = []
        watched = [names(topics.INDEXED), *(names.dlq(spec) for spec in WATCHED_DLQS)]
        metadata = self._consumer.list_topics(timeout=10).topics
        for topic in watched:
            for partition in metadata[topic].partitions:
                _, high = self._consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                # Tansu reports the last batch's base offset + 1 as "high": we may re-read a few
                # older events, which never match a new submission's version. Still correct on Kafka.
                assignments.append(TopicPartition(topic, partition, max(high - 64, 0)))
        self._consumer.assign(assignments)

    def _resolution(self, msg: Message) -> Resolution | None:
        topic, key = msg.topic() or "", (msg.key() or b"").decode()
        if topic == self.names(topics.INDEXED):
            event = self.codec.decode(msg.value() or b"", DocumentIndexed, topic)
            status = "deleted" if event.operation == "DELETE" else "indexed"
            return Resolution(key, status, event.operation, event.version, event.chunk_count)
        headers = header_map(msg)
        if headers.get("x-dlq-failed-at", "") < self._since:
            return None  # an older failure of the same document
        return Resolution(
            key,
            "failed",
            stage=headers.get("x-dlq-stage", ""),
            reason=headers.get("x-dlq-reason", ""),
            error=headers.get("x-dlq-error", ""),
        )

    def read(self, timeout_s: float = 0.25) -> list[Resolution]:
        """What arrived since the last read (blocks up to ``timeout_s`` when nothing has)."""
        found = []
        for msg in self._consumer.consume(500, timeout_s):
            if not msg.error() and (resolution := self._resolution(msg)) is not None:
                found.append(resolution)
        return found

    async def wait(
        self,
        submissions: Iterable[Submission],
        timeout_s: float,
        on_done: Callable[[Outcome], None] | None = None,
        stop_after: int | None = None,
    ) -> list[Outcome]:
        """Resolve each submission (indexed, deleted, failed) or mark it timeout. ``stop_after``
        returns early once that many are resolved (the rest stay pending)."""
        outcomes = [Outcome(s) for s in submissions]
        pending = {o.submission.doc_id: o for o in outcomes}
        started = time.monotonic()
        deadline = started + timeout_s
        resolved = 0
        while pending and time.monotonic() < deadline and (stop_after is None or resolved < stop_after):
            for resolution in await asyncio.to_thread(self.read, 0.25):
                outcome = pending.get(resolution.doc_id)
                if outcome is None or not resolution.settles(outcome.submission):
                    continue
                resolution.fill(outcome, time.monotonic() - started)
                resolved += 1
                pending.pop(resolution.doc_id, None)
                if on_done:
                    on_done(outcome)
                if stop_after is not None and resolved >= stop_after:
                    break
        if stop_after is None or resolved < stop_after:
            for outcome in pending.values():
                outcome.status = "timeout"
        return outcomes

    def close(self) -> None:
        self._consumer.close()


def chunked(items: list[Path], size: int) -> Iterator[list[Path]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
