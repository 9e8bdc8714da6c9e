"""The ``ragstream`` command: the one entry point for people and scripts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import topics
from services.common.codec import make_codec
from services.common.logs import configure
from services.common.settings import Settings
from services.stores.blobs import LocalBlobStore
from topics import TopicNames

app = typer.Typer(
    name="ragstream",
    help=(
        "Event-driven RAG on Kafka.\n\n"
        "Start the embedded stack (broker, every pipeline stage, stores; no Docker, no GPU) with "
        '`ragstream up`, feed it with `ragstream publish docs/ --wait`, then `ragstream search "..."`.\n\n'
        "Settings come from RAGSTREAM_* environment variables (e.g. RAGSTREAM_KAFKA__BOOTSTRAP to use an "
        "external Kafka, RAGSTREAM_HOME for where data lives; default ./.ragstream)."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
models_app = typer.Typer(help="Model servers (Ray Serve apps in model_serving/).", no_args_is_help=True)
dlq_app = typer.Typer(
    help="Dead letters: what failed, where and why; replay them after a fix.", no_args_is_help=True
)
app.add_typer(dlq_app, name="dlq")
app.add_typer(models_app, name="models")
console = Console(stderr=False)
err = Console(stderr=True)

TenantOpt = Annotated[
    str | None, typer.Option("--tenant", "-t", help="Tenant (default: RAGSTREAM_TENANT or 'default').")
]
HomeOpt = Annotated[
    Path | None, typer.Option("--home", help="Data and run directory (default ./.ragstream).")
]


def _settings(home: Path | None) -> Settings:
    settings = Settings()
    if home is not None:
        settings = settings.model_copy(update={"home": home.resolve()})
    configure(settings.log_level, settings.log_format)
    return settings


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def _blobs(settings: Settings, info: dict[str, Any]) -> Any:
    """The stack's blob store: S3 when configured, else the directory the running stack uses."""
    if settings.stores.blob_url:
        from services.pipeline import blob_store

        return blob_store(settings)
    return LocalBlobStore(Path(info["blob_dir"]))


def _run_info(settings: Settings) -> dict[str, Any]:
    """Where the running stack listens (written by `up`), or a clear error if it is not running."""
    if settings.kafka.bootstrap:
        return {
            "bootstrap": settings.kafka.bootstrap,
            "topic_prefix": settings.kafka.topic_prefix,
            "admin_url": None,
            "blob_dir": str(settings.blob_dir),
        }
    try:
        info: dict[str, Any] = json.loads(settings.run_file.read_text())
    except FileNotFoundError:
        raise _fail(
            f"the stack is not running (no {settings.run_file}). Start it with `ragstream up`."
        ) from None
    if not _pid_alive(int(info.get("pid", 0))):
        raise _fail(
            f"the stack that wrote {settings.run_file} is gone (pid {info.get('pid')}). "
            "Start it again with `ragstream up`."
        )
    return info


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------------------------------- up
@app.command()
def up(
    ingest: Annotated[
        list[Path] | None,
        typer.Option("--ingest", "-i", help="Files or folders to publish once the stack is up (repeatable)."),
    ] = None,
    tenant: TenantOpt = None,
    port: Annotated[int, typer.Option(help="Admin HTTP port on 127.0.0.1 (0 = any free port).")] = 0,
    home: HomeOpt = None,
) -> None:
    """Start the embedded stack in the foreground: Tansu broker, every pipeline stage, qdrant-edge and
    FalkorDB. Ctrl-C stops it cleanly. With `--ingest docs/` it also publishes a folder and reports
    each document as it becomes searchable."""
    settings = _settings(home)
    if settings.run_file.exists():
        previous = json.loads(settings.run_file.read_text())
        if _pid_alive(int(previous.get("pid", 0))) and previous.get("pid") != os.getpid():
            raise _fail(
                f"already running (pid {previous['pid']}, admin {previous.get('admin_url')}). "
                "Stop it first, or use another --home."
            )
    asyncio.run(_up(settings, ingest or [], tenant or settings.tenant, port))


