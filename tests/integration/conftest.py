"""Fixtures for the gateway's integration tests: real Redis under a per-test prefix, the stand-in
agent (``tests.gateway_peer.Responder``) and gateways started on the test's topics."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from services.gateway import Gateway, GatewayConfig
from tests.gateway_peer import SECRET, Responder, StartGateway
from topics import CHAT_REQUESTS, TopicNames
from topics.admin import ensure_topics


@pytest.fixture
async def redis() -> AsyncIterator[tuple[Redis, str]]:
    """Real Redis with a key prefix unique to this test; only that prefix is deleted afterwards."""
    client = Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"test:gw:{uuid.uuid4().hex[:10]}:"
    yield client, prefix
    keys = [k async for k in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def responder(kafka_bootstrap: str, names: TopicNames) -> AsyncIterator[Responder]:
    """A stand-in agent on this test's chat.requests topic."""
    await asyncio.to_thread(ensure_topics, kafka_bootstrap, names, 3, 1, (CHAT_REQUESTS,))
    r = await asyncio.to_thread(Responder, kafka_bootstrap, names)
    yield r
    await asyncio.to_thread(r.close)


@pytest.fixture
async def start_gateway(
    kafka_bootstrap: str, names: TopicNames, redis: tuple[Redis, str]
) -> AsyncIterator[StartGateway]:
    """Starts gateways on this test's topics (config overrides as keywords); stops them at the end."""
    started: list[Gateway] = []

    async def start(**overrides: Any) -> Gateway:
        config = GatewayConfig(redis_prefix=redis[1], **overrides)
        gw = await Gateway(kafka_bootstrap, names, SECRET, redis[0], config).start()
        started.append(gw)
        return gw

    yield start
    for gw in started:
        await gw.stop()
