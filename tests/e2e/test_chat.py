"""Chat end to end on the real broker: documents ingested through the pipeline, a question over the
websocket gateway, the agent's four Kafka workers, and a streamed, cited answer back on the socket."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from services.agent.wiring import ask_inprocess, new_state
from services.common import ids
from services.gateway import Gateway, issue_token
from services.generations import Stack
from services.publisher import DocumentPublisher, OutcomeWatcher, source_uri
from tests.support import chat_stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "docs"
SECRET = "test-secret-" + uuid.uuid4().hex
TENANT = "acme"


@pytest.fixture(scope="module")
async def chat(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Stack, Gateway]]:
    """The embedded stack (pipeline + agent workers) with examples/docs indexed for 'acme', and a gateway."""
    async with chat_stack(kafka_bootstrap, tmp_path_factory.mktemp("chat"), SECRET, "chat") as (
        stack,
        gateway,
    ):
        yield stack, gateway


async def converse(
    gateway: Gateway, question: str, tenant: str = TENANT, user: str = "alice", session_id: str | None = None
) -> list[dict[str, Any]]:
    token = issue_token(SECRET, tenant, user, 300)
    frames: list[dict[str, Any]] = []
    ask: dict[str, Any] = {"type": "ask", "question": question}
    if session_id:
        ask["session_id"] = session_id
    async with connect(f"{gateway.url}?token={token}") as ws:
        await ws.send(json.dumps(ask))
        async for raw in ws:
            frame = json.loads(raw)
            frames.append(frame)
            if frame["type"] in ("final", "error"):
                break
    return frames


async def test_question_over_websocket_streams_a_cited_answer(chat: tuple[Stack, Gateway]) -> None:
    """Tokens arrive in order and add up to the final answer; its citation names a Helios Labs document;
    retrieval equals the in-process executor's for the same question."""
    stack, gateway = chat
    frames = await converse(gateway, "Who works for Helios Labs?")
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "accepted"
    assert kinds[-1] == "final", frames[-1]
    assert [f["step"] for f in frames if f["type"] == "status"] == ["plan", "retrieve", "respond"]
    answer = frames[-1]["text"]
    assert "".join(f["text"] for f in frames if f["type"] == "token") == answer
    assert "works for Helios Labs" in answer
    [cited] = [f["citations"] for f in frames if f["type"] == "citations"]
    helios = {ids.doc_id(TENANT, source_uri(p)) for p in EXAMPLES.iterdir() if "helios" in p.name}
    assert {c["doc_id"] for c in cited} & helios
    seqs = [f["seq"] for f in frames if "seq" in f]
    assert seqs == sorted(seqs) == list(range(len(seqs)))

    events = [
        e async for e in ask_inprocess(stack.agent, new_state("same", TENANT, "Who works for Helios Labs?"))
    ]
    in_process = events[-1]["state"]
    assert in_process.answer == answer
    assert [c.chunk_id for c in in_process.citations] == [c["chunk_id"] for c in cited]


async def test_another_tenant_never_sees_these_documents(chat: tuple[Stack, Gateway]) -> None:
    """The same question from another tenant's token finds nothing and says so."""
    _, gateway = chat
    frames = await converse(gateway, "Who works for Helios Labs?", tenant="globex", user="bob")
    assert frames[-1]["type"] == "final"
    assert frames[-1]["text"].startswith("I don't know")
    assert [f["citations"] for f in frames if f["type"] == "citations"] == [[]]


async def test_calculator_route_over_the_wire(chat: tuple[Stack, Gateway]) -> None:
    """Arithmetic goes plan → tool → respond through the workers."""
    _, gateway = chat
    frames = await converse(gateway, "What is 6 * 7?")
    assert [f["step"] for f in frames if f["type"] == "status"] == ["plan", "tool", "respond"]
    assert "42" in frames[-1]["text"]


async def test_follow_up_pronoun_is_resolved_from_stored_history(chat: tuple[Stack, Gateway]) -> None:
    """Turns are kept in chat memory per session, so a later "it" (new socket) means Helios Labs."""
    _, gateway = chat
    session = uuid.uuid4().hex
    first = await converse(gateway, "Where is Helios Labs headquartered?", session_id=session)
    assert first[-1]["type"] == "final"
    second = await converse(gateway, "Who works for it?", session_id=session)
    claims = [s for s in second[-1]["text"].split(" [") if "works for" in s]
    assert claims
    assert all("Helios Labs" in claim for claim in claims), second[-1]["text"]
    # without that history, "it" names nothing: the answer is about whoever works anywhere
    other = await converse(gateway, "Who works for it?", session_id=uuid.uuid4().hex)
    assert any("Helios Labs" not in s for s in other[-1]["text"].split(" [") if "works for" in s)


async def test_repeat_question_is_served_from_cache_until_content_changes(
    chat: tuple[Stack, Gateway], tmp_path: Path
) -> None:
    """The same question again skips retrieval (semantic cache); after a new document is indexed for
    the tenant the cache is stale and the agent retrieves again."""
    stack, gateway = chat
    question = "Which company makes the Jackal Ledger?"
    first = await converse(gateway, question, user="carol")
    again = await converse(gateway, question, user="carol")
    assert [f["step"] for f in again if f["type"] == "status"] == ["plan", "respond"]
    assert again[-1]["text"] == first[-1]["text"]

    note = tmp_path / "new-note.md"
    note.write_text("# Note\n\nThe Jackal Ledger is a product of Helios Labs, said Greta Sorensen.\n")
    watcher = OutcomeWatcher(stack.bootstrap, stack.names, stack.front.codec)
    publisher = DocumentPublisher(stack.bootstrap, stack.names, stack.front.codec, stack.front.blobs)
    sub = await publisher.upsert(note, TENANT)
    publisher.flush()
    [outcome] = await watcher.wait([sub], 120)
    watcher.close()
    assert outcome.status == "indexed"
    for _ in range(50):  # the invalidator consumes docs.indexed asynchronously
        after = await converse(gateway, question, user="carol")
        if "retrieve" in [f["step"] for f in after if f["type"] == "status"]:
            break
    assert "retrieve" in [f["step"] for f in after if f["type"] == "status"]
