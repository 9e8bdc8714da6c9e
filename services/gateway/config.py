"""What a gateway instance is configured with (``RAGSTREAM_GATEWAY__*`` through ``from_settings``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from services.common.settings import GatewaySettings


@dataclass
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0 = any free port; read Gateway.port after start
    gateway_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    max_frame_bytes: int = 64 * 1024  # larger client frames close the socket with 1009
    max_question_chars: int = 4000
    # What may wait for one socket before it counts as too slow and is closed with 1013. Generous
    # enough for a burst of events fetched in one batch by a client that keeps up.
    send_queue_frames: int = 2048
    send_queue_bytes: int = 4 * 1024 * 1024
    max_events_per_request: int = 4096  # replay log per request; older events are dropped (resume: gap)
    max_requests: int = 10_000  # requests kept for resume, running or finished
    retention_s: float = 300.0  # how long a finished (or silent, unheld) request stays resumable
    request_partitions: int = 3  # when chat.requests has to be created
    reply_partitions: int = 1
    replication_factor: int = 1
    rate_capacity: int = 20  # asks per user at once ...
    rate_per_s: float = 60.0  # ... refilled over this many seconds
    rate_limit_fail_open: bool = True  # Redis down: let asks through (logged) instead of refusing
    redis_prefix: str = "ragstream:gw:"
    publish_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    compression: str | None = None  # "deflate" to enable permessage-deflate
    fetch_max_wait_ms: int = 5  # reply consumer long-poll; bounds the reply hop's latency on Tansu
    # Batching the questions' produce would add this much to every time to first token.
    producer_linger_ms: float = 0.0
    producer_idempotence: bool = True  # KafkaSettings.chat_idempotence
    # The agent sent nothing for this long: the client gets error agent_timeout and the request ends.
    request_timeout_s: float = 30.0
    # Sockets one user may hold on one instance; one more is closed with 4429 (idle sockets cost memory).
    max_sockets_per_user: int = 32
    feedback_ttl_s: int = 7 * 24 * 3600  # how long an answer can be rated (kept in Redis for it)

    @classmethod
    def from_settings(cls, settings: GatewaySettings, **overrides: Any) -> GatewayConfig:
        """The configurable part from ``Settings().gateway`` (``RAGSTREAM_GATEWAY__*``)."""
        values: dict[str, Any] = {
            "host": settings.host,
            "port": settings.port,
            "rate_capacity": settings.rate_capacity,
            "rate_per_s": settings.rate_per_s,
            "request_timeout_s": settings.request_timeout_s,
            "max_sockets_per_user": settings.max_sockets_per_user,
        }
        return cls(**(values | overrides))
