"""The CPU model profile for real: one Ray Serve (model_serving/configs/cpu.yaml) serving the ``embed``
app (MiniLM) and the ``llm`` app (vLLM's CPU build with SmolLM2-135M-Instruct), and the platform's
clients and LLM paths against it: streaming, guided JSON for the planner and the graph extractor,
the agent answering with citations, and the ingest pipeline extracting its graph with the LLM.

SmolLM2-135M is tiny: these tests assert the contracts and the rails (schema-valid JSON, grounded
entities, citations that point at retrieved passages, the cache, aborts), not the quality of what it
writes. One Ray start for the module (~40 s, most of it vLLM's engine start)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from redis.asyncio import Redis

pytest.importorskip("ray.serve", reason="needs the serving extra: pip install -e '.[serving,llm]'")
pytest.importorskip("vllm", reason="needs the llm extra: pip install -e '.[llm]'")

from services.agent.graph import build_graph
from services.agent.llm_steps import PLAN_SCHEMA
from services.agent.wiring import agent_deps, ask_inprocess, new_state
from services.extract_graph.llm_extractor import LLMGraphExtractor, bounded_schema
from services.models.embedder import HttpEmbedder
from services.models.llm import HttpChatModel
from tests.serving import Served
from tests.support import IndexedStores, examples_indexed_inprocess

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*"),
]

MODEL = "SmolLM2-135M-Instruct"


@pytest.fixture(scope="module")
def served(cpu_models: Served) -> Served:
    """The CPU profile (tests/integration/serving/conftest.py)."""
    return cpu_models


@pytest.fixture
async def llm(served: Served) -> AsyncIterator[HttpChatModel]:
    client = HttpChatModel(f"{served.url}/llm", MODEL)
    yield client
    await client.close()


async def test_streamed_and_whole_answers_agree(llm: HttpChatModel) -> None:
    """Streaming yields several deltas that concatenate to the non-streamed answer (greedy, seeded)."""
    messages = [{"role": "user", "content": "Name three colours of the rainbow."}]
    pieces = [piece async for piece in llm.stream(messages, max_tokens=24)]
    whole = await llm.complete(messages, max_tokens=24)
    assert len(pieces) > 3
    assert "".join(pieces) == whole
    assert whole.strip()


async def test_openai_stream_shape_usage_and_abort(served: Served) -> None:
    """SSE chunks in the OpenAI shape end with usage and [DONE]; a client that hangs up mid-stream
    aborts its request in the engine (counted by /stats)."""
    base = f"{served.url}/llm"
    body = {
        "messages": [{"role": "user", "content": "Count from one to fifty in words."}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 12,
    }
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        lines = []
        async with http.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = [line async for line in response.aiter_lines() if line.startswith("data:")]
        assert lines[-1] == "data: [DONE]"
        events = [json.loads(line[5:]) for line in lines[:-1]]
        assert events[0]["choices"][0]["delta"]["role"] == "assistant"
        assert events[-1]["usage"]["completion_tokens"] == 12
        assert events[-2]["choices"][0]["finish_reason"] == "length"

        before = (await http.get("/stats")).json()["aborted"]
        long = body | {"max_tokens": 400, "stream_options": None}
        async with http.stream("POST", "/v1/chat/completions", json=long) as response:
            async for _ in response.aiter_lines():
                break  # hang up after the first event
        for _ in range(50):
            after = (await http.get("/stats")).json()["aborted"]
            if after > before:
                break
            await asyncio.sleep(0.1)
        assert after == before + 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "role must be one of"),
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10**6}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x " * 3000}], "max_tokens": 100}, "exceeds the context"),
        (
            {"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "xml"}},
            "response_format.type",
        ),
    ],
)
async def test_bad_requests_get_clear_400s(served: Served, body: dict[str, Any], message: str) -> None:
    async with httpx.AsyncClient(base_url=f"{served.url}/llm", timeout=60) as http:
        response = await http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["message"]


async def test_guided_json_follows_the_planner_schema(llm: HttpChatModel) -> None:
    """The planner's schema is enforced by the server while generating: the reply validates."""
    messages = [
        {"role": "system", "content": "Route the question. JSON only."},
        {"role": "user", "content": "Who works for Helios Labs?"},
    ]
    plan = await llm.json(messages, PLAN_SCHEMA, name="plan", max_tokens=200)
    jsonschema.validate(plan, PLAN_SCHEMA)
    assert plan["action"] in {"retrieve", "tool", "direct"}


