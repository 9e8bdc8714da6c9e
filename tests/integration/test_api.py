"""The public HTTP API over the embedded stack: uploads streamed into the pipeline and answered once
indexed, the tenant always the token's, deletes that reach the index, clear 4xx for bad requests
(no token, forged token, operator routes, oversize, empty, malformed), and a schemathesis fuzz of
every operation from the OpenAPI document that never gets a server error."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from services import roles
from services.admin import serve
from services.common.settings import KafkaSettings, PipelineSettings, Settings
from services.gateway import issue_token
from services.generations import run_stack
from services.models.embedder import LocalEmbedder
from services.models.precision import choose, describe
from topics import TopicNames

pytestmark = pytest.mark.integration
LIMIT = 256 * 1024
NOTE = b"# Quillfeather\n\nThe Quillfeather archive was catalogued by Orla Brennan in 2031.\n"


@dataclass
class Api:
    url: str
    secret: str
    names: TopicNames
    bootstrap: str

    def token(self, tenant: str = "acme", **claims: Any) -> str:
        return issue_token(self.secret, tenant, f"u{uuid.uuid4().hex[:6]}", 600, **claims)

    def client(self, tenant: str = "acme", **claims: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token(tenant, **claims)}"}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=120)


@pytest.fixture(scope="module")
async def api(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    """The embedded stack (its own topics) with the public API on a free loopback port."""
    names = TopicNames(prefix=f"api{uuid.uuid4().hex[:8]}.")
    settings = Settings(
        home=tmp_path_factory.mktemp("api"),
        kafka=KafkaSettings(partitions=2, topic_prefix=names.prefix),
        pipeline=PipelineSettings(
            max_document_bytes=LIMIT, retry_attempts=2, retry_base_delay_s=0.05, upload_idle_timeout_s=1.0
        ),
        cache_answers=False,
    )
    async with (
        run_stack(settings, bootstrap=kafka_bootstrap, names=names, embedder=LocalEmbedder()) as stack,
        serve(stack, "127.0.0.1", 0) as (_, port),
    ):
        yield Api(f"http://127.0.0.1:{port}", settings.gateway_secret(), names, kafka_bootstrap)


async def test_an_upload_is_indexed_and_searchable_for_its_tenant_only(api: Api) -> None:
    """Upload with wait answers 'indexed' with the chunk count; search finds it with the uploader's
    token and not with another tenant's; the same bytes again change nothing."""
    async with api.client() as http:
        params = {"filename": "quill.md", "wait": "true", "timeout_s": "120"}
        answer = await http.post("/v1/documents", params=params, content=NOTE)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["status"], body["chunks"], body["operation"]) == ("indexed", 1, "UPSERT")
        found = (await http.get("/v1/search", params={"q": "who catalogued the Quillfeather archive"})).json()
        assert any("Orla Brennan" in c["text"] for c in found["chunks"])
        again = await http.post("/v1/documents", params=params, content=NOTE)
        assert again.json()["doc_id"] == body["doc_id"]
        assert again.json()["version"] == body["version"]
    async with api.client("intruder") as http:
        other = (await http.get("/v1/search", params={"q": "Quillfeather Orla Brennan"})).json()
        assert other["chunks"] == []


async def test_a_delete_removes_the_document(api: Api) -> None:
    """DELETE with wait answers 'deleted'; the document is no longer found. Another tenant's upload of
    the same name is another document: its delete leaves this one alone."""
    params = {"filename": "gone.md", "wait": "true"}
    gone_uri = {"source_uri": "upload:///gone.md", "wait": "true"}
    async with api.client("deleter") as http:
        up = await http.post(
            "/v1/documents", params=params, content=b"# Gone\n\nThe Vantablue ledger exists.\n"
        )
        assert up.json()["status"] == "indexed"
    async with api.client("neighbour") as http:
        same = await http.post("/v1/documents", params=params, content=b"# Gone\n\nTheir own note.\n")
        assert same.json()["doc_id"] != up.json()["doc_id"]
        theirs = await http.delete("/v1/documents", params=gone_uri)
        assert theirs.json()["status"] == "deleted"
    async with api.client("deleter") as http:
        kept = (await http.get("/v1/search", params={"q": "Vantablue ledger"})).json()
        assert any("Vantablue" in c["text"] for c in kept["chunks"])
        gone = await http.delete("/v1/documents", params={"source_uri": "upload:///gone.md", "wait": "true"})
        assert gone.status_code == 200
        assert gone.json()["status"] == "deleted"
        found = (await http.get("/v1/search", params={"q": "Vantablue ledger"})).json()
        assert found["chunks"] == []


async def test_a_broken_document_is_answered_as_failed_with_its_reason(api: Api) -> None:
    """A corrupt PDF is dead-lettered; the waiting upload says where and why."""
    async with api.client() as http:
        params = {"filename": "broken.pdf", "wait": "true", "timeout_s": "120"}
        answer = await http.post("/v1/documents", params=params, content=b"%PDF-1.7\n" + os.urandom(512))
    body = answer.json()
    assert (body["status"], body["stage"]) == ("failed", "parse")
    assert body["reason"] == "corrupt"


