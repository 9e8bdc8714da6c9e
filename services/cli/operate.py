"""`ragstream status`, `reindex`, `topics` and `dlq`: the operator's commands, against the local
stack or a remote deployment (an operator token: `ragstream token --operator`)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import topics
from services.cli.app import (
    HomeOpt,
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
from topics import TopicNames


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    home: HomeOpt = None,
) -> None:
    """Is the stack up? Its broker, index version, chunk and entity counts, and each stage's backlog."""
    settings = settings_for(home)
    api = api_for(settings, url, token, None)
    if api is not None:
        body = api.call("GET", "/v1/status")
    else:  # workers on an external Kafka: the backlog is all there is to show
        from services.ops import backlog

        info = run_info(settings)
        rows = backlog(info["bootstrap"], TopicNames(info["topic_prefix"]))
        body = {"bootstrap": info["bootstrap"], "backlog": [asdict(r) | {"lag": r.lag} for r in rows]}
    if as_json:
        console.print_json(data=body)
        return
    console.print(
        f"[bold green]up[/]  broker {body['bootstrap']}  index {body.get('collection')}  "
        f"chunks {body.get('chunks', '?')}  graph {body.get('graph', {})}"
    )
    if body.get("embedder"):
        console.print(f"embedder {body['embedder']}")
    table = Table(title="backlog per stage")
    for column in ("stage", "topic", "end offset", "committed", "lag"):
        table.add_column(column)
    for row in body["backlog"]:
        table.add_row(row["stage"], row["topic"], str(row["end"]), str(row["committed"]), str(row["lag"]))
    console.print(table)
    for problem in body.get("problems", []):
        console.print(f"[bold red]problem:[/] {problem}")


def reindex(
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow progress until the swap.")] = True,
    timeout: Annotated[
        float, typer.Option(help="Give up after this many seconds (nothing is swapped).")
    ] = 3600,
    cancel: Annotated[bool, typer.Option("--cancel", help="Stop the reindex in progress.")] = False,
    generation: Annotated[
        str | None,
        typer.Option(help="Cluster: follow the workers building this generation (e.g. v2), then swap it in."),
    ] = None,
    swap: Annotated[
        bool, typer.Option("--swap/--no-swap", help="With --generation: swap once caught up.")
    ] = True,
    url: UrlOpt = None,
    token: TokenOpt = None,
    home: HomeOpt = None,
) -> None:
    """Rebuild the index into a new version by replaying the chunk topic (no re-parse) with fresh
    consumer groups, then swap the `chunks` alias atomically once it has caught up. Searches keep
    answering from the old version until the swap; new documents reach both meanwhile. It refuses
    at once when the chunk topic is empty, and without swapping when it holds fewer chunks than the
    live version (the broker lost data: publish the documents again). Ctrl-C stops only the waiting;
    `--cancel` stops the reindex.

    In a cluster the new generation runs as its own workers (embed, extract-graph and index started
    with RAGSTREAM_GENERATION=v2, Helm value `generation`); `--generation v2` follows them and swaps
    the alias once they have caught up, with the same refusals."""
    settings = settings_for(home)
    api = api_for(settings, url, token, None)
    if api is None:
        raise fail("reindex runs inside the embedded stack (`ragstream up`)")
    if generation:
        follow_generation(api, generation, swap, timeout)
        return
    if cancel:
        body = api.call("DELETE", "/v1/reindex")
        console.print("cancelled" if body["cancelled"] else f"no reindex in progress (last: {body['state']})")
        return
    body = api.call("POST", "/v1/reindex", params={"timeout_s": timeout})
    while body["state"] == "starting":  # the stack picks the new version's name first
        time.sleep(0.2)
        body = api.call("GET", "/v1/reindex")
    console.print(f"reindexing into [bold]{body['collection']}[/] (live: {body['previous']})")
    if not wait:
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as progress:
        task = progress.add_task("chunks in the new version", total=None)
        while body["state"] == "catching-up":
            time.sleep(1.0)
            body = api.call("GET", "/v1/reindex")
            progress.update(task, completed=body["new_chunks"], total=max(body["live_chunks"], 1))
    if body["state"] != "swapped":
        raise fail(f"reindex {body['state']}, nothing swapped: {body.get('error')}")
    took = body["finished_at"] - body["started_at"]
    console.print(
        f"[green]swapped[/]: alias now points at {body['collection']} "
        f"({body['new_chunks']} chunks, {took:.1f}s)"
    )


