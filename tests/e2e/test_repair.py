"""Clean restarts keep everything (dead letters included), and a store that lost data behind the
stack's back (a restore from an older backup, a hand-made deletion) is named by `ragstream status`
and re-derived by `ragstream repair` from the chunk topic, in place, duplicating nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bench.corpus import generate_corpus
from services.common import ids
from services.publisher import source_uri
from services.stores.vectors_edge import EdgeVectorIndex
from tests.stack_process import Up

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def forget(vectors_dir: Path, paths: list[Path]) -> None:
    """Delete the documents' points from the stopped stack's vector store, as an old backup would."""
    vectors = EdgeVectorIndex(vectors_dir)
    try:
        collection = await vectors.resolve("chunks")
        assert collection is not None
        for path in paths:
            await vectors.delete(collection, must={"doc_id": ids.doc_id("default", source_uri(path))})
    finally:
        await vectors.close()


def test_restarts_keep_dead_letters_and_repair_rederives_lost_vectors(tmp_path: Path) -> None:
    """Half the documents' vectors gone: status says so, repair restores every chunk and nothing
    twice; the dead letters of the broken files outlive the restart."""
    corpus = generate_corpus(tmp_path / "docs", n_docs=10, seed=31, include_broken=True)
    up = Up(tmp_path / "home", tmp_path / "up.log")
    try:
        up.start()
        assert up.cli("publish", str(corpus.root)).returncode == 1  # the broken files failed
        complete = up.settled()
        assert complete["problems"] == []
        up.stop()
        lost = [d.path for d in corpus.documents[::2]]
        asyncio.run(forget(up.home / "data" / "vectors", lost))

        up.start()
        damaged = up.settled()
        assert damaged["chunks"] < complete["chunks"]
        assert any("the stores disagree" in p for p in damaged["problems"]), damaged["problems"]
        shown = up.cli("status")
        assert "problem:" in shown.stdout
        assert "ragstream repair" in shown.stdout
        letters = up.cli("dlq", "list", "--json")
        assert letters.returncode == 0, letters.stderr
        reasons = {row["reason"] for row in json.loads(letters.stdout)}
        assert reasons == {b.expected_reason for b in corpus.broken}  # kept through the restart

        repaired = up.cli("repair", "--timeout", "300")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        assert "repaired" in repaired.stdout
        after = up.settled()
        assert after["problems"] == []
        assert after["chunks"] == complete["chunks"]  # everything back, nothing twice
        assert after["graph"] == complete["graph"]
        code = corpus.documents[0].marker_code
        found = up.cli("search", code, "--json")
        assert found.returncode == 0, found.stderr
        assert any(code in c["text"] for c in json.loads(found.stdout)["chunks"])
    finally:
        if up.proc is not None and up.proc.poll() is None:
            up.kill9()
