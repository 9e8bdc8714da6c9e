"""``GET /v1/ops`` and the ops page's files, served by the API over real Tansu (no pipeline: this
is the fast check; tests/browser/test_ops_page.py runs the page against the whole stack)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer

from services.admin import api_ports
from services.api import build_api
from services.common import kafka_conf
from services.common.codec import make_codec
from services.common.settings import Settings
from services.gateway import issue_token
from services.gateway.page import CSP
from services.stores.blobs import LocalBlobStore
from tests.support import loopback_app
from topics import INGEST, TopicNames
from topics.admin import ensure_topics

pytestmark = pytest.mark.integration


@dataclass
class Api:
    url: str
    secret: str

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=60)

    def token(self, ttl_s: int = 300, **claims: Any) -> str:
        return issue_token(self.secret, "acme", "ops-test", ttl_s, **claims)


@pytest.fixture
async def api(
    kafka_bootstrap: str, names: TopicNames, settings: Settings, tmp_path: Path
) -> AsyncIterator[Api]:
    """The API alone (no stages) on this test's topics, with the registry's topics created."""
    await asyncio.to_thread(ensure_topics, kafka_bootstrap, names, 1)
    blobs, codec = LocalBlobStore(tmp_path / "blobs"), make_codec(None)
    async with (
        api_ports(settings, kafka_bootstrap, names, blobs, codec) as ports,
        loopback_app(build_api(ports)) as url,
    ):
        yield Api(url, settings.gateway_secret())


def dead_letter(bootstrap: str, names: TopicNames, reason: str) -> None:
    """A record on docs.ingest.dlq with the headers the stage runtime writes."""
    producer = Producer(kafka_conf.client(bootstrap))
    headers = {"x-dlq-stage": "parse", "x-dlq-reason": reason, "x-dlq-error": "PdfError: broken"}
    producer.produce(names.dlq(INGEST), b"%PDF-1.7 broken", key=b"doc-1", headers=list(headers.items()))
    assert producer.flush(10) == 0


async def test_the_snapshot_needs_an_operator_token(api: Api) -> None:
    """No token or an expired one: 401 naming why; a user's token without the ops claim: 403."""
    async with api.client() as anonymous:
        missing = await anonymous.get("/v1/ops")
    assert missing.status_code == 401
    assert 'error="missing_token"' in missing.headers["www-authenticate"]
    async with api.client(api.token(ttl_s=-60, ops=True)) as expired:
        late = await expired.get("/v1/ops")
    assert late.status_code == 401
    assert 'error="expired_token"' in late.headers["www-authenticate"]
    async with api.client(api.token()) as user:
        refused = await user.get("/v1/ops")
    assert refused.status_code == 403
    assert "operator" in refused.json()["detail"]


async def test_an_operator_gets_stages_and_dead_letters_by_reason(
    api: Api, kafka_bootstrap: str, names: TopicNames
) -> None:
    """One snapshot: every stage's input topic with its numbers, the dead letter counted under its
    stage and reason, freshness and no index here; concurrent viewers share one sample."""
    await asyncio.to_thread(dead_letter, kafka_bootstrap, names, "corrupt")
    async with api.client(api.token(ops=True)) as operator:
        first, second = await asyncio.gather(operator.get("/v1/ops"), operator.get("/v1/ops"))
    assert first.status_code == second.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    body = first.json()
    assert body["sampled_at"] == second.json()["sampled_at"]  # one sample for both
    parse = next(s for s in body["stages"] if s["stage"] == "parse")
    assert parse["topic"] == "docs.ingest"  # the deployment's prefix taken off
    assert {k: type(parse[k]) for k in ("end", "committed", "lag")} == dict.fromkeys(
        ("end", "committed", "lag"), int
    )
    assert parse["rate"] is None  # one sample: no rate yet
    assert {s["stage"] for s in body["stages"]} >= {"parse", "chunk", "embed", "extract-graph", "index"}
    assert body["dead_letters"]["by_reason"] == [
        {"stage": "parse", "reason": "corrupt", "count": 1, "replayed": 0}
    ]
    assert body["dead_letters"]["total"] == 1
    assert set(body["freshness"]) == {"here", "count", "p50_s", "p95_s"}
    assert (body["index"], body["reindex"], body["problems"], body["error"]) == (None, None, [], None)


async def test_the_page_and_its_files_are_served_under_the_chat_pages_policy(api: Api) -> None:
    """/ops and its script and stylesheet come with the strict CSP and no-referrer; other names 404;
    none of them is in the OpenAPI document."""
    async with api.client() as anonymous:
        page = await anonymous.get("/ops")
        script = await anonymous.get("/ops/static/ops.js")
        style = await anonymous.get("/ops/static/ops.css")
        unknown = await anonymous.get("/ops/static/../app.py")
        nothing = await anonymous.get("/ops/static/secret.txt")
        document = (await anonymous.get("/openapi.json")).json()
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/ops/static/ops.js"' in page.text
    for response in (page, script, style):
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert script.headers["content-type"].startswith("text/javascript")
    assert style.headers["content-type"].startswith("text/css")
    assert unknown.status_code == nothing.status_code == 404
    assert "/v1/ops" in document["paths"]
    assert not any(path.startswith("/ops") for path in document["paths"])
