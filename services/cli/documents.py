"""`ragstream publish` and `ragstream delete`: locally through the broker and the blob store, or
through a remote deployment's HTTP API; one summary either way."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.cli.app import (
    Api,
    HomeOpt,
    TenantOpt,
    TokenOpt,
    UrlOpt,
    blobs_for,
    console,
    err,
    fail,
    remote_api,
    run_info,
    settings_for,
)
from services.common.codec import make_codec
from services.common.settings import Settings
from services.intake import Intake, NotAsListed, Skipped, collect
from services.publisher import Outcome, Submission, source_uri
from topics import TopicNames

COLUMNS = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
UPLOADS_AT_ONCE = 4


def publish(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (recursively) to index.")],
    tenant: TenantOpt = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait until each document is searchable.")
    ] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 900.0,
    url: UrlOpt = None,
    token: TokenOpt = None,
    home: HomeOpt = None,
) -> None:
    """Publish documents (pdf, docx, html, md, txt) to the ingest topic. Bytes go to the blob store
    (claim check); re-publishing an unchanged file changes nothing, a changed one replaces its old
    chunks. With --wait, prints a per-document summary: indexed (chunks) or failed (stage, reason).
    Links out of a folder and hidden files are skipped and listed (RAGSTREAM_PIPELINE__FOLLOW_SYMLINKS)."""
    settings = settings_for(home)
    if url:
        ok = asyncio.run(upload_and_report(settings, remote_api(url, token), paths, wait, timeout))
    else:
        info = run_info(settings)
        ok = asyncio.run(publish_and_report(settings, info, paths, tenant or settings.tenant, wait, timeout))
    raise typer.Exit(0 if ok else 1)


def _collect(settings: Settings, paths: list[Path]) -> Intake:
    try:
        intake = collect(paths, settings.home, settings.pipeline.follow_symlinks)
    except FileNotFoundError as exc:
        raise fail(str(exc)) from None
    if not intake.files:
        print_skipped(intake.skipped)
        raise fail("no files to publish in " + ", ".join(map(str, paths)))
    return intake


async def publish_and_report(
    settings: Settings, info: dict[str, Any], paths: list[Path], tenant: str, wait: bool, timeout: float
) -> bool:
    from services.catchup import serving_names
    from services.publisher import DocumentPublisher, OutcomeWatcher

    intake = _collect(settings, paths)
    files, skipped = intake.files, intake.skipped
    names = TopicNames(info.get("topic_prefix", ""))
    codec = make_codec(settings.kafka.schema_registry_url)
    watcher = OutcomeWatcher(info["bootstrap"], serving_names(settings, names), codec) if wait else None
    publisher = DocumentPublisher(info["bootstrap"], names, codec, blobs_for(settings, info))
    with Progress(*COLUMNS, console=err) as progress:
        task = progress.add_task("publishing", total=len(files))
        submissions = []
        for path in files:
            try:
                with intake.opened(path) as listed:  # what is read is what was listed
                    submission = await publisher.upsert(listed, tenant, source_uri(path), path.name)
                submissions.append(dataclasses.replace(submission, path=str(path)))
            except NotAsListed as exc:
                skipped.append(Skipped(str(path), str(exc)))
            except OSError as exc:  # vanished or unreadable since it was listed: report, go on
                skipped.append(Skipped(str(path), f"could not be read: {exc.strerror or exc}"))
            progress.advance(task)
        publisher.flush()
        if watcher is None:
            console.print(f"published {len(submissions)} document(s) for tenant {tenant!r}")
            print_skipped(skipped)
            return True
        waiting = progress.add_task("indexing", total=len(submissions))
        outcomes = await watcher.wait(submissions, timeout, on_done=lambda _o: progress.advance(waiting))
        watcher.close()
    return report(outcomes, skipped, tenant)


def outcome_of(path: str, body: dict[str, Any]) -> Outcome:
    """The API's answer about one document as the summary's row."""
    submission = Submission(path, body["doc_id"], body["version"], body["operation"], body["size_bytes"])
    status = body["status"]
    return Outcome(
        submission,
        status="timeout" if status == "accepted" else status,
        chunks=body.get("chunks", 0),
        stage=body.get("stage", ""),
        reason=body.get("reason", ""),
        error=body.get("error", ""),
        seconds=body.get("seconds", 0.0),
    )


async def upload_and_report(
    settings: Settings, api: Api, paths: list[Path], wait: bool, timeout: float
) -> bool:
    """Each file streamed to the deployment's API (a few at a time), identified by its file URI as a
    local publish identifies it; with --wait each upload answers once its document is settled."""
    intake = _collect(settings, paths)
    files, skipped = intake.files, intake.skipped
    info = api.call("GET", "/v1/info")
    gate = asyncio.Semaphore(UPLOADS_AT_ONCE)
    outcomes: list[Outcome] = []
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {api.token}"}, timeout=timeout + 30
    ) as http:

        async def upload(path: Path, progress: Progress, task: Any) -> None:
            async with gate:
                params: dict[str, str | float | bool] = {
                    "filename": path.name,
                    "source_uri": source_uri(path),
                    "wait": wait,
                    "timeout_s": timeout,
                }
                try:
                    with intake.opened(path) as listed:  # what is read is what was listed
                        response = await http.post(
                            f"{api.url.rstrip('/')}/v1/documents", params=params, content=file_blocks(listed)
                        )
                except NotAsListed as exc:
                    skipped.append(Skipped(str(path), str(exc)))
                    return
                except OSError as exc:
                    skipped.append(Skipped(str(path), f"could not be read: {exc.strerror or exc}"))
                    return
                except httpx.HTTPError as exc:
                    skipped.append(Skipped(str(path), f"upload failed: {exc}"))
                    return
                finally:
                    progress.advance(task)
                if response.status_code >= 400:
                    skipped.append(
                        Skipped(str(path), f"refused ({response.status_code}): {response.text[:200]}")
                    )
                    return
                outcomes.append(outcome_of(str(path), response.json()))

        with Progress(*COLUMNS, console=err) as progress:
            task = progress.add_task("uploading" + (" and indexing" if wait else ""), total=len(files))
            await asyncio.gather(*(upload(p, progress, task) for p in files))
    if not wait:
        console.print(f"published {len(outcomes)} document(s) for tenant {info['tenant']!r}")
        print_skipped(skipped)
        return len(outcomes) == len(files)
    return report(sorted(outcomes, key=lambda o: o.submission.path), skipped, info["tenant"]) and not [
        s for s in skipped if s.reason.startswith(("refused", "upload failed"))
    ]


async def file_blocks(path: Path, size: int = 1 << 20) -> AsyncIterator[bytes]:
    """The file in blocks, read off the event loop: an upload never holds a whole document."""
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while block := await asyncio.to_thread(handle.read, size):
            yield block
    finally:
        handle.close()


def report(outcomes: list[Outcome], skipped: list[Skipped], tenant: str) -> bool:
    """The per-document summary; True when every document was indexed."""
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
    fresh = sorted(o.seconds for o in outcomes if o.status == "indexed")
    if fresh:
        p50, p95 = fresh[len(fresh) // 2], fresh[min(len(fresh) - 1, int(len(fresh) * 0.95))]
        console.print(f"publish → queryable: p50 {p50:.1f} s, p95 {p95:.1f} s, slowest {fresh[-1]:.1f} s")
    print_skipped(skipped)
    failed = [o for o in outcomes if o.status != "indexed"]
    if failed:
        console.print(
            f"[yellow]{len(failed)} not indexed.[/] See `ragstream dlq list`; fix, then "
            "`ragstream dlq replay` or publish again."
        )
    return not failed


def print_skipped(skipped: list[Skipped]) -> None:
    """Skips are never silent: the paths (the first 20) with their reasons."""
    if not skipped:
        return
    console.print(f"[yellow]{len(skipped)} skipped[/] (not published):")
    for item in skipped[:20]:
        console.print(f"  {item.path}: {item.reason}")
    if len(skipped) > 20:
        console.print(f"  ... and {len(skipped) - 20} more")


def delete(
    sources: Annotated[list[str], typer.Argument(help="Paths (as published) or source URIs to remove.")],
    tenant: TenantOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    home: HomeOpt = None,
) -> None:
    """Remove documents from every store (vectors and graph), through the same topics as updates so
    the delete lands after any earlier update of the same document."""
    from services.catchup import serving_names
    from services.publisher import DocumentPublisher, OutcomeWatcher

    settings = settings_for(home)
    uris = [s if "://" in s else source_uri(Path(s)) for s in sources]
    if url:
        api = remote_api(url, token)
        params = [{"source_uri": u, "wait": True, "timeout_s": 120} for u in uris]
        outcomes = [
            outcome_of(u, api.call("DELETE", "/v1/documents", timeout=150, params=p))
            for u, p in zip(uris, params, strict=True)
        ]
    else:
        info = run_info(settings)
        names = TopicNames(info.get("topic_prefix", ""))
        codec = make_codec(settings.kafka.schema_registry_url)
        watcher = OutcomeWatcher(info["bootstrap"], serving_names(settings, names), codec)
        publisher = DocumentPublisher(info["bootstrap"], names, codec, blobs_for(settings, info))
        subs = [publisher.delete(u, tenant or settings.tenant) for u in uris]
        publisher.flush()
        outcomes = asyncio.run(watcher.wait(subs, 120))
        watcher.close()
    for o in outcomes:
        console.print(f"{o.submission.path}: {o.status}")
    raise typer.Exit(0 if all(o.status == "deleted" for o in outcomes) else 1)
