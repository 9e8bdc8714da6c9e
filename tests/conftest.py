"""Shared fixtures: one real broker per test session (Tansu, or RAGSTREAM_TEST_KAFKA), unique topic
names and consumer groups per test, settings rooted in a temporary directory."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.common.settings import KafkaSettings, PipelineSettings, Settings
from services.common.tansu import TansuBroker
from topics import TopicNames

# Directories whose modules share a package-scoped fixture too costly to build twice: `--dist loadscope`
# hands each module to a worker of its own, so both workers started Ray Serve with vLLM at once
# (168 s of setup each on 2 cores); as one scope they go to one worker and share one start.
SHARED_SCOPES = ("tests/integration/serving/",)


# The order scopes are handed out in: the slow tiers first. xdist's own order is by test count, so the
# unit modules went first and an e2e module of two long tests last: the suite's last minutes were one
# worker finishing it while the other idled.
SLOW_FIRST = (
    "tests/integration/serving/",
    "tests/e2e/",
    "tests/browser/",
    "tests/integration/",
    "tests/unit/",
)


def _tier(scope: str) -> int:
    return next((i for i, prefix in enumerate(SLOW_FIRST) if scope.startswith(prefix)), len(SLOW_FIRST))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadscope` with the directories of ``SHARED_SCOPES`` each one scope, handed out slow
    tiers first (``SLOW_FIRST``), by test count within a tier."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedScopes(LoadScopeScheduling):
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            for prefix in SHARED_SCOPES:
                if nodeid.startswith(prefix):
                    return prefix
            return str(super()._split_scope(nodeid))

        def _assign_work_unit(self, node: Any) -> None:
            if not self.ordered:  # the queue is complete before the first unit is handed out
                queue = sorted(self.workqueue.items(), key=lambda unit: (_tier(unit[0]), -len(unit[1])))
                self.workqueue.clear()
                self.workqueue.update(queue)
                self.ordered = True
            super()._assign_work_unit(node)

    return SharedScopes(config, log)


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
