"""A gateway from settings: its configuration (partitions, replication, Redis prefix, a stable
instance id) and its start in a role process."""

from __future__ import annotations

import contextlib
from typing import Any

from services.common.settings import Settings
from topics import TopicNames


def gateway_config(settings: Settings) -> Any:
    """The gateway's configuration from settings: the cluster's partitions and replication factor
    for the topics it creates, a Redis prefix of this deployment, and a stable instance id (its
    reply topic's name) so a restarted gateway reuses its topic instead of leaking a new one."""
    import re
    import socket

    from services.gateway import GatewayConfig

    gw, kafka = settings.gateway, settings.kafka
    overrides: dict[str, Any] = {
        "request_partitions": kafka.partitions,
        "replication_factor": kafka.replication_factor,
        "redis_prefix": f"ragstream:{settings.deployment()}:gw:",
        "fetch_max_wait_ms": kafka.interactive_wait_ms(),
        "producer_idempotence": kafka.chat_idempotence,
    }
    instance = gw.instance_id or (f"{socket.gethostname()}-{gw.port}" if gw.port else None)
    if instance:
        overrides["gateway_id"] = re.sub(r"[^A-Za-z0-9_-]", "-", instance)[:100]
    return GatewayConfig.from_settings(gw, **overrides)


async def start_gateway(
    settings: Settings, stack: contextlib.AsyncExitStack, bootstrap: str, names: TopicNames
) -> str:
    from services.common.codec import make_codec
    from services.gateway import Gateway

    redis = settings.redis()
    stack.push_async_callback(redis.aclose)
    gateway = Gateway(
        bootstrap,
        names,
        settings.gateway_secret(),
        redis,
        config=gateway_config(settings),
        codec=make_codec(settings.kafka.schema_registry_url),
    )
    await gateway.start()
    stack.push_async_callback(gateway.stop)
    return gateway.url
