"""``GET /metrics`` while the broker does not answer: the scrape still succeeds within its budget,
the consumer lag keeps its last values and the failure is counted (services/api/lag.py).

The broker is a Tansu of this test's own, stopped with SIGSTOP: its port stays open and accepts
connections, but nothing answers, which is what a stalled or overloaded broker looks like."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer

from services.admin import api_ports
from services.api import build_api
from services.common import kafka_conf
from services.common.codec import make_codec
from services.common.settings import KafkaSettings, Settings
from services.common.tansu import TansuBroker
from services.stores.blobs import LocalBlobStore
from tests.support import loopback_app
from topics import INGEST, TopicNames
from topics.admin import ensure_topics

pytestmark = pytest.mark.integration

BUDGET_S = 1.0


@pytest.fixture
def broker() -> Iterator[TansuBroker]:
    with TansuBroker() as tansu:
        yield tansu


@pytest.fixture
async def metrics_url(
    broker: TansuBroker, names: TopicNames, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    interval = getattr(request, "param", 0.0)  # every scrape reads the broker, unless a test says
    kafka = KafkaSettings(
        partitions=1, topic_prefix=names.prefix, lag_read_timeout_s=BUDGET_S, lag_read_interval_s=interval
    )
    settings = Settings(home=tmp_path / "home", kafka=kafka)
    await asyncio.to_thread(ensure_topics, broker.bootstrap, names, 1)
    blobs, codec = LocalBlobStore(tmp_path / "blobs"), make_codec(None)
    async with (
        api_ports(settings, broker.bootstrap, names, blobs, codec) as ports,
        loopback_app(build_api(ports)) as url,
    ):
        yield url + "/metrics"


def publish(bootstrap: str, names: TopicNames, count: int) -> None:
    producer = Producer(kafka_conf.client(bootstrap))
    for n in range(count):
        producer.produce(names(INGEST), b"x", key=f"doc-{n}".encode())
    assert producer.flush(10) == 0


def sample(text: str, series: str) -> float | None:
    """One sample's value from a Prometheus text page; None when the page lacks it."""
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


async def scrape(url: str) -> tuple[str, float]:
    began = time.monotonic()
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(url)
    assert response.status_code == 200, response.text
    return response.text, time.monotonic() - began


async def test_a_broker_that_does_not_answer_leaves_the_scrape_whole(
    broker: TansuBroker, metrics_url: str, names: TopicNames
) -> None:
    await asyncio.to_thread(publish, broker.bootstrap, names, 3)
    lag = f'ragstream_consumer_lag{{stage="parse",topic="{INGEST.name}"}}'
    timeouts = 'ragstream_consumer_lag_read_failures_total{reason="timeout"}'
    read_at = "ragstream_consumer_lag_read_timestamp_seconds"

    healthy, _ = await scrape(metrics_url)
    assert sample(healthy, lag) == 3
    last_read = sample(healthy, read_at)
    assert last_read is not None
    assert last_read > time.time() - 60
    failed_before = sample(healthy, timeouts) or 0.0

    assert broker._proc is not None
    os.kill(broker._proc.pid, signal.SIGSTOP)
    try:
        stalled, took = await scrape(metrics_url)
        again, took_again = await scrape(metrics_url)  # joins the read still waiting, starts none
    finally:
        os.kill(broker._proc.pid, signal.SIGCONT)
    # Within the budget, not the broker client's own 10 s timeout (which the old scrape waited out, then 500).
    assert max(took, took_again) < 8
    for page in (stalled, again):
        assert sample(page, lag) == 3  # the last values, not zero, not missing
        assert sample(page, read_at) == last_read
        assert "python_info" in page  # the rest of the registry still served
    assert sample(stalled, timeouts) == failed_before + 1
    assert sample(again, timeouts) == failed_before + 2

    await asyncio.to_thread(publish, broker.bootstrap, names, 2)
    deadline = time.monotonic() + 30
    while True:  # the broker answers again: the next scrapes read fresh values
        page, _ = await scrape(metrics_url)
        fresh = sample(page, read_at)
        if fresh is not None and fresh > last_read and sample(page, lag) == 5:
            break
        assert time.monotonic() < deadline, "the lag was not read again after the broker came back"
        await asyncio.sleep(0.5)


@pytest.mark.parametrize("metrics_url", [60.0], indirect=True)
async def test_scrapes_within_the_interval_do_not_read_the_broker_again(
    broker: TansuBroker, metrics_url: str, names: TopicNames
) -> None:
    """/metrics takes no token, and every scrape read the broker (a consumer and an admin client
    each time): a loop on it kept the broker busy. Within the interval the last read stands: with
    the broker stopped, the next scrape neither waits for it nor counts a failure."""
    await asyncio.to_thread(publish, broker.bootstrap, names, 2)
    read_at = "ragstream_consumer_lag_read_timestamp_seconds"
    timeouts = 'ragstream_consumer_lag_read_failures_total{reason="timeout"}'
    first, _ = await scrape(metrics_url)
    assert broker._proc is not None
    os.kill(broker._proc.pid, signal.SIGSTOP)
    try:
        second, took = await scrape(metrics_url)
    finally:
        os.kill(broker._proc.pid, signal.SIGCONT)
    assert took < BUDGET_S
    assert sample(second, read_at) == sample(first, read_at)
    assert sample(second, timeouts) == sample(first, timeouts)
