"""`ragstream up` (every role in one process with the embedded infrastructure) and `ragstream
worker ROLE...` (any roles against an external Kafka)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from services.cli.app import HomeOpt, TenantOpt, console, err, fail, pid_alive, settings_for
from services.cli.documents import publish_and_report
from services.common.settings import Settings


def stop_on_signals(stop: asyncio.Event, grace_s: float) -> None:
    """Ctrl-C / SIGTERM set ``stop``; the stop is bounded: ``grace_s`` seconds of a stop that does not
    finish (a child that died first, a broker that no longer answers) end the process at once.
    Nothing is lost by that: what was not committed is redelivered (at least once), and every write
    is idempotent. (A repeated signal only stops again: uvicorn re-raises the signal it caught when
    its server stops.)"""
    loop = asyncio.get_running_loop()

    def stopping() -> None:
        if stop.is_set():
            return
        stop.set()
        deadline = threading.Timer(grace_s, _overdue, args=(grace_s,))
        deadline.daemon = True
        deadline.start()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping)


def _overdue(grace_s: float) -> None:
    err.print(f"[yellow]the stop did not finish within {grace_s:.0f}s: exiting now (nothing is lost: "
              "uncommitted work is redelivered at the next start)[/]")  # fmt: skip
    os._exit(1)


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
    settings = settings_for(home)
    if settings.run_file.exists():
        previous = json.loads(settings.run_file.read_text())
        if pid_alive(int(previous.get("pid", 0))) and previous.get("pid") != os.getpid():
            raise fail(
                f"already running (pid {previous['pid']}, admin {previous.get('admin_url')}). "
                "Stop it first, or use another --home."
            )
    asyncio.run(_up(settings, ingest or [], tenant or settings.tenant, port))


async def _serve_until_stopped(
    settings: Settings,
    info: dict[str, Any],
    ingest: list[Path],
    tenant: str,
    stop: asyncio.Event,
    gateway_url: str,
    admin_url: str,
) -> None:
    from services.gateway import issue_token

    console.print(
        f"[bold green]ragstream is up[/]  chat {gateway_url}  broker {info['bootstrap']}  "
        f"api {admin_url}  data {settings.home}"
    )
    page_token = issue_token(settings.gateway_secret(), tenant, "me", 7 * 24 * 3600)
    page_url = gateway_url.replace("ws://", "http://").removesuffix("/ws") + f"/?token={page_token}"
    console.print(f"  chat in the browser: [bold]{page_url}[/]", soft_wrap=True)  # one line: clickable
    ops_token = issue_token(settings.gateway_secret(), tenant, "operator", 7 * 24 * 3600, ops=True)
    console.print(f"  ops in the browser:  [bold]{admin_url}/ops?token={ops_token}[/]", soft_wrap=True)
    console.print(
        "  publish:  [bold]ragstream publish PATH --wait[/]    search: [bold]ragstream search "
        '"question"[/]    status: [bold]ragstream status[/]    stop: Ctrl-C'
    )
    if ingest:
        await publish_and_report(settings, info, ingest, tenant, wait=True, timeout=1800)
    await stop.wait()
    err.print("[dim]stopping…[/]")


async def _up(settings: Settings, ingest: list[Path], tenant: str, port: int) -> None:
    from services.admin import serve
    from services.generations import run_stack

    stop = asyncio.Event()
    stop_on_signals(stop, settings.stop_grace_s)
    err.print("[dim]starting the embedded stack (first start loads the embedding model, ~10 s)…[/]")

    from services.bootstrap.gateway import gateway_config
    from services.gateway import Gateway

    async with run_stack(settings) as stack:
        redis = settings.redis()
        gateway = Gateway(
            stack.bootstrap,
            stack.names,
            settings.gateway_secret(),
            redis,
            config=gateway_config(settings),
        )
        await gateway.start()
        try:
            async with serve(stack, settings.admin_host, port, gateway.url) as (_, bound):
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
                    await _serve_until_stopped(settings, info, ingest, tenant, stop, gateway.url, admin_url)
                finally:
                    settings.run_file.unlink(missing_ok=True)
        finally:
            await gateway.stop()
            await redis.aclose()
    err.print("[dim]stopped cleanly[/]")


def worker(
    role: Annotated[
        list[str],
        typer.Argument(
            help="Roles to run here, or `all`: parse chunk embed extract-graph index (ingestion), "
            "plan retrieve tool respond (the chat agent), gateway (websocket chat), api (HTTP).",
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

    settings = settings_for(home)
    if not settings.kafka.bootstrap:
        raise fail(
            "set RAGSTREAM_KAFKA__BOOTSTRAP (a worker joins an existing broker; use `up` for embedded)"
        )
    try:
        chosen = [r.name for r in roles.resolve(role)]
    except ValueError as exc:
        raise fail(str(exc)) from None
    bootstrap = settings.kafka.bootstrap

    async def run() -> None:
        from services.admin import probes_app, start_server
        from services.bootstrap.process import run_roles

        stop = asyncio.Event()
        stop_on_signals(stop, settings.stop_grace_s)
        async with run_roles(settings, chosen, bootstrap) as running:
            # /healthz, /readyz and /metrics for probes and Prometheus (RAGSTREAM_ADMIN_PORT)
            app = running.http_app or probes_app()
            server, task, port = await start_server(app, settings.admin_host, settings.admin_port)
            err.print(f"worker {' '.join(chosen)} running; metrics on {settings.admin_host}:{port}")
            if running.http_app is not None:
                err.print(f"api http://{settings.admin_host}:{port}")
            if running.gateway_url:
                err.print(f"gateway {running.gateway_url}")
            await stop.wait()
            server.should_exit = True
            await task

    asyncio.run(run())