async def _up(settings: Settings, ingest: list[Path], tenant: str, port: int) -> None:
    from services.admin import serve
    from services.generations import run_stack

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    err.print("[dim]starting the embedded stack (first start loads the embedding model, ~10 s)…[/]")

    from services.gateway import Gateway, GatewayConfig

    async with run_stack(settings) as stack:
        server, task, bound = await serve(stack, settings.admin_host, port)
        gw_settings = settings.gateway
        redis = settings.redis()
        gateway = Gateway(
            stack.bootstrap,
            stack.names,
            settings.gateway_secret(),
            redis,
            config=GatewayConfig.from_settings(gw_settings),
        )
        await gateway.start()
        admin_url = f"http://{settings.admin_host}:{bound}"
        info = {
            "pid": os.getpid(),
            "bootstrap": stack.bootstrap,
            "admin_url": admin_url,
            "gateway_url": gateway.url,
            "topic_prefix": stack.names.prefix,
            "blob_dir": str(settings.blob_dir),
            "started_at": time.time(),
        }
        settings.run_file.write_text(json.dumps(info, indent=2))
        try:
            console.print(
                f"[bold green]ragstream is up[/]  chat {gateway.url}  broker {stack.bootstrap}  "
                f"admin {admin_url}  data {settings.home}"
            )
            from services.gateway import issue_token

            page_token = issue_token(settings.gateway_secret(), tenant, "me", 7 * 24 * 3600)
            page_url = gateway.url.replace("ws://", "http://").removesuffix("/ws") + f"/?token={page_token}"
            console.print(
                f"  chat in the browser: [bold]{page_url}[/]", soft_wrap=True
            )  # one line: clickable
            console.print(
                "  publish:  [bold]ragstream publish PATH --wait[/]    search: [bold]ragstream search "
                '"question"[/]    status: [bold]ragstream status[/]    stop: Ctrl-C'
            )
            if ingest:
                await _publish_and_report(settings, info, ingest, tenant, wait=True, timeout=1800)
            await stop.wait()
            err.print("[dim]stopping…[/]")
        finally:
            await gateway.stop()
            await redis.aclose()
            server.should_exit = True
            await task
            settings.run_file.unlink(missing_ok=True)
    err.print("[dim]stopped cleanly[/]")


# ------------------------------------------------------------------------------------------ worker
@app.command()
def worker(
    role: Annotated[
        list[str],
        typer.Argument(
            help="Roles to run here, or `all`: parse chunk embed extract-graph index (ingestion), "
            "plan retrieve tool respond (the chat agent), gateway (websocket chat).",
            show_default=False,
        ),
    ],
    home: HomeOpt = None,
) -> None:
    """Run any roles as one process against an external Kafka (RAGSTREAM_KAFKA__BOOTSTRAP): how
    compose and Helm deploy each role as its own scalable process. Start as many copies of a role
    as its topics have partitions; they share the work through their consumer group.

    With the embedded vector engine (no RAGSTREAM_STORES__QDRANT_URL) only one process may open the
    vectors, so run index, plan, retrieve, tool and respond together; with a Qdrant server each can
    run alone. Gateways run anywhere, as many as you like (RAGSTREAM_GATEWAY__PORT per instance)."""
    from services import roles

    settings = _settings(home)
    if not settings.kafka.bootstrap:
        raise _fail(
            "set RAGSTREAM_KAFKA__BOOTSTRAP (a worker joins an existing broker; use `up` for embedded)"
        )
    try:
        chosen = [r.name for r in roles.resolve(role)]
    except ValueError as exc:
        raise _fail(str(exc)) from None
    bootstrap = settings.kafka.bootstrap

    async def run() -> None:
        from services.admin import probes_app, start_server
        from services.bootstrap import run_roles

        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        async with run_roles(settings, chosen, bootstrap) as running:
            # /healthz, /readyz and /metrics for probes and Prometheus (RAGSTREAM_ADMIN_PORT)
            server, task, port = await start_server(probes_app(), settings.admin_host, settings.admin_port)
            err.print(f"worker {' '.join(chosen)} running; metrics on {settings.admin_host}:{port}")
            if running.gateway_url:
                err.print(f"gateway {running.gateway_url}")
            await stop.wait()
            server.should_exit = True
            await task

    asyncio.run(run())


