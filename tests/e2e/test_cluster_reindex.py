"""Reindex as a cluster does it: the live generation's workers keep running while workers started
with `generation=v2` replay the chunk topic into chunks_v2 under their own topics and consumer
groups; the API refuses to swap before they have caught up, `ragstream reindex --generation v2`
follows them and swaps, searches through the API answer all along, and then read v2 with every
chunk."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from bench.corpus import generate_corpus
from services.admin import start_server
from services.bootstrap.adapters import graph_store, vector_index
from services.bootstrap.process import run_roles
from services.common.settings import KafkaSettings, Settings
from services.gateway import issue_token
from services.models.embedder import LocalEmbedder
from services.publisher import DocumentPublisher, OutcomeWatcher
from services.roles import GENERATION_STAGES, STAGES
from topics import TopicNames

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
RAGSTREAM = str(Path(sys.executable).parent / "ragstream")
TENANT = "acme"


async def test_workers_of_the_next_generation_catch_up_and_are_swapped_in(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Before v2 has workers the swap is refused (409, still catching up); with them it catches up
    to the live chunk count and the CLI swaps the alias to chunks_v2, which searches then read."""
    names = TopicNames(prefix=f"cr{uuid.uuid4().hex[:8]}.")
    settings = Settings(home=tmp_path / "home", kafka=KafkaSettings(partitions=2, topic_prefix=names.prefix))
    corpus = generate_corpus(tmp_path / "corpus", n_docs=6, seed=9, include_broken=False)
    vectors = vector_index(settings)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(vectors.close)
        graph = await stack.enter_async_context(graph_store(settings))
        opened = {"embedder": LocalEmbedder(), "vectors": vectors, "graph": graph}
        live = await stack.enter_async_context(
            run_roles(settings, [*STAGES, "api"], kafka_bootstrap, names, opened=opened)
        )
        server, task, port = await start_server(live.http_app, "127.0.0.1", 0)
        stack.callback(setattr, server, "should_exit", True)
        api = f"http://127.0.0.1:{port}"
        [pipe, *_] = live.pipelines
        watcher = OutcomeWatcher(kafka_bootstrap, names, pipe.codec)
        publisher = DocumentPublisher(kafka_bootstrap, names, pipe.codec, pipe.blobs)
        subs = [await publisher.upsert(p, TENANT) for p in corpus.good_paths]
        publisher.flush()
        assert {o.status for o in await watcher.wait(subs, 180)} == {"indexed"}
        watcher.close()
        assert await vectors.resolve("chunks") == "chunks_v1"
        chunks = await vectors.count("chunks_v1", must={})

        token = issue_token(settings.gateway_secret(), TENANT, "ops", 600, ops=True)
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=api, headers=auth, timeout=30) as http:
            early = await http.post("/v1/generations/v2/swap")
            assert early.status_code == 409
            assert "catching up" in early.json()["detail"]
            assert (await http.get("/v1/generations/x2")).status_code == 422

        answers: list[int] = []
        stop = asyncio.Event()

        async def keep_searching() -> None:
            """Searches through the API all along: none may fail or come back empty."""
            async with httpx.AsyncClient(base_url=api, headers=auth, timeout=30) as http:
                while not stop.is_set():
                    found = await http.get("/v1/search", params={"q": corpus.documents[1].marker_code})
                    answers.append(len(found.json()["chunks"]) if found.status_code == 200 else -1)
                    await asyncio.sleep(0.1)

        searcher = asyncio.create_task(keep_searching())
        v2 = settings.model_copy(update={"generation": "v2"})
        await stack.enter_async_context(
            run_roles(v2, list(GENERATION_STAGES), kafka_bootstrap, names, opened=opened)
        )
        cli = await asyncio.to_thread(
            subprocess.run,
            [RAGSTREAM, "reindex", "--generation", "v2", "--timeout", "180", "--url", api, "--token", token],
            capture_output=True,
            text=True,
            timeout=240,
        )
        stop.set()
        await searcher
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert "swapped" in cli.stdout
        assert len(answers) > 10
        assert min(answers) > 0, "a search during the reindex failed or came back empty"
        assert await vectors.resolve("chunks") == "chunks_v2"
        assert await vectors.count("chunks_v2", must={}) == chunks
        async with httpx.AsyncClient(base_url=api, headers=auth, timeout=30) as http:
            state = (await http.get("/v1/generations/v2")).json()
            assert state["previous"] == "chunks_v2"
            assert (await http.post("/v1/generations/v2/swap")).status_code == 409  # already live
            found = (await http.get("/v1/search", params={"q": corpus.documents[0].marker_code})).json()
            assert found["collection"] == "chunks_v2"
            assert found["chunks"]
        server.should_exit = True
        await task
