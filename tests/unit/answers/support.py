"""What the answer tests share: passages from the golden documents' own texts, the real embedder
counted, and an answer that always cites or says "I don't know"."""

from __future__ import annotations

from collections.abc import Sequence

from services.agent.answer import DONT_KNOW, SentenceAnswerer
from services.common.messages import Passage
from services.models.embedder import LocalEmbedder

TRAVEL = """Every trip needs approval from your line manager in the travel tool before anything is booked.
Trips expected to cost more than EUR 1,500 in total also need approval from the head of your department.

Flights must be booked at least 14 days before departure. Bookings made later than that are allowed
for customer emergencies, but the reason must be written in the booking request. Travel by train is
expected for any journey that takes less than four hours door to door."""

OPTIONS = """spill_to_disk (bool, default True)

The spill_to_disk option turns on writing buffered records to a temporary directory when a stage reaches
its buffer limit.

exactly_once (bool, default False)

The exactly_once option turns on transactional commits to the sink, so that each record is written once
even when a stage is restarted."""

CONFIGURE = """Fernlight is configured once per process with fernlight.configure(), which takes
keyword options and must be called before the first pipeline is built. Options that are not passed keep
their defaults. Calling configure() a second time raises ConfigurationError.

import fernlight

fernlight.configure(buffer_limit_mb=128, exactly_once=True, metrics_port=9470)"""

HISTORY = """Quayside Billing followed in 2022. It started as the internal system that invoiced Tessel
customers for their sensor subscriptions and was turned into a product when several of those customers
asked to use it for their own invoices."""

CATALOGUE = """Item code | Name | Type | List price
KX-011 | Tessel Thermo | sensor | EUR 49
KX-013 | Tessel Vibe | sensor | EUR 95
KX-021 | Tessel Hub | gateway | EUR 180"""


def passage(text: str, title: str, section: str | None = None, n: int = 0) -> Passage:
    return Passage(
        chunk_id=f"c{n}",
        doc_id=f"d{n}",
        title=title,
        source_uri=f"file:///docs/{title}.md",
        section=section,
        text=text,
        score=1.0 / (n + 1),
    )


class Counting:
    """The real embedder, counting the texts it is asked for."""

    def __init__(self, embedder: LocalEmbedder) -> None:
        self.embedder = embedder
        self.texts = 0

    async def __call__(self, texts: list[str]) -> list[list[float]]:
        self.texts += len(texts)
        return await self.embedder.embed(texts, interactive=True)


async def answer(answerer: SentenceAnswerer, query: str, passages: Sequence[Passage]) -> str:
    text, citations = await answerer(query, passages)
    assert (text == DONT_KNOW) == (not citations)  # an answer always cites, "I don't know" never does
    return text
