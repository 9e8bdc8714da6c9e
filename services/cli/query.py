"""`ragstream search`, `ask`, `chat` and `token`: questions to the local stack or a remote one."""

from __future__ import annotations

import os
import uuid
from typing import Annotated, Any

import typer

from services.cli.app import (
    HomeOpt,
    TenantOpt,
    TokenOpt,
    UrlOpt,
    api_for,
    console,
    err,
    fail,
    remote_api,
    run_info,
    settings_for,
)
from services.common.settings import Settings
from services.gateway.client import Answer


def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    tenant: TenantOpt = None,
    k: Annotated[int, typer.Option("-k", help="How many chunks.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    home: HomeOpt = None,
) -> None:
    """Top chunks for a query (source, page, score) and the graph entities it names, with their relations."""
    settings = settings_for(home)
    api = api_for(settings, url, token, tenant)
    if api is None:
        raise fail("search needs the running stack's API (`ragstream up`) or --url")
    body = api.call("GET", "/v1/search", params={"q": query, "k": k})
    if as_json:
        console.print_json(data=body)
        return
    if not body["chunks"]:
        console.print("[yellow]no results[/] (is anything indexed for this tenant? `ragstream status`)")
    for i, chunk in enumerate(body["chunks"], 1):
        where = chunk["title"] or chunk["source_uri"]
        page = f" p.{chunk['page']}" if chunk["page"] else ""
        section = f" § {chunk['section']}" if chunk["section"] else ""
        console.print(
            f"[bold]{i}. {where}{page}{section}[/]  [dim]score {chunk['score']}  {chunk['source_uri']}[/]"
        )
        text = chunk["text"]
        console.print("   " + (text[:300] + ("…" if len(text) > 300 else "")))
    if body["entities"]:
        console.print(
            "[bold]entities:[/] " + ", ".join(f"{e['name']} ({e['label']})" for e in body["entities"])
        )
    for rel in body["relations"][:10]:
        console.print(f"  {rel['source']} —{rel['type']}→ {rel['target']}")


def _gateway(settings: Settings, url: str | None, token: str | None, tenant: str | None) -> tuple[str, str]:
    """The chat gateway's URL and a token for it: the remote deployment's (from its API), or the
    local stack's with a token minted from the local secret."""
    if url:
        api = remote_api(url, token)
        gateway_url = api.call("GET", "/v1/info").get("gateway_url")
        if not gateway_url:
            raise fail(f"{url} does not say where its chat gateway listens")
        return str(gateway_url), api.token
    from services.gateway import issue_token

    info = run_info(settings)
    if not info.get("gateway_url"):
        raise fail("the running stack has no chat gateway (start it with `ragstream up`)")
    user = os.environ.get("USER", "cli")
    return info["gateway_url"], issue_token(settings.gateway_secret(), tenant or settings.tenant, user, 3600)


def _stream_answer(gateway_url: str, token: str, question: str, session_id: str) -> Answer:
    """Ask through the websocket gateway (the distributed agent), print tokens as they arrive, then
    the numbered sources; return the answer. A rate limit is waited out (the gateway says how long)."""
    import asyncio

    from services.gateway.client import AskFailed, ask

    def show(event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "status":
            err.print(f"[dim]· {event['step']}[/]")
        elif kind == "token":
            console.print(event["text"], end="", markup=False, highlight=False)
        elif kind == "error" and event.get("code") == "rate_limited":
            err.print(f"[yellow]rate-limited: asking again in {event.get('retry_after_s')}s[/]")

    try:
        answer = asyncio.run(ask(gateway_url, token, question, session_id, on_event=show))
    except AskFailed as exc:
        raise fail(str(exc)) from exc
    except TimeoutError:
        raise fail("no answer within 120 s: is the stack's agent running? (`ragstream status`)") from None
    except OSError as exc:
        raise fail(f"cannot reach the gateway at {gateway_url}: {exc}") from None
    console.print()
    for c in answer.citations:
        page = f", p.{c['page']}" if c.get("page") else ""
        console.print(f"  [{c['n']}] {c['title']}{page}  [dim]{c['source_uri']}[/]")
    return answer


def _rate(gateway_url: str, token: str, answer: Answer | None, line: str) -> None:
    """`/up [comment]` or `/down [comment]` in chat: rate the last answer."""
    import asyncio

    from services.gateway.client import AskFailed, rate

    command, _, comment = line.partition(" ")
    if answer is None or not answer.request_id:
        err.print("[yellow]nothing to rate yet: ask a question first[/]")
        return
    try:
        asyncio.run(rate(gateway_url, token, answer.request_id, command[1:], comment.strip()))
    except AskFailed as exc:
        err.print(f"[red]the rating was not recorded:[/] {exc}")
        return
    err.print(f"[green]thanks: rated {command[1:]}[/]" + (" with your comment" if comment.strip() else ""))


def ask(
    question: Annotated[str, typer.Argument(help="Your question, in plain words.")],
    tenant: TenantOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    home: HomeOpt = None,
) -> None:
    """Ask one question; the answer streams to the terminal with numbered sources. Without an LLM the
    agent answers extractively from the indexed documents and says when it does not know; arithmetic
    goes to a calculator and ```python``` blocks to a sandbox."""
    settings = settings_for(home)
    gateway_url, jwt = _gateway(settings, url, token, tenant)
    _stream_answer(gateway_url, jwt, question, uuid.uuid4().hex)


def chat(tenant: TenantOpt = None, url: UrlOpt = None, token: TokenOpt = None, home: HomeOpt = None) -> None:
    """Interactive chat: follow-up questions may say "it" or "they" (resolved from the conversation).
    `/up` or `/down`, optionally with a comment, rates the last answer (`eval --from-feedback` turns
    ratings into golden-set candidates). Empty line or Ctrl-D quits."""
    settings = settings_for(home)
    gateway_url, jwt = _gateway(settings, url, token, tenant)
    session_id = uuid.uuid4().hex  # the agent keeps this conversation's turns in chat memory
    console.print("[dim]ask about your documents; /up or /down [comment] rates the last answer; "
                  "empty line or Ctrl-D to quit[/]")  # fmt: skip
    last: Answer | None = None
    while True:
        try:
            question = console.input("[bold]you>[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not question:
            break
        if question.split(" ", 1)[0] in ("/up", "/down"):
            _rate(gateway_url, jwt, last, question)
            continue
        last = _stream_answer(gateway_url, jwt, question, session_id)


def token(
    user: Annotated[str, typer.Option(help="User id the token names.")] = "me",
    tenant: TenantOpt = None,
    ttl: Annotated[int, typer.Option(help="Seconds until it expires.")] = 24 * 3600,
    operator: Annotated[
        bool, typer.Option("--operator", help="May read status and dead letters and start a reindex.")
    ] = False,
    home: HomeOpt = None,
) -> None:
    """Print a JWT signed with this deployment's secret, for the chat gateway
    (`<gateway_url>?token=...`, docs/gateway-protocol.md) and the HTTP API (`Authorization: Bearer`,
    or `--token` of the other commands). The tenant it names is the only one whose documents and
    answers it can read or write. An `--operator` token also runs the deployment: status, dead letters
    and their replay, reindex and repair, and users' feedback of every tenant (`?tenant=*`)."""
    from services.gateway import issue_token

    settings = settings_for(home)
    claims = {"ops": True} if operator else {}
    print(issue_token(settings.gateway_secret(), tenant or settings.tenant, user, ttl, **claims))
