"""The web chat page in a real browser (Debian chromium via Playwright) against the whole embedded stack:
the gateway serves the page, the page talks the websocket protocol, the agent answers."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from playwright.async_api import Page, WebSocketRoute, expect

from services.gateway import issue_token
from tests.browser.conftest import Site

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
TENANT = "acme"
QUESTION = "Who works for Helios Labs?"
ANSWER_TIMEOUT_MS = 120_000
SCREENSHOT = Path(os.environ.get("TMPDIR") or tempfile.gettempdir()) / "ragstream-chat-page.png"

# Samples the last answer's text length after every DOM change (each websocket frame is its own task,
# so each streamed token shows up as its own sample).
RECORD_ANSWER_LENGTHS = """() => {
  window.__answerLengths = [];
  new MutationObserver(() => {
    const answers = document.querySelectorAll('.turn .answer');
    if (!answers.length) return;
    const n = answers[answers.length - 1].textContent.length;
    const seen = window.__answerLengths;
    if (seen[seen.length - 1] !== n) seen.push(n);
  }).observe(document.getElementById('transcript'), {subtree: true, childList: true, characterData: true});
}"""


async def open_chat(page: Page, site: Site, token: str | None = None) -> None:
    token = token or issue_token(site.secret, TENANT, "alice", 300)
    await page.goto(f"{site.base}/?token={token}")
    await expect(page.locator("#token")).to_have_value(token)
    await page.evaluate(RECORD_ANSWER_LENGTHS)


async def ask(page: Page, question: str) -> None:
    await page.get_by_label("Your question").fill(question)
    await page.get_by_role("button", name="Ask").click()


async def test_question_streams_steps_answer_and_openable_citations(page: Page, site: Site) -> None:
    """A question shows plan → retrieve → respond, streams the answer token by token, and its Helios
    citation expands to the source's title, page and URI."""
    await open_chat(page, site)
    assert "token=" not in page.url  # taken out of the address bar, kept in sessionStorage
    await ask(page, QUESTION)
    turn = page.locator(".turn").last
    await expect(turn).to_have_attribute("data-state", "done", timeout=ANSWER_TIMEOUT_MS)

    steps = await turn.locator(".steps li").evaluate_all("els => els.map(e => e.dataset.step)")
    assert steps == ["plan", "retrieve", "respond"]
    answer = turn.locator(".answer")
    await expect(answer).to_have_attribute("aria-live", "polite")
    await expect(answer).to_have_attribute("aria-busy", "false")
    text = await answer.inner_text()
    assert "works for Helios Labs" in text
    lengths: list[int] = await page.evaluate("window.__answerLengths")
    assert len(lengths) >= 3, lengths  # grew in several steps, not all at once
    assert lengths == sorted(lengths), lengths
    assert lengths[-1] == len(await answer.text_content() or ""), lengths

    citations = turn.locator(".citations li")
    assert await citations.count() >= 1
    helios = citations.filter(has_text=re.compile("helios", re.I)).first
    details = helios.locator("details")
    await expect(details.locator("dl")).to_be_hidden()
    await helios.locator("summary").click()
    await expect(details).to_have_attribute("open", "")
    source = details.locator("dl")
    await expect(source).to_be_visible()
    await expect(source).to_contain_text(re.compile("helios", re.I))
    await expect(source.locator("dd").nth(2)).to_contain_text(re.compile(r"\w+://.*helios", re.I))
    await expect(source.get_by_role("button", name="Copy source address")).to_be_visible()

    # the [n] markers in the answer open their source too
    marker = answer.locator("button.marker").first
    n = (await marker.inner_text()).strip("[]")
    await marker.click()
    await expect(turn.locator(f'.citations li[data-n="{n}"] details')).to_have_attribute("open", "")

    await page.screenshot(path=str(SCREENSHOT), full_page=True)


@pytest.mark.parametrize(
    ("ttl_s", "foreign_key", "expected"),
    [(300, True, "was refused"), (-60, False, "expired")],
    ids=["forged-4403", "expired-4401"],
)
async def test_bad_token_shows_an_authentication_error(
    page: Page, site: Site, ttl_s: int, foreign_key: bool, expected: str
) -> None:
    """A forged (4403) or expired (4401) token ends in a plain-words authentication error, no answer."""
    secret = site.secret
    token = issue_token(
        "someone-elses-signing-secret-0123456789" if foreign_key else secret, TENANT, "alice", ttl_s
    )
    await open_chat(page, site, token)
    await ask(page, QUESTION)
    notice = page.get_by_role("alert").filter(has_text="Authentication failed")
    await expect(notice.first).to_contain_text(expected)
    await expect(page.locator("#conn")).to_have_text("not authenticated")
    turn = page.locator(".turn").last
    await expect(turn).to_have_attribute("data-state", "error")
    assert await turn.locator(".answer").inner_text() == ""
    if foreign_key:
        await page.screenshot(path=str(SCREENSHOT.with_name("ragstream-chat-page-auth-error.png")))