# ----------------------------------------------------------------------------------------- publish
@app.command()
def publish(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (recursively) to index.")],
    tenant: TenantOpt = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait until each document is searchable.")
    ] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 900.0,
    home: HomeOpt = None,
) -> None:
    """Publish documents (pdf, docx, html, md, txt) to the ingest topic. Bytes go to the blob store
    (claim check); re-publishing an unchanged file changes nothing, a changed one replaces its old
    chunks. With --wait, prints a per-document summary: indexed (chunks) or failed (stage, reason)."""
    settings = _settings(home)
    info = _run_info(settings)
    ok = asyncio.run(_publish_and_report(settings, info, paths, tenant or settings.tenant, wait, timeout))
    raise typer.Exit(0 if ok else 1)


async def _publish_and_report(
    settings: Settings, info: dict[str, Any], paths: list[Path], tenant: str, wait: bool, timeout: float
) -> bool:
    from services.intake import Skipped, collect
    from services.publisher import DocumentPublisher, OutcomeWatcher

    try:
        intake = collect(paths, settings.home, settings.pipeline.follow_symlinks)
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from None
    files, skipped = intake.files, intake.skipped
    if not files:
        _print_skipped(skipped)
        raise _fail("no files to publish in " + ", ".join(map(str, paths)))
    names = TopicNames(info.get("topic_prefix", ""))
    codec = make_codec(settings.kafka.schema_registry_url)
    watcher = OutcomeWatcher(info["bootstrap"], names, codec) if wait else None
    publisher = DocumentPublisher(info["bootstrap"], names, codec, _blobs(settings, info))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as progress:
        task = progress.add_task("publishing", total=len(files))
        submissions = []
        for path in files:
            try:
                submissions.append(await publisher.upsert(path, tenant))
            except OSError as exc:  # vanished or unreadable since it was listed: report, go on
                skipped.append(Skipped(str(path), f"could not be read: {exc.strerror or exc}"))
            progress.advance(task)
        publisher.flush()
        if watcher is None:
            console.print(f"published {len(submissions)} document(s) for tenant {tenant!r}")
            _print_skipped(skipped)
            return True
        waiting = progress.add_task("indexing", total=len(submissions))
        outcomes = await watcher.wait(submissions, timeout, on_done=lambda _o: progress.advance(waiting))
        watcher.close()
    table = Table(title=f"{len(outcomes)} document(s), tenant {tenant!r}")
    for column in ("document", "status", "chunks", "seconds", "detail"):
        table.add_column(column)
    colour = {"indexed": "green", "deleted": "green", "failed": "red", "timeout": "yellow"}
    for o in outcomes:
        detail = f"{o.stage}: {o.reason} — {o.error[:80]}" if o.status == "failed" else ""
        table.add_row(
            o.submission.path,
            f"[{colour.get(o.status, 'white')}]{o.status}[/]",
            str(o.chunks),
            f"{o.seconds:.1f}",
            detail,
        )
    console.print(table)
    _print_skipped(skipped)
    failed = [o for o in outcomes if o.status != "indexed"]
    if failed:
        console.print(
            f"[yellow]{len(failed)} not indexed.[/] See `ragstream dlq list`; fix, then "
            "`ragstream dlq replay` or publish again."
        )
    return not failed


def _print_skipped(skipped: list[Any]) -> None:
    """Skips are never silent: a count per reason, and the paths (the first 20) with their reasons."""
    if not skipped:
        return
    console.print(f"[yellow]{len(skipped)} skipped[/] (not published):")
    for item in skipped[:20]:
        console.print(f"  {item.path}: {item.reason}")
    if len(skipped) > 20:
        console.print(f"  ... and {len(skipped) - 20} more")