async def test_bad_requests_get_clear_4xx(api: Api) -> None:
    """No token or a forged one: 401; a user token on operator routes: 403; oversize: 413 (declared
    or streamed); empty body: 400; a path in the filename or none: 422."""
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as anonymous:
        missing = await anonymous.get("/v1/search", params={"q": "x"})
        assert missing.status_code == 401
        assert "Bearer" in missing.headers["www-authenticate"]
        forged = issue_token("not-the-secret-but-long-enough-for-hs256!", "acme", "mallory", 600)
        bad = await anonymous.get(
            "/v1/search", params={"q": "x"}, headers={"Authorization": f"Bearer {forged}"}
        )
        assert bad.status_code == 401
    async with api.client() as http:
        assert (await http.get("/v1/status")).status_code == 403
        assert (await http.get("/v1/dlq")).status_code == 403
        assert (await http.post("/v1/reindex")).status_code == 403
        big = b"x" * (LIMIT + 1)
        assert (
            await http.post("/v1/documents", params={"filename": "big.txt"}, content=big)
        ).status_code == 413

        async def stream() -> AsyncIterator[bytes]:
            for _ in range(LIMIT // 4096 + 2):
                yield b"y" * 4096

        streamed = await http.post("/v1/documents", params={"filename": "big.txt"}, content=stream())
        assert streamed.status_code == 413
        assert (await http.post("/v1/documents", params={"filename": "e.md"}, content=b"")).status_code == 400
        assert (
            await http.post("/v1/documents", params={"filename": "../x.md"}, content=b"x")
        ).status_code == 422
        assert (await http.post("/v1/documents", content=b"x")).status_code == 422
        assert (await http.get("/v1/search", params={"q": "x", "k": "500"})).status_code == 422


async def test_an_upload_whose_body_stops_coming_is_answered_408(api: Api) -> None:
    """A client that sends a few bytes of a body it says is larger, then nothing: the first form
    waited for the rest without end, holding a temporary file of up to the document limit."""
    host, port = api.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST /v1/documents?filename=slow.md HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {api.token()}\r\nContent-Type: application/octet-stream\r\n"
        "Content-Length: 1000\r\n\r\n# Slow\n"
    )
    writer.write(head.encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 15)
    writer.close()
    assert status_line.split()[1] == b"408", status_line


async def test_an_operator_reads_status_and_dead_letters(api: Api) -> None:
    """With the ops claim: the backlog per stage and the index counts; the dead letters listed."""
    async with api.client(ops=True) as http:
        state = (await http.get("/v1/status")).json()
        assert {row["stage"] for row in state["backlog"]} == set(roles.names()) - {"gateway", "api"}
        assert state["collection"] == "chunks_v1"
        precision = choose("auto")  # the in-process embedder's, from this CPU's flags
        assert state["embedder"] == f"all-MiniLM-L6-v2 ({describe(precision)})"
        letters = await http.get("/v1/dlq")
        assert letters.status_code == 200
        assert all({"dlq_topic", "reason", "replayed"} <= set(d) for d in letters.json())
        info = (await http.get("/v1/info")).json()
        assert info["operator"] is True


def publish_ratings(api: Api, *tenants: str) -> None:
    """One rated answer per tenant on the stack's feedback topic, as the gateway writes them."""
    from confluent_kafka import Producer

    from services.common.codec import SingleObjectCodec
    from services.common.messages import AnswerFeedback
    from topics import FEEDBACK

    topic, codec = api.names(FEEDBACK), SingleObjectCodec()
    producer = Producer({"bootstrap.servers": api.bootstrap})
    for tenant in tenants:
        record = AnswerFeedback(
            feedback_id=uuid.uuid4().hex, request_id=uuid.uuid4().hex, tenant=tenant, user="u", rating="UP",
            question=f"What does {tenant} sell?", answer="Lamps. [1]", given_at=datetime.now(UTC),
        )  # fmt: skip
        producer.produce(topic, codec.encode(record, topic), key=record.request_id.encode())
    assert producer.flush(30) == 0


async def test_an_operator_reads_the_feedback_of_their_own_tenant_unless_asking_for_all(api: Api) -> None:
    """The first form gave an operator every tenant's rated questions, answers and comments unless
    they asked for one; the tenant now comes from the token, and `*` asks for all explicitly."""
    await asyncio.to_thread(publish_ratings, api, "acme", "globex")
    async with api.client(ops=True) as http:
        own = (await http.get("/v1/feedback/candidates")).json()["candidates"]
        every = (await http.get("/v1/feedback/candidates", params={"tenant": "*"})).json()["candidates"]
    assert {c["question"] for c in own} == {"What does acme sell?"}
    assert {"What does acme sell?", "What does globex sell?"} <= {c["question"] for c in every}


async def test_the_api_survives_a_fuzz_from_its_openapi_document(api: Api) -> None:
    """schemathesis generates requests for every operation (with a valid user token and without):
    none gets a 5xx, and every answer matches the documented status codes."""
    import schemathesis
    from schemathesis.checks import not_a_server_error, status_code_conformance

    async with httpx.AsyncClient(base_url=api.url) as http:
        document = (await http.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    token = api.token("fuzz")
    failures: list[str] = []

    def fuzz_one(operation: Any) -> None:
        @hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            if case.query and case.query.get("wait") in (True, "true"):
                case.query["timeout_s"] = 1  # an arbitrary document is not waited for
            auth = {"Authorization": f"Bearer {token}"}
            response = case.call(base_url=api.url, headers=auth, timeout=30)
            try:
                case.validate_response(response, checks=[not_a_server_error, status_code_conformance])
            except Exception as exc:
                failures.append(f"{operation.label}: {exc}")
                raise

        check()

    def fuzz() -> None:
        for result in schema.get_all_operations():
            fuzz_one(result.ok())

    await asyncio.to_thread(fuzz)
    assert failures == []
