"""The same pipeline code against Apache Kafka (testcontainers, KRaft), where a Docker engine runs:
what works on Tansu must work on the production broker, including exact end offsets."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services import ops
from services.common.settings import Settings
from services.pipeline import run_pipeline
from services.publisher import DocumentPublisher
from tests.support import docker_unavailable
from topics import TopicNames

pytestmark = [pytest.mark.integration, pytest.mark.docker]


@pytest.fixture(scope="module")
def apache_kafka() -> Iterator[str]:
    """An Apache Kafka broker in a container, or a skip saying why not."""
    reason = docker_unavailable()
    if reason:
        pytest.skip(f"Apache Kafka runs in a testcontainers container and {reason}")
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer().with_kraft() as kafka:
        yield kafka.get_bootstrap_server()


async def test_parse_and_chunk_on_apache_kafka(apache_kafka: str, tmp_path: Path) -> None:
    """A good file is chunked, a corrupt one is dead-lettered, and backlog reads zero lag after."""
    names = TopicNames(prefix=f"ak-{uuid.uuid4().hex[:8]}.")
    settings = Settings(home=tmp_path / "home")
    good = tmp_path / "good.md"
    good.write_text("# Title\n\nGrace Hopper works for the Navy. The Navy is based in Washington.\n")
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 not really")
    async with run_pipeline(settings, ("parse", "chunk"), bootstrap=apache_kafka, names=names) as pipe:
        publisher = DocumentPublisher(apache_kafka, names, pipe.codec, pipe.blobs)
        await publisher.upsert(good, "t")
        await publisher.upsert(bad, "t")
        publisher.flush()
        for _ in range(120):
            letters = await asyncio.to_thread(ops.dead_letters, apache_kafka, names)
            rows = await asyncio.to_thread(ops.backlog, apache_kafka, names, "", ("parse", "chunk"))
            if letters and all(r.lag == 0 and r.end > 0 for r in rows):
                break
            await asyncio.sleep(1)
    assert [letter.reason for letter in letters] == ["corrupt"]
    assert all(r.lag == 0 for r in rows)
