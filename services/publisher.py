"""Publishing documents (claim check: bytes to the blob store, a small record to docs.ingest) and
waiting until each is indexed or dead-lettered. Used by ``ragstream publish`` and the tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

import topics
from services.common import ids
from services.common.codec import Codec
from services.common.messages import DocumentIndexed, DocumentSubmitted
from services.stores.ports import BlobStore
from topics import TopicNames


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
        self._producer = Producer(
            {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5}
        )
        self._errors: list[str] = []

    def _produce(self, record: DocumentSubmitted) -> None:
        topic = self.names(topics.INGEST)

        def delivered(err: object, _msg: object) -> None:
            if err is not None:
                self._errors.append(str(err))

        self._producer.produce(
            topic, self.codec.encode(record, topic), key=record.doc_id.encode(), on_delivery=delivered
        )
        self._producer.poll(0)

    async def upsert(self, path: Path, tenant: str, uri: str | None = None) -> Submission:
        blob_uri, sha, size = await self.blobs.put_file(str(path))
        uri = uri or source_uri(path)
        record = DocumentSubmitted(
            tenant=tenant,
            doc_id=ids.doc_id(tenant, uri),
            source_uri=uri,
            filename=path.name,
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
        remaining = self._producer.flush(timeout_s)
        if remaining or self._errors:
            raise RuntimeError(f"{remaining} message(s) undelivered; errors: {self._errors[:3]}")


WATCHED_DLQS = (topics.INGEST, topics.PARSED, topics.CHUNKS, topics.EMBEDDED, topics.GRAPH)


class OutcomeWatcher:
    """Reads docs.indexed and the dead-letter topics from their current ends (no consumer group:
    watching must not move anyone's offsets) and resolves submissions as events arrive."""

    def __init__(self, bootstrap: str, names: TopicNames, codec: Codec) -> None:
        self.names = names
        self.codec = codec
        self._since = datetime.now(UTC).isoformat()
        self._consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": "ragstream-watch", "enable.auto.commit": False}
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

    def _apply(self, msg: object, pending: dict[str, Outcome], started: float) -> Outcome | None:
        topic = msg.topic()  # type: ignore[attr-defined]
        key = (msg.key() or b"").decode()  # type: ignore[attr-defined]
        outcome = pending.get(key)
        if outcome is None:
            return None
        if topic == self.names(topics.INDEXED):
            event = self.codec.decode(msg.value(), DocumentIndexed, topic)  # type: ignore[attr-defined]
            sub = outcome.submission
            if event.operation != sub.operation or (
                sub.operation == "UPSERT" and event.version != sub.version
            ):
                return None
            outcome.status = "deleted" if sub.operation == "DELETE" else "indexed"
            outcome.chunks = event.chunk_count
        else:
            headers = {k: (v or b"").decode() for k, v in (msg.headers() or [])}  # type: ignore[attr-defined]
            if headers.get("x-dlq-failed-at", "") < self._since:
                return None  # an older failure of the same document
            outcome.status = "failed"
            outcome.stage = headers.get("x-dlq-stage", "")
            outcome.reason = headers.get("x-dlq-reason", "")
            outcome.error = headers.get("x-dlq-error", "")
        outcome.seconds = time.monotonic() - started
        return outcome

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
            batch = await asyncio.to_thread(self._consumer.consume, 500, 0.25)
            for msg in batch:
                if msg.error():
                    continue
                done = self._apply(msg, pending, started)
                if done is not None:
                    resolved += 1
                    pending.pop(done.submission.doc_id, None)
                    if on_done:
                        on_done(done)
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