@app.command()
def delete(
    sources: Annotated[list[str], typer.Argument(help="Paths (as published) or source URIs to remove.")],
    tenant: TenantOpt = None,
    home: HomeOpt = None,
) -> None:
    """Remove documents from every store (vectors and graph), through the same topics as updates so
    the delete lands after any earlier update of the same document."""
    from services.publisher import DocumentPublisher, OutcomeWatcher, source_uri

    settings = _settings(home)
    info = _run_info(settings)
    names = TopicNames(info.get("topic_prefix", ""))
    codec = make_codec(settings.kafka.schema_registry_url)
    watcher = OutcomeWatcher(info["bootstrap"], names, codec)
    publisher = DocumentPublisher(info["bootstrap"], names, codec, _blobs(settings, info))
    subs = [
        publisher.delete(s if "://" in s else source_uri(Path(s)), tenant or settings.tenant) for s in sources
    ]
    publisher.flush()
    outcomes = asyncio.run(watcher.wait(subs, 120))
    watcher.close()
    for o in outcomes:
        console.print(f"{o.submission.path}: {o.status}")
    raise typer.Exit(0 if all(o.status == "deleted" for o in outcomes) else 1)


# ------------------------------------------------------------------------------------------ search
@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    tenant: TenantOpt = None,
    k: Annotated[int, typer.Option("-k", help="How many chunks.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    home: HomeOpt = None,
) -> None:
    """Top chunks for a query (source, page, score) and the graph entities it names, with their relations."""
    settings = _settings(home)
    info = _run_info(settings)
    if not info.get("admin_url"):
        raise _fail("search needs the running stack's admin endpoint (`ragstream up`)")
    response = httpx.get(
        f"{info['admin_url']}/search",
        params={"q": query, "tenant": tenant or settings.tenant, "k": k},
        timeout=60,
    )
    body = response.json()
    if response.status_code != 200:
        raise _fail(body.get("error", response.text))
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


# -------------------------------------------------------------------------------------- ask, chat
def _stream_answer(
    settings: Settings, info: dict[str, Any], question: str, tenant: str, session_id: str
) -> str:
    """Ask through the websocket gateway (the distributed agent), print tokens as they arrive, then
    the numbered sources; return the answer."""
    from websockets.sync.client import connect

    from services.gateway import issue_token

    if not info.get("gateway_url"):
        raise _fail("the running stack has no chat gateway (start it with `ragstream up`)")
    token = issue_token(settings.gateway_secret(), tenant, os.environ.get("USER", "cli"), 3600)
    answer = ""
    citations: list[dict[str, Any]] = []
    with connect(f"{info['gateway_url']}?token={token}", open_timeout=10) as ws:
        ws.send(json.dumps({"type": "ask", "question": question, "session_id": session_id}))
        for raw in ws:
            event = json.loads(raw)
            kind = event["type"]
            if kind == "status":
                err.print(f"[dim]· {event['step']}[/]")
            elif kind == "token":
                console.print(event["text"], end="", markup=False, highlight=False)
            elif kind == "citations":
                citations = event["citations"]
            elif kind == "final":
                answer = event["text"]
                console.print()
                for c in citations:
                    page = f", p.{c['page']}" if c.get("page") else ""
                    console.print(f"  [{c['n']}] {c['title']}{page}  [dim]{c['source_uri']}[/]")
                break
            elif kind == "error":
                raise _fail(f"{event.get('code')}: {event.get('message')}")
    return answer


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in plain words.")],
    tenant: TenantOpt = None,
    home: HomeOpt = None,
) -> None:
    """Ask one question; the answer streams to the terminal with numbered sources. Without an LLM the
    agent answers extractively from the indexed documents and says when it does not know; arithmetic
    goes to a calculator and ```python``` blocks to a sandbox."""
    settings = _settings(home)
    info = _run_info(settings)
    _stream_answer(settings, info, question, tenant or settings.tenant, uuid.uuid4().hex)