async def test_the_eval_judge_grades_through_the_served_model(llm: HttpChatModel) -> None:
    """The judge's two questions go through guided JSON on the real server: one verdict per statement
    and a rating in range come back, so every answer it is given is judged (a shape the model could
    break would leave it unjudged: None)."""
    from services.eval.judge import Judge

    passages = ["Helios Labs is headquartered in Lisbon. Isolde Moreau works for Helios Labs."]
    answer = "Isolde Moreau works for Helios Labs [1]. Helios Labs is headquartered in Lisbon [1]."
    verdict = await Judge(llm).judge("Who works for Helios Labs?", answer, passages)
    assert verdict.faithfulness in (0.0, 0.5, 1.0)
    assert verdict.relevancy in (0.0, 0.25, 0.5, 0.75, 1.0)


async def test_llm_graph_extraction_is_grounded_and_cached(llm: HttpChatModel) -> None:
    """Entities the model returns all occur in the text (inventions dropped), the JSON follows the
    bounded schema, and the second pass over the same chunks makes no model call (Redis cache)."""
    redis = Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"test:extract:{uuid.uuid4().hex[:8]}:"
    texts = [
        "Ada Novak works for Helios Labs. Helios Labs is based in Graz, Austria.",
        "The Orion Pump is a product of Kestrel Industries in Lyon.",
    ]
    try:
        extractor = LLMGraphExtractor(llm, redis, prefix=prefix, max_tokens=200)
        first = await extractor.extract_many(texts)
        calls = extractor.calls
        again = await extractor.extract_many(texts)
        keys = [k async for k in redis.scan_iter(f"{prefix}*")]
    finally:
        await redis.delete(*[k async for k in redis.scan_iter(f"{prefix}*")] or ["-"])
        await redis.aclose()
    assert calls == 2
    assert extractor.calls == 2  # nothing paid twice
    assert len(keys) == 2
    assert [a.extraction for a in again] == [f.extraction for f in first]
    for text, found in zip(texts, first, strict=True):
        jsonschema.validate(found.extraction.to_dict(), bounded_schema())
        for entity in found.extraction.entities:
            assert entity.name.casefold() in text.casefold()
        assert found.extractor in (f"llm:{MODEL}",) or found.extractor.startswith("rules (llm fallback")


async def test_a_chunk_over_the_models_context_is_extracted_by_the_rules(llm: HttpChatModel) -> None:
    """The chunker counts MiniLM's tokens, not the LLM's: a chunk can be longer than the model takes
    (2048 here). The server's 400 was dead-lettered, and the document never completed (the index
    waits for every chunk's graph record). The rules extract it instead."""
    redis = Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"test:extract:{uuid.uuid4().hex[:8]}:"
    text = "Ada Novak works for Helios Labs in Graz. " + "Logistics data flows through pipelines. " * 400
    try:
        found = await LLMGraphExtractor(llm, redis, prefix=prefix, max_tokens=200).extract_one(text)
    finally:
        await redis.delete(*[k async for k in redis.scan_iter(f"{prefix}*")] or ["-"])
        await redis.aclose()
    assert found.extractor.startswith("rules (llm fallback")
    assert {"Ada Novak", "Helios Labs"} <= {e.name for e in found.extraction.entities}


@pytest.fixture(scope="module")
async def indexed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[IndexedStores]:
    async with examples_indexed_inprocess(tmp_path_factory.mktemp("llm-agent")) as stores:
        yield stores