async def test_dropped_socket_reconnects_and_resumes_without_gaps(page: Page, site: Site) -> None:
    """When the socket drops mid-answer the page reconnects, resumes after the last event it showed and
    ends with the same answer, each token once."""
    drops = {"left": 1}
    tokens_seen = {"n": 0}
    finals: list[str] = []
    page_frames: list[dict[str, object]] = []

    async def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        first = drops["left"] > 0
        drops["left"] -= 1

        async def from_page(message: str | bytes) -> None:
            page_frames.append(json.loads(message))
            server.send(message)

        async def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame["type"] == "final":
                finals.append(frame["text"])
            if first and tokens_seen["n"] >= 1:
                return  # this connection is gone
            ws.send(message)
            if first and frame["type"] == "token":
                tokens_seen["n"] += 1
                if tokens_seen["n"] == 1:  # mid-answer (citations and final to come): it goes away
                    await ws.close(code=1001, reason="going away")
                    await server.close()

        ws.on_message(from_page)
        server.on_message(from_server)

    await page.route_web_socket(re.compile(r"/ws"), route)
    await open_chat(page, site)
    await ask(page, QUESTION)
    turn = page.locator(".turn").last
    await expect(turn).to_have_attribute("data-state", "done", timeout=ANSWER_TIMEOUT_MS)
    await expect(turn).to_have_attribute("data-resumed", "true")

    resumes = [f for f in page_frames if f["type"] == "resume"]
    assert resumes, page_frames
    assert isinstance(resumes[0]["after_seq"], int)
    assert resumes[0]["after_seq"] >= 0, page_frames
    text = await turn.locator(".answer").text_content() or ""
    assert finals
    assert text == finals[-1]
    assert "works for Helios Labs" in text
    lengths: list[int] = await page.evaluate("window.__answerLengths")
    assert lengths == sorted(lengths), lengths  # no token shown twice
    assert lengths[-1] == len(text), lengths


async def test_rate_limit_is_explained(page: Page, site: Site) -> None:
    """A rate_limited error says in plain words how long to wait."""

    async def route(ws: WebSocketRoute) -> None:
        ws.connect_to_server()

        async def from_page(message: str | bytes) -> None:
            if json.loads(message)["type"] == "ask":  # the gateway's answer to an empty bucket
                ws.send(
                    json.dumps(
                        {"type": "error", "code": "rate_limited", "message": "x", "retry_after_s": 6.2}
                    )
                )

        ws.on_message(from_page)

    await page.route_web_socket(re.compile(r"/ws"), route)
    await open_chat(page, site)
    await ask(page, QUESTION)
    turn = page.locator(".turn").last
    await expect(turn.locator(".turn-error")).to_have_text(re.compile(r"asking too quickly.*wait 7 seconds"))
    await expect(page.get_by_role("button", name="Ask")).to_be_enabled()


async def test_follow_up_uses_the_page_session_memory(page: Page, site: Site) -> None:
    """Questions from one page load share a session_id, so a follow-up "it" means Helios Labs."""
    await open_chat(page, site)
    await ask(page, "Where is Helios Labs headquartered?")
    await expect(page.locator(".turn").last).to_have_attribute(
        "data-state", "done", timeout=ANSWER_TIMEOUT_MS
    )
    await ask(page, "Who works for it?")
    second = page.locator(".turn").nth(1)
    await expect(second).to_have_attribute("data-state", "done", timeout=ANSWER_TIMEOUT_MS)
    text = await second.locator(".answer").inner_text()
    claims = [s for s in text.split(" [") if "works for" in s]
    assert claims, text
    assert all("Helios Labs" in claim for claim in claims), text


async def test_rating_an_answer_puts_it_on_the_feedback_topic(page: Page, site: Site) -> None:
    """Thumbs down, then a comment: each is recorded (the page says so), and the feedback topic holds
    the rating with the question, the answer the page shows, its citations and the index version."""
    from services.common.codec import make_codec
    from services.eval import feedback

    await open_chat(page, site)
    await ask(page, QUESTION)
    turn = page.locator(".turn").last
    await expect(turn).to_have_attribute("data-state", "done", timeout=ANSWER_TIMEOUT_MS)
    bar = turn.locator(".feedback")
    await expect(bar).to_be_visible()
    await bar.get_by_role("button", name="Not helpful").click()
    await expect(bar.get_by_role("button", name="Not helpful")).to_have_attribute("aria-pressed", "true")
    await expect(bar.get_by_role("status")).to_have_text(re.compile("Thanks"))
    await expect(bar).to_have_attribute("data-recorded", "down")
    await bar.get_by_label("Comment on this answer").fill("it left out Bob")
    await bar.get_by_role("button", name="Send").click()
    await expect(bar.get_by_role("status")).to_have_text("Thanks, your comment was recorded.")
    await page.screenshot(path=str(SCREENSHOT.with_name("ragstream-chat-page-feedback.png")))

    request_id = await turn.get_attribute("data-request-id")
    shown = await turn.locator(".answer").inner_text()
    gw = site.gateway
    records, unreadable = feedback.read(gw.bootstrap, gw.names, make_codec(None))
    mine = [r for r in records if r.request_id == request_id]
    assert unreadable == 0
    assert [(r.rating, r.comment) for r in mine] == [("DOWN", ""), ("DOWN", "it left out Bob")]
    last = mine[-1]
    assert (last.tenant, last.user, last.question) == (TENANT, "alice", QUESTION)
    assert last.answer.strip() == shown.strip()
    assert last.citations
    assert any("helios" in c.source_uri.lower() for c in last.citations)
    assert re.fullmatch(r".+_v\d+", last.index_version), last.index_version
    [candidate] = [c for c in feedback.candidates(records) if c["review"]["request_id"] == request_id]
    assert candidate["review"]["comment"] == "it left out Bob"
    assert candidate["sources"] == []