def repair(
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 3600,
    url: UrlOpt = None,
    token: TokenOpt = None,
    home: HomeOpt = None,
) -> None:
    """Re-derive the live index from the chunk topic, in place, when `ragstream status` reports that
    the stores and the broker disagree (a store restored from an older backup, or wiped by hand).
    Every record of docs.chunks goes through embed, extract-graph and index again under fresh consumer
    groups; writes are idempotent and replaced or deleted versions stay skipped, so nothing is
    duplicated and searches keep answering. Not needed after a crash: `up` recovers by itself."""
    settings = settings_for(home)
    api = api_for(settings, url, token, None)
    if api is None:
        raise fail("repair runs inside the embedded stack (`ragstream up`)")
    body = api.call("POST", "/v1/repair", params={"timeout_s": timeout})
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as progress:
        task = progress.add_task("chunk records re-derived", total=None)
        while body["state"] == "replaying":
            time.sleep(1.0)
            body = api.call("GET", "/v1/repair")
            total = max(body["replayable"], 1)
            progress.update(task, completed=max(total - body["lag"], 0), total=total)
    if body["state"] != "done":
        raise fail(f"repair {body['state']}: {body.get('error')}")
    before, after = body["before"], body["after"]
    console.print(
        f"[green]repaired[/] {body['collection']}: vectors {before['vector_chunks']} → "
        f"{after['vector_chunks']} chunks, graph {before['graph_chunks']} → {after['graph_chunks']} chunks"
        f" ({body['finished_at'] - body['started_at']:.1f}s)"
    )


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


def follow_generation(api: Any, label: str, swap: bool, timeout: float) -> None:
    """Progress of a cluster generation until it has caught up (or is refused), then the swap."""
    deadline = time.monotonic() + timeout
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as progress:
        task = progress.add_task(f"chunks in generation {label}", total=None)
        while True:
            state = api.call("GET", f"/v1/generations/{label}")
            progress.update(task, completed=state["fresh"], total=max(state["live"], 1))
            if state["refusal"]:
                raise fail(f"generation {label} may not replace {state['previous']}: {state['refusal']}")
            if state["caught_up"] and state["fresh"] >= state["live"]:
                break
            if time.monotonic() > deadline:
                raise fail(f"generation {label} did not catch up in {timeout:.0f}s (lag {state['lag']})")
            time.sleep(2.0)
    if not swap:
        console.print(f"generation {label} has caught up ({state['fresh']} chunks); swap with --swap")
        return
    done = api.call("POST", f"/v1/generations/{label}/swap")
    console.print(f"[green]swapped[/]: alias now points at {done['target']} ({done['fresh']} chunks)")
    console.print(
        f"Retire the old workers: set the release's generation to {label} (Helm) and remove the "
        "extra workers."
    )


def _dlq_spec(topic: str | None) -> topics.TopicSpec | None:
    if topic is None:
        return None
    try:
        return topics.by_name(topic.removesuffix(topics.DLQ_SUFFIX))
    except KeyError as exc:
        raise fail(str(exc)) from None


TopicOpt = Annotated[str | None, typer.Option(help="Only this source topic (e.g. docs.ingest).")]


def dlq_list(
    topic: TopicOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    home: HomeOpt = None,
) -> None:
    """Every dead letter: source topic, stage, reason, error, and whether it was replayed."""
    settings = settings_for(home)
    letters: list[dict[str, Any]]
    if url:
        letters = remote_api(url, token).call("GET", "/v1/dlq", params={"topic": topic} if topic else {})
    else:
        from services.catchup import serving_names
        from services.ops import dead_letters

        info = run_info(settings)
        names = serving_names(settings, TopicNames(info.get("topic_prefix", "")))  # after a reindex: its DLQs
        found = dead_letters(info["bootstrap"], names, _dlq_spec(topic))
        letters = [
            {"dlq_topic": d.dlq_topic, "offset": d.offset, "key": d.key, "stage": d.stage, "reason": d.reason,
             "error": d.error, "replayed": d.replayed}
            for d in found
        ]  # fmt: skip
    if as_json:
        console.print_json(data=letters)
        return
    if not letters:
        console.print("[green]no dead letters[/]")
        return
    table = Table(title=f"{len(letters)} dead letter(s)")
    for column in ("dlq", "offset", "key", "stage", "reason", "error", "replayed"):
        table.add_column(column)
    for d in letters:
        table.add_row(
            d["dlq_topic"], str(d["offset"]), d["key"][:12], d["stage"], d["reason"], d["error"][:70],
            "yes" if d["replayed"] else "no",
        )  # fmt: skip
    console.print(table)


def dlq_replay(
    topic: TopicOpt = None, url: UrlOpt = None, token: TokenOpt = None, home: HomeOpt = None
) -> None:
    """Send dead letters not yet replayed back to their source topic, byte for byte (after you fixed
    the cause). Replaying twice does not resend: the replay position is committed."""
    settings = settings_for(home)
    if url:
        count = remote_api(url, token).call(
            "POST", "/v1/dlq/replay", params={"topic": topic} if topic else {}
        )["replayed"]
    else:
        from services.catchup import serving_names
        from services.ops import replay

        info = run_info(settings)
        names = serving_names(settings, TopicNames(info.get("topic_prefix", "")))
        count = len(replay(info["bootstrap"], names, _dlq_spec(topic)))
    console.print(f"replayed {count} message(s)")
