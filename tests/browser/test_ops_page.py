"""The ops page in a real browser (Debian chromium via Playwright) against the whole embedded stack:
the API serves the page, the page polls ``/v1/ops`` with an operator token and redraws in place."""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import ConsoleMessage, Page, expect

from services.admin import serve
from services.common.settings import KafkaSettings, Settings
from services.gateway import issue_token
from services.generations import run_stack
from services.models.embedder import LocalEmbedder
from topics import TopicNames

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "docs"
DOCS = (
    "003-juniper-networks-and-helios-labs-annual-briefing.md",
    "004-larkspur-robotics-and-riverstone-biotech-annual.txt",
)
SCREENSHOT = Path(os.environ.get("TMPDIR") or tempfile.gettempdir()) / "ragstream-ops-page.png"
LIVE_MS = 30_000  # a sample every ~3 s, dead letters counted every 5 s


@dataclass(frozen=True)
class OpsSite:
    base: str  # the API's base URL (it serves /ops)
    secret: str

    def token(self, ttl_s: int = 600, **claims: object) -> str:
        return issue_token(self.secret, "acme", "ops-browser", ttl_s, **claims)

    def client(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token()}"}
        return httpx.AsyncClient(base_url=self.base, headers=headers, timeout=120)


@pytest.fixture(scope="module")
async def ops_site(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OpsSite]:
    """The embedded stack with its API on a free port and two example documents indexed."""
    names = TopicNames(prefix=f"ops{uuid.uuid4().hex[:8]}.")
    settings = Settings(home=tmp_path_factory.mktemp("ops"), kafka=KafkaSettings(topic_prefix=names.prefix))
    async with (
        run_stack(settings, bootstrap=kafka_bootstrap, names=names, embedder=LocalEmbedder()) as stack,
        serve(stack, "127.0.0.1", 0) as (_, port),
    ):
        site = OpsSite(f"http://127.0.0.1:{port}", settings.gateway_secret())
        async with site.client() as http:
            for name in DOCS:
                params = {"filename": name, "wait": "true", "timeout_s": "120"}
                answer = await http.post(
                    "/v1/documents", params=params, content=(EXAMPLES / name).read_bytes()
                )
                assert answer.json()["status"] == "indexed", answer.text
        yield site


def policy_violations(page: Page) -> list[str]:
    """Console errors about the content security policy, collected from now on."""
    seen: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            seen.append(message.text)

    page.on("console", keep)
    return seen


async def test_stages_index_freshness_and_a_new_dead_letter_show_without_a_reload(
    page: Page, ops_site: OpsSite
) -> None:
    """With an operator token the page shows every stage with its numbers and lag bar, the live
    generation, freshness and the reindex; a corrupt PDF published while it is open appears under
    parse / corrupt and in parse's throughput sparkline, in the same document (no reload)."""
    violations = policy_violations(page)
    await page.goto(f"{ops_site.base}/ops?token={ops_site.token(ops=True)}")
    assert "token=" not in page.url  # taken out of the address bar, kept in sessionStorage
    await expect(page.locator("#conn")).to_have_text("live")

    parse = page.locator('#stages tr[data-stage="parse"]')
    await expect(parse).to_contain_text("docs.ingest")
    await expect(parse.locator("td.num")).to_have_text("2 / 2")
    for stage in ("chunk", "embed", "extract-graph", "index"):
        row = page.locator(f'#stages tr[data-stage="{stage}"]').first
        await expect(row.locator("td.num")).to_have_text(re.compile(r"^[1-9]\d* / [1-9]\d*$"))
        await expect(row.locator(".lagbar-fill")).to_have_count(1)
        await expect(row.locator("svg.spark")).to_have_count(1)
    await expect(page.locator("#generation")).to_have_text("v1")
    await expect(page.locator("#collection")).to_have_text("chunks_v1")
    assert int(await page.locator("#chunks").inner_text()) >= 2
    await expect(page.locator("#fresh-p50")).to_have_text(re.compile(r"^≈[\d.,]+ (s|min)$"))
    assert int(await page.locator("#fresh-count").inner_text()) >= len(DOCS)
    await expect(page.locator("#reindex-text")).to_contain_text("No reindex")
    await expect(page.locator("#dlq-empty")).to_be_visible()
    await expect(page.locator("#dlq-total")).to_have_text("0")

    await page.evaluate("window.__sameDocument = true")
    async with ops_site.client() as http:
        broken = b"%PDF-1.7\n" + os.urandom(512)
        sent = await http.post("/v1/documents", params={"filename": "broken.pdf"}, content=broken)
        assert sent.status_code == 202, sent.text

    letter = page.locator('#dlq tr[data-stage="parse"][data-reason="corrupt"]')
    await expect(letter).to_be_visible(timeout=LIVE_MS)
    await expect(letter.locator("td.count")).to_have_text("1")
    await expect(page.locator("#dlq-total")).to_have_text("1")
    await expect(parse.locator("td.num")).to_have_text("3 / 3", timeout=LIVE_MS)
    await expect(parse.locator("svg.spark")).not_to_have_attribute("data-peak", "0", timeout=LIVE_MS)
    assert await page.evaluate("window.__sameDocument") is True  # redrawn in place, never reloaded
    assert violations == []
    await page.screenshot(path=str(SCREENSHOT), full_page=True)


@pytest.mark.parametrize(
    ("claims", "ttl_s", "expected"),
    [({}, 600, "Not an operator's token"), ({"ops": True}, -60, "expired"), (None, 0, "No token")],
    ids=["user-403", "expired-401", "missing"],
)
async def test_a_token_that_cannot_read_the_page_gets_a_clear_error(
    page: Page, ops_site: OpsSite, claims: dict[str, bool] | None, ttl_s: int, expected: str
) -> None:
    """A user's token (no ops claim), an expired operator token or none: a plain-words alert, no
    numbers; pasting an operator token then brings the page up without a reload."""
    query = "" if claims is None else f"?token={ops_site.token(ttl_s, **claims)}"
    await page.goto(f"{ops_site.base}/ops{query}")
    await expect(page.get_by_role("alert")).to_contain_text(expected)
    await expect(page.locator("#conn")).to_have_text(
        "not authenticated" if claims is not None else "no token"
    )
    await expect(page.locator("#board")).to_be_hidden()
    if claims == {}:
        await page.screenshot(path=str(SCREENSHOT.with_name("ragstream-ops-page-403.png")))

    await page.locator("#token").fill(ops_site.token(ops=True))
    await page.locator("#token").dispatch_event("change")
    await expect(page.locator("#conn")).to_have_text("live")
    await expect(page.locator("#board")).to_be_visible()
    await expect(page.get_by_role("alert")).to_be_hidden()
