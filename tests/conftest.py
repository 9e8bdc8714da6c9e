"""Shared fixtures: one real broker per test session (Tansu, or RAGSTREAM_TEST_KAFKA), unique topic
names and consumer groups per test, settings rooted in a temporary directory."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.settings import KafkaSettings, PipelineSettings, Settings
from services.common.tansu import TansuBroker
from topics import TopicNames


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A Kafka-protocol broker for the whole session; an external one when RAGSTREAM_TEST_KAFKA is set."""
    external = os.environ.get("RAGSTREAM_TEST_KAFKA")
    if external:
        yield external
        return
    with TansuBroker() as broker:
        yield broker.bootstrap


@pytest.fixture
def names() -> TopicNames:
    """Topic names (and group names) unique to one test."""
    return TopicNames(prefix=f"t{uuid.uuid4().hex[:10]}.")


@pytest.fixture
def settings(tmp_path: Path, names: TopicNames) -> Settings:
    """Settings for one test: data under tmp_path, its own topics, quick retries."""
    return Settings(
        home=tmp_path / "home",
        kafka=KafkaSettings(partitions=2, topic_prefix=names.prefix),
        pipeline=PipelineSettings(retry_attempts=2, retry_base_delay_s=0.05, retry_max_delay_s=0.1),
    )