async def test_agent_answers_with_the_llm_and_cites_retrieved_passages(
    served: Served, llm: HttpChatModel, indexed: IndexedStores
) -> None:
    """With an LLM the answer streams from the model (not the extractive sentences), its citations
    are retrieved passages, and an unanswerable question still gets "I don't know" without the model
    inventing an answer. Retrieval embeds through the Ray Serve embed app."""
    embedder = HttpEmbedder(f"{served.url}/embed", "all-MiniLM-L6-v2", dim=384)
    try:
        deps = agent_deps(embedder, indexed.vectors, indexed.graph, "chunks", llm=llm, max_tokens=80)
        graph = build_graph(deps)
        state = new_state("q-llm-1", "acme", "Where is Helios Labs based?")
        events = [e async for e in ask_inprocess(graph, state)]
        final = events[-1]["state"]
        tokens = "".join(e["text"] for e in events if e["type"] == "token")
        nothing = new_state("q-llm-2", "acme", "What colour are zebra-striped quasars on Tuesdays?")
        unknown = [e async for e in ask_inprocess(graph, nothing)][-1]["state"]
    finally:
        await embedder.close()
    assert final.steps == ["plan", "retrieve", "respond"]
    assert tokens == final.answer
    assert final.answer.strip()
    retrieved = {p.chunk_id for p in final.passages}
    assert final.citations
    assert {c.chunk_id for c in final.citations} <= retrieved
    assert unknown.answer.startswith("I don't know")
    assert unknown.citations == []


async def test_ingest_and_chat_pipelines_on_the_model_servers(
    served: Served, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The whole platform pointed at the CPU model profile: the ingest pipeline embeds through the
    Ray Serve embed app and extracts its graph with the LLM (one cached extraction per chunk), and a
    question over the websocket gateway is planned by the LLM, retrieved with the rerank app's
    reranking, and answered by the LLM through the four agent workers, streamed and cited."""
    from services.common import ids
    from services.common.settings import GatewaySettings, ModelSettings, Settings
    from services.gateway import issue_token
    from services.publisher import source_uri
    from tests.support import EXAMPLES, chat_stack

    secret = "llm-" + uuid.uuid4().hex
    settings = Settings(
        home=tmp_path / "home",
        cache_answers=False,
        # the LLM plans and answers on 2 CPU cores: session 5 saw 58 s from question to answer here
        # (30 s of silence ended the request); what this test checks is the path, not the latency
        gateway=GatewaySettings(request_timeout_s=180),
        models=ModelSettings(
            embeddings_url=f"{served.url}/embed",
            llm_url=f"{served.url}/llm",
            rerank_url=f"{served.url}/rerank",
            llm_max_tokens=40,
            llm_extract_max_tokens=200,
        ),
    )
    docs = [p for p in sorted(EXAMPLES.iterdir()) if "helios-labs-annual" in p.name]
    redis = Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        async with chat_stack(kafka_bootstrap, tmp_path, secret, "llm", settings, docs) as (stack, gateway):
            prefix = f"ragstream:{settings.kafka.topic_prefix}extract:"
            cached = [k async for k in redis.scan_iter(f"{prefix}*")]
            stats = await stack.graph.stats("acme")
            token = issue_token(secret, "acme", "alice", 300)
            frames: list[dict[str, Any]] = []
            from websockets.asyncio.client import connect

            async with connect(f"{gateway.url}?token={token}") as ws:
                await ws.send(json.dumps({"type": "ask", "question": "Where is Helios Labs headquartered?"}))
                async for raw in ws:
                    frames.append(json.loads(raw))
                    if frames[-1]["type"] in ("final", "error"):
                        break
    finally:
        await redis.delete(
            *[k async for k in redis.scan_iter(f"ragstream:{settings.kafka.topic_prefix}*")] or ["-"]
        )
        await redis.aclose()
    assert len(cached) >= len(docs)  # the LLM extractor ran, one cache entry per distinct chunk
    assert stats["entities"] > 0
    assert frames[-1]["type"] == "final", frames[-1]
    answer = frames[-1]["text"]
    assert answer.strip()
    assert "".join(f["text"] for f in frames if f["type"] == "token") == answer
    [cited] = [f["citations"] for f in frames if f["type"] == "citations"]
    assert cited
    ingested = {ids.doc_id("acme", source_uri(p)) for p in docs}
    assert {c["doc_id"] for c in cited} <= ingested
    assert all(1 <= c["n"] <= 5 for c in cited)
