"""Runs a golden set against a deployment through its public surfaces only — the HTTP API (publish,
search) and the chat gateway (ask) — so it measures a local `ragstream up` and a remote cluster alike.

Documents are published under ``golden://<path>`` (content-addressed: publishing the same set again
changes nothing) and every answer's citations are mapped back to those paths. The questions of one
conversation share a chat session, in turn order; the others each get a session of their own.

With a ``Judge`` (an LLM), every answer that is not "I don't know" is also graded for faithfulness
against the passages the index holds for it — the top chunks for the question and for the answer's own
words (an extractive answer finds the passage it quotes) — and for relevancy to the question.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from services.eval.golden import GoldenItem, documents, sessions
from services.eval.judge import Judge
from services.eval.metrics import Outcome, Scores, says_dont_know, score
from services.gateway.client import AskFailed, ask

SCHEME = "golden://"


@dataclass(frozen=True)
class Target:
    api_url: str
    gateway_url: str
    token: str
    # Where the eval may mint tokens (a local stack): each chat session asks as a user of its own, so
    # the gateway's per-user rate limit does not stretch a run of 68 questions to minutes of waiting.
    token_for: Callable[[str], str] | None = None
    # A fresh API token (a local stack's live ten minutes, and a run with a judge takes longer): read
    # for every session. Without it, ``token`` is used throughout.
    api_token_for: Callable[[], str] | None = None


class SearchFailed(RuntimeError):
    """The API did not answer a search (an expired token, a proxy's error page): the question is
    recorded as an error, never as a retrieval miss."""


def source_of(uri: str) -> str:
    """``golden://noise/x.md`` → ``noise/x.md`` (anything else: unchanged)."""
    return uri[len(SCHEME) :] if uri.startswith(SCHEME) else uri


async def publish(target: Target, root: Path, on_done: Callable[[str, str], None] | None = None) -> int:
    """Publish every document of the set and wait until each is indexed; how many failed."""
    docs = documents(root)
    failed = 0
    gate = asyncio.Semaphore(32)  # uploads in flight: each waits for its document to be indexed
    async with httpx.AsyncClient(base_url=target.api_url, timeout=900,
                                 headers={"Authorization": f"Bearer {target.token}"}) as http:  # fmt: skip

        async def one(path: Path) -> None:
            nonlocal failed
            name = path.relative_to(root / "docs").as_posix()
            params: dict[str, str | int] = {
                "filename": path.name, "source_uri": SCHEME + name, "wait": "true", "timeout_s": 600
            }  # fmt: skip
            async with gate:
                data = await asyncio.to_thread(path.read_bytes)
                reply = await http.post("/v1/documents", params=params, content=data)
            status = str(reply.json().get("status")) if reply.is_success else f"HTTP {reply.status_code}"
            failed += status != "indexed"
            if on_done is not None:
                on_done(name, status)

        await asyncio.gather(*(one(p) for p in docs))
    return failed


async def search(http: httpx.AsyncClient, question: str, k: int = 5) -> list[dict[str, Any]]:
    """The top chunks for ``question`` (source_uri, text, ...), best first."""
    reply = await http.get("/v1/search", params={"q": question, "k": k})
    if not reply.is_success:
        raise SearchFailed(f"search: HTTP {reply.status_code}: {reply.text[:200]}")
    try:
        body: dict[str, Any] = reply.json()
    except ValueError:
        raise SearchFailed(f"search: not JSON: {reply.text[:200]!r}") from None
    return list(body.get("chunks", []))


def sources(chunks: list[dict[str, Any]]) -> list[str]:
    return [source_of(str(chunk.get("source_uri", ""))) for chunk in chunks]


async def grounds(
    http: httpx.AsyncClient, question: str, answer: str, asked: list[dict[str, Any]] | None
) -> list[str]:
    """What the judge reads an answer against: the top chunks for the question (``asked``, when the
    run already searched it) and for the answer."""
    found = asked if asked is not None else await search(http, question)
    found = found + (await search(http, answer[:500]) if answer.strip() else [])
    return list(dict.fromkeys(str(c.get("text", "")) for c in found if c.get("text")))


async def run(
    target: Target,
    items: list[GoldenItem],
    on_scored: Callable[[Scores], None] | None = None,
    judge: Judge | None = None,
) -> list[Scores]:
    """Ask every question (sessions one after another, so latencies are not queueing) and score it."""
    scored: list[Scores] = []
    async with httpx.AsyncClient(base_url=target.api_url, timeout=120,
                                 headers={"Authorization": f"Bearer {target.token}"}) as http:  # fmt: skip
        for session in sessions(items):
            session_id = f"eval-{uuid.uuid4().hex[:12]}"
            token = target.token_for(session_id) if target.token_for else target.token
            if target.api_token_for is not None:
                http.headers["Authorization"] = f"Bearer {target.api_token_for()}"
            for item in session:
                outcome = Outcome()
                asked: list[dict[str, Any]] | None = None  # a later turn's words do not stand alone
                if item.turn == 1:
                    try:
                        asked = await search(http, item.question)
                        outcome.hits = sources(asked)
                    except (SearchFailed, httpx.HTTPError) as exc:
                        outcome.error = str(exc) or type(exc).__name__
                started = time.perf_counter()
                try:
                    answer = await ask(target.gateway_url, token, item.question, session_id)
                    outcome.answer = answer.text
                    outcome.cited = [source_of(str(c.get("source_uri", ""))) for c in answer.citations]
                    outcome.seconds = answer.seconds
                except (AskFailed, OSError, TimeoutError) as exc:
                    outcome.error = str(exc)
                    outcome.seconds = time.perf_counter() - started
                if judge is not None and outcome.error is None and not says_dont_know(outcome.answer):
                    try:
                        passages = await grounds(http, item.question, outcome.answer, asked)
                        outcome.judgement = await judge.judge(item.question, outcome.answer, passages)
                    except (SearchFailed, httpx.HTTPError) as exc:
                        outcome.error = str(exc) or type(exc).__name__
                result = score(item, outcome)
                scored.append(result)
                if on_scored is not None:
                    on_scored(result)
    return scored