@app.command()
def chat(tenant: TenantOpt = None, home: HomeOpt = None) -> None:
    """Interactive chat: follow-up questions may say "it" or "they" (resolved from the conversation).
    Empty line or Ctrl-D quits."""
    settings = _settings(home)
    info = _run_info(settings)
    session_id = uuid.uuid4().hex  # the agent keeps this conversation's turns in chat memory
    console.print("[dim]ask about your documents; empty line or Ctrl-D to quit[/]")
    while True:
        try:
            question = console.input("[bold]you>[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not question:
            break
        _stream_answer(settings, info, question, tenant or settings.tenant, session_id)


# ------------------------------------------------------------------------------------------ status
@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    home: HomeOpt = None,
) -> None:
    """Is the stack up? Its broker, index version, chunk and entity counts, and each stage's backlog."""
    settings = _settings(home)
    info = _run_info(settings)
    if info.get("admin_url"):
        body = httpx.get(f"{info['admin_url']}/status", timeout=30).json()
    else:
        from services.ops import backlog

        body = {
            "bootstrap": info["bootstrap"],
            "backlog": [
                asdict(r) | {"lag": r.lag}
                for r in backlog(info["bootstrap"], TopicNames(info["topic_prefix"]))
            ],
        }
    if as_json:
        console.print_json(data=body)
        return
    console.print(
        f"[bold green]up[/]  broker {body['bootstrap']}  index {body.get('collection')}  "
        f"chunks {body.get('chunks', '?')}  graph {body.get('graph', {})}"
    )
    table = Table(title="backlog per stage")
    for column in ("stage", "topic", "end offset", "committed", "lag"):
        table.add_column(column)
    for row in body["backlog"]:
        table.add_row(row["stage"], row["topic"], str(row["end"]), str(row["committed"]), str(row["lag"]))
    console.print(table)


@app.command()
def reindex(
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow progress until the swap.")] = True,
    home: HomeOpt = None,
) -> None:
    """Rebuild the index into a new version by replaying the chunk topic (no re-parse) with fresh
    consumer groups, then swap the `chunks` alias atomically once it has caught up. Searches keep
    answering from the old version until the swap; new documents reach both meanwhile."""
    settings = _settings(home)
    info = _run_info(settings)
    if not info.get("admin_url"):
        raise _fail("reindex runs inside the embedded stack (`ragstream up`)")
    response = httpx.post(f"{info['admin_url']}/reindex", timeout=30)
    body = response.json()
    if response.status_code >= 400:
        raise _fail(body.get("error", response.text))
    console.print(f"reindexing into [bold]{body['collection']}[/] (live: {body['previous']})")
    if not wait:
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as progress:
        task = progress.add_task("chunks in the new version", total=None)
        while body["state"] == "catching-up":
            time.sleep(1.0)
            body = httpx.get(f"{info['admin_url']}/reindex", timeout=30).json()
            progress.update(task, completed=body["new_chunks"], total=max(body["live_chunks"], 1))
    if body["state"] != "swapped":
        raise _fail(f"reindex {body['state']}: {body.get('error')}")
    took = body["finished_at"] - body["started_at"]
    console.print(
        f"[green]swapped[/]: alias now points at {body['collection']} "
        f"({body['new_chunks']} chunks, {took:.1f}s)"
    )


@app.command()
def token(
    user: Annotated[str, typer.Option(help="User id the token names.")] = "me",
    tenant: TenantOpt = None,
    ttl: Annotated[int, typer.Option(help="Seconds until it expires.")] = 24 * 3600,
    home: HomeOpt = None,
) -> None:
    """Print a JWT for the chat gateway (signed with this stack's secret): connect to
    `<gateway_url>?token=...` with any websocket client. See docs/gateway-protocol.md."""
    from services.gateway import issue_token

    settings = _settings(home)
    print(issue_token(settings.gateway_secret(), tenant or settings.tenant, user, ttl))


