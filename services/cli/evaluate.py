"""`ragstream eval`: measure answers on a golden set against the running stack or a remote one."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from services.cli.app import HomeOpt, TenantOpt, TokenOpt, UrlOpt, api_for, console, err, fail, settings_for
from services.eval import GOLDEN_DIR

EVAL_TENANT = "eval"  # local runs publish the golden corpus apart from the user's documents


def evaluate(
    golden: Annotated[
        Path, typer.Option(help="A golden set: a folder with golden.jsonl and docs/ (default: bundled).")
    ] = GOLDEN_DIR,
    questions: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Ask these questions (JSONL, golden.jsonl's format) about the set's documents instead of "
            "its own, e.g. bench/heldout.jsonl: questions the answerer was not fitted on.",
        ),
    ] = None,
    publish: Annotated[
        bool, typer.Option(help="Publish the set's documents first (a rerun changes nothing).")
    ] = True,
    minimum: Annotated[
        list[str] | None,
        typer.Option("--min", metavar="METRIC=VALUE", help="Fail (exit 1) below this, e.g. --min fact=0.9."),
    ] = None,
    maximum: Annotated[
        list[str] | None,
        typer.Option(
            "--max", metavar="METRIC=VALUE", help="Fail (exit 1) above this, e.g. --max false_idk=0.1."
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Ask only the first N questions (a quick check).")] = None,
    as_json: Annotated[Path | None, typer.Option("--json", help="Write figures and answers here.")] = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Write an HTML report: every run's metrics plotted, this run's misses."),
    ] = None,
    gate: Annotated[
        bool,
        typer.Option(
            "--gate", help="Also hold the run to the set's gate.json (floors and ceilings; CI runs this)."
        ),
    ] = False,
    judge: Annotated[
        bool | None,
        typer.Option(
            "--judge/--no-judge",
            help="Grade faithfulness and relevancy with the LLM (default: on when RAGSTREAM_MODELS__LLM_URL "
            "names one).",
        ),
    ] = None,
    from_feedback: Annotated[
        bool,
        typer.Option(
            "--from-feedback",
            help="Measure nothing: turn users' rated answers (thumbs up/down in the chat) into golden-set "
            "candidates for review, one per question, written to --out: every tenant's, or --tenant's.",
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where --from-feedback writes (default $RAGSTREAM_HOME/eval/feedback-candidates.jsonl)."
        ),
    ] = None,
    tenant: TenantOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    home: HomeOpt = None,
) -> None:
    """Run a golden set through the product and measure it: retrieval hit@1, hit@5 and MRR (search),
    answers that contain the expected facts, cite an expected source, and say "I don't know" when the
    corpus has no answer, with latency; overall and per kind of question. Locally the set is published
    to the tenant `eval`. Each run is appended to $RAGSTREAM_HOME/eval/runs.jsonl; `--html` draws every
    run of the set. With an LLM configured, a judge also grades faithfulness and relevancy. `--gate` is
    what CI runs: the set's own floors. `--from-feedback` turns users' ratings into new questions."""
    from services.cli.query import _gateway
    from services.eval import golden as golden_set
    from services.eval import metrics, runner

    try:
        thresholds = [metrics.parse_threshold(t) for t in minimum or []]
        ceilings = [metrics.parse_threshold(t, "--max") for t in maximum or []]
        if gate:
            floors, tops = golden_set.gate(golden)
            thresholds, ceilings = thresholds + floors, ceilings + tops
        items = golden_set.load(golden, questions)
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    settings = settings_for(home)
    if from_feedback:
        feedback_api = api_for(settings, url, token, tenant)
        if feedback_api is None:
            raise fail("eval --from-feedback needs the running stack's API (`ragstream up`) or --url")
        _candidates(feedback_api, tenant, out or settings.home / "eval" / "feedback-candidates.jsonl")
        return
    tenant = tenant or (None if url else EVAL_TENANT)
    api = api_for(settings, url, token, tenant)
    if api is None:
        raise fail("eval needs the running stack's API (`ragstream up`) or --url")
    gateway_url, jwt = _gateway(settings, url, token, tenant)
    if url:
        target = runner.Target(api.url, gateway_url, jwt)
    else:
        from services.gateway import issue_token

        secret, who = settings.gateway_secret(), tenant or settings.tenant
        target = runner.Target(
            api.url,
            gateway_url,
            api.token,
            lambda user: issue_token(secret, who, user, 3600),
            lambda: issue_token(secret, who, "cli", 600, ops=True),  # the API's, fresh each session
        )
    items = items[:limit] if limit else items
    started = time.perf_counter()
    if publish:
        documents = golden_set.documents(golden)
        err.print(f"publishing {len(documents)} documents of {golden} …")
        failed = asyncio.run(runner.publish(target, golden))
        if failed:
            raise fail(f"{failed} golden documents were not indexed (see `ragstream dlq list`)")
    grader = _judge(settings, judge)
    err.print(f"asking {len(items)} questions" + (" (an LLM judges the answers)" if grader else "") + " …")
    scores = asyncio.run(_run(runner, target, items, grader))
    summary = metrics.summarise(scores)
    kinds = metrics.by_kind(scores)
    _print(summary, kinds, scores)
    asked = str(golden) if questions is None else f"{golden} · {questions}"  # one series per question file
    record = {"at": time.time(), "golden": asked, "seconds": round(time.perf_counter() - started, 1),
              "summary": summary, "by_kind": kinds}  # fmt: skip
    history = settings.home / "eval" / "runs.jsonl"
    history.parent.mkdir(parents=True, exist_ok=True)
    with history.open("a") as runs:
        runs.write(json.dumps(record) + "\n")
    details = [_detail(s) for s in scores]
    if as_json:
        as_json.write_text(json.dumps(record | {"questions": details}, indent=2))
    if html:
        from services.eval.report import render

        past = [json.loads(line) for line in history.read_text().splitlines() if line.strip()]
        html.write_text(render([r for r in past if r.get("golden") == asked], details))
        err.print(f"report: {html}")
    missed = metrics.below(summary, thresholds) + metrics.above(summary, ceilings)
    if missed:
        raise fail("below the threshold: " + "; ".join(missed))


def _judge(settings: Any, wanted: bool | None) -> Any:
    """The LLM judge when one is configured (and not turned off); --judge without an LLM is an error."""
    from services.eval.judge import Judge
    from services.models.llm import chat_model_from

    if wanted is False:
        return None
    llm = chat_model_from(settings.models)
    if llm is None and wanted:
        raise fail("--judge needs an LLM: set RAGSTREAM_MODELS__LLM_URL (an OpenAI-compatible server)")
    return Judge(llm) if llm is not None else None


async def _run(runner: Any, target: Any, items: list[Any], grader: Any) -> list[Any]:
    try:
        return list(await runner.run(target, items, on_scored=_progress, judge=grader))
    finally:
        if grader is not None:
            await grader.llm.close()


def _candidates(api: Any, tenant: str | None, out: Path) -> None:
    """Write the rated answers as golden-set candidates and say what came of them."""
    # every tenant's unless one is named: an operator's command, asked for explicitly (`*`); the API's
    # own default is the token's tenant
    found = api.call("GET", "/v1/feedback/candidates", params={"tenant": tenant or "*"})
    candidates = found["candidates"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in candidates))
    up = sum(c["review"]["rating"] == "up" for c in candidates)
    table = Table(title="feedback → golden-set candidates")
    for column in ("id", "rating", "question", "cited"):
        table.add_column(column)
    for c in candidates[:20]:
        mark = "[green]up[/]" if c["review"]["rating"] == "up" else "[red]down[/]"
        table.add_row(c["id"], mark, c["question"][:70], ", ".join(c["review"]["cited"])[:50])
    if candidates:
        console.print(table)
    note = f", {found['unreadable']} unreadable" if found["unreadable"] else ""
    err.print(
        f"{found['ratings']} ratings{note} → {len(candidates)} questions ({up} rated up, "
        f"{len(candidates) - up} down) written to {out}. Review each: write its expected facts, set its "
        "kind and sources, drop `review`, then add it to a golden.jsonl."
    )


def _progress(scored: Any) -> None:
    mark = "[red]error[/]" if scored.error else ("[green]ok[/]" if _passed(scored) else "[yellow]miss[/]")
    item = scored.item
    err.print(f"  {item.id} {item.kind:12} {mark}  {scored.seconds:.2f}s  {item.question}")


def _passed(scored: Any) -> bool:
    return bool(scored.fact and scored.cites) if scored.item.answerable else bool(scored.idk)


def _fmt(value: float | None, percent: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:.0%}" if percent else f"{value:.2f}"


def _print(summary: dict[str, Any], kinds: dict[str, dict[str, Any]], scores: list[Any]) -> None:
    table = Table(title="golden set", show_lines=False)
    columns: tuple[str, ...] = (
        "questions",
        "hit@1",
        "hit@5",
        "mrr",
        "fact",
        "cites",
        "idk",
        "false_idk",
        "p50_s",
    )
    if summary.get("judged"):
        columns += ("faithfulness", "relevancy")
    table.add_column("kind")
    for column in columns:
        table.add_column(column, justify="right")
    rows = [(k, v) for k, v in kinds.items() if v["questions"]] + [("all", summary)]
    for name, row in rows:
        table.add_row(
            name,
            *(
                str(int(row[c])) if c == "questions" else _fmt(row[c], percent=c not in ("mrr", "p50_s"))
                for c in columns
            ),
        )
    console.print(table)
    misses = [s for s in scores if not _passed(s)]
    for s in misses[:20]:
        idk = s.idk and s.item.answerable
        why = s.error or ("said it does not know" if idk else "fact or citation missing")
        console.print(f"[yellow]miss[/] {s.item.id} ({s.item.kind}): {s.item.question}  [dim]{why}[/]")
    if len(misses) > 20:
        console.print(f"[dim]… and {len(misses) - 20} more (see --json)[/]")


def _detail(scored: Any) -> dict[str, Any]:
    item = scored.item
    return {"id": item.id, "kind": item.kind, "question": item.question, "rank": scored.rank,
            "fact": scored.fact, "cites": scored.cites, "idk": scored.idk,
            "seconds": round(scored.seconds, 3), "error": scored.error, "answer": scored.answer,
            "cited": scored.cited, "faithfulness": scored.faithfulness,
            "relevancy": scored.relevancy}  # fmt: skip
