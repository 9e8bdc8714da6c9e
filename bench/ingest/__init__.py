"""Ingestion benchmark: the raw embedder, the in-process stages and the streaming pipeline, side by
side in one run, on the same files and the same loaded ``LocalEmbedder``.

1. raw embedder: every document parsed and chunked once, then ``embed_sync`` over all chunk texts
   (batch 64): the ceiling, since embedding is the expensive step.
2. in-process: ``services.inprocess.ingest_inprocess`` (parse, chunk, embed, extract, index called
   directly, no Kafka) into fresh stores (qdrant-edge in a temp dir, FalkorDB, SQLite ledger).
3. streaming: an embedded Tansu broker (memory storage) and ``run_pipeline`` with all five stages;
   every file published with ``DocumentPublisher``; the timed window runs from the first publish to
   the last ``docs.indexed`` event seen by an ``OutcomeWatcher``. Start-up (broker, stores, topic
   creation, consumer-group joins: a one-document warm-up round trip) is timed apart.

Both pipelines get the same one-document warm-up (tenant ``warmup``) before their timed window, and
end with a correctness check: the same number of chunks in their vector stores (and the same graph).

Run ``python -m bench.ingest [--docs 200] [--seed 7] [--pages-per-pdf 0] [--partitions N]
[--repeat 1] [--json PATH] [--keep]``; see ``bench/README.md`` for what each figure means.

The package, a module per seam: ``raw`` (the corpus and the raw embedder), ``inprocess``, ``streaming``,
``report`` (the tables and the correctness check), ``run`` (the rounds and the printed summary),
``__main__`` (the command line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TENANT = "bench"
WARMUP_TENANT = "warmup"
EMBED_BATCH = 64  # raw embedder and in-process windows; the streaming embed stage gets what one poll holds
GOAL = 0.9
DURABLE_GOAL = 0.8  # durable embedded broker vs the memory one (issue 9)


@dataclass
class Figures:
    """One row of the table."""

    name: str
    docs: int
    chunks: int
    seconds: float
    stages: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def docs_per_s(self) -> float:
        return self.docs / self.seconds if self.seconds > 0 else 0.0

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "docs": self.docs,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "docs_per_s": round(self.docs_per_s, 3),
            "chunks_per_s": round(self.chunks_per_s, 3),
            "stage_seconds": {k: round(v, 3) for k, v in self.stages.items()},
            **self.extra,
        }