@app.command("topics")
def list_topics() -> None:
    """The topic registry: names, keys, schemas and dead-letter topics."""
    table = Table(title="topics")
    for column in ("topic", "key", "value schema", "dlq", "what"):
        table.add_column(column)
    for spec in topics.ALL:
        table.add_row(
            spec.name,
            spec.key,
            spec.value.avro_name(),
            spec.name + ".dlq" if spec.dlq else "-",
            spec.description,
        )
    console.print(table)


# --------------------------------------------------------------------------------------------- dlq
def _dlq_spec(topic: str | None) -> topics.TopicSpec | None:
    if topic is None:
        return None
    try:
        return topics.by_name(topic.removesuffix(topics.DLQ_SUFFIX))
    except KeyError as exc:
        raise _fail(str(exc)) from None


@dlq_app.command("list")
def dlq_list(
    topic: Annotated[str | None, typer.Option(help="Only this source topic (e.g. docs.ingest).")] = None,
    home: HomeOpt = None,
) -> None:
    """Every dead letter: source topic, stage, reason, error, and whether it was replayed."""
    from services.ops import dead_letters

    settings = _settings(home)
    info = _run_info(settings)
    letters = dead_letters(info["bootstrap"], TopicNames(info.get("topic_prefix", "")), _dlq_spec(topic))
    if not letters:
        console.print("[green]no dead letters[/]")
        return
    table = Table(title=f"{len(letters)} dead letter(s)")
    for column in ("dlq", "offset", "key", "stage", "reason", "error", "replayed"):
        table.add_column(column)
    for letter in letters:
        table.add_row(
            letter.dlq_topic,
            str(letter.offset),
            letter.key[:12],
            letter.stage,
            letter.reason,
            letter.error[:70],
            "yes" if letter.replayed else "no",
        )
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    topic: Annotated[str | None, typer.Option(help="Only this source topic (e.g. docs.ingest).")] = None,
    home: HomeOpt = None,
) -> None:
    """Send dead letters not yet replayed back to their source topic, byte for byte (after you fixed
    the cause). Replaying twice does not resend: the replay position is committed."""
    from services.ops import replay

    settings = _settings(home)
    info = _run_info(settings)
    sent = replay(info["bootstrap"], TopicNames(info.get("topic_prefix", "")), _dlq_spec(topic))
    console.print(f"replayed {len(sent)} message(s)")


@models_app.command("up")
def models_up(
    config: Annotated[Path, typer.Option(help="A serve config YAML.")] = Path(
        "model_serving/configs/cpu.yaml"
    ),
    port: Annotated[int | None, typer.Option(help="HTTP port (default: the config's, 8000).")] = None,
) -> None:
    """Serve the models of CONFIG with Ray Serve on this machine until Ctrl-C. The default CPU profile
    serves MiniLM embeddings at /embed and SmolLM2-135M on vLLM (CPU) at /llm; the first start converts
    SmolLM2 once (~20 s). Point the stack at it:

        RAGSTREAM_MODELS__EMBEDDINGS_URL=http://127.0.0.1:8000/embed
        RAGSTREAM_MODELS__LLM_URL=http://127.0.0.1:8000/llm
        RAGSTREAM_MODELS__RERANK_URL=http://127.0.0.1:8000/rerank  ragstream up
    """
    from model_serving.serve import main as serve_main

    raise typer.Exit(serve_main([str(config), *(["--port", str(port)] if port else [])]))


@models_app.command("check")
def models_check(config: Annotated[Path, typer.Argument(help="A serve config YAML.")]) -> None:
    """Validate a model config (schema, resources, dimensions) without starting anything; works
    without a GPU for the GPU profiles."""
    from model_serving.serve import main as serve_main

    raise typer.Exit(serve_main([str(config), "--check"]))


def main() -> None:  # pragma: no cover - console script shim
    sys.exit(app())
