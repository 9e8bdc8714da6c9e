"""What the HTTP API needs, handed over by whoever runs it (``ragstream up`` or a worker with the
``api`` role). Optional parts are what only some processes have: search needs the vector port
(the one owner process of the embedded engine, or anyone with a Qdrant server), a reindex needs
the process that hosts the index generations."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.api.outcomes import OutcomeTracker
from services.common.settings import Settings
from services.ops import Backlog
from services.publisher import DocumentPublisher
from services.retrieve.search import SearchResult
from topics import TopicNames

SearchFn = Callable[[str, str, int], Awaitable[SearchResult]]


@dataclass
class ApiPorts:
    settings: Settings
    bootstrap: str
    names: TopicNames
    secret: str
    publisher: DocumentPublisher
    outcomes: OutcomeTracker
    upload_dir: Path
    search: SearchFn | None = None
    backlog: Callable[[], Awaitable[list[Backlog]]] | None = None
    index_status: Callable[[], Awaitable[dict[str, Any]]] | None = None
    stack: Any = None  # services.generations.Stack where this process hosts the index generations
    generations: Any = None  # services.catchup.Generations where workers build them (a cluster)
    gateway_url: str | None = None

    async def flush(self) -> None:
        """Wait until what this request published is on the broker (raises if it cannot get there)."""
        await asyncio.to_thread(self.publisher.flush, self.settings.gateway.request_timeout_s)
