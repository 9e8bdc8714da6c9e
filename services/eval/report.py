"""The HTML report of `ragstream eval --html FILE`: one self-contained page (inline SVG and CSS, no
script, nothing fetched) with the metrics of every run in the history plotted per run, so that a
regression is seen rather than read, the latest run by kind of question with its change from the run
before, and the latest run's misses. Pure: runs and answers in, text out."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

# Plotted metrics (share of questions, 0..1) and their colours; false_idk is better when lower.
SERIES = (
    ("hit@1", "#2457c5"),
    ("hit@5", "#7aa2f7"),
    ("fact", "#1f7a4d"),
    ("cites", "#8fbf5a"),
    ("idk", "#b7791f"),
    ("false_idk", "#b42318"),
    ("faithfulness", "#6b46c1"),
    ("relevancy", "#d53f8c"),
)
LOWER_IS_BETTER = {"false_idk", "p50_s", "p95_s", "errors"}
TABLE = ("questions", "hit@1", "hit@5", "mrr", "fact", "cites", "idk", "false_idk", "faithfulness",
         "relevancy", "p50_s")  # fmt: skip
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 760, 300, 44, 130, 16, 34

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1c2430;background:#f6f7f9;
margin:0;padding:24px;line-height:1.45}main{max-width:980px;margin:auto}h1{margin:0 0 4px}
.sub{color:#5d6876;margin:0 0 20px}section{background:#fff;border:1px solid #dde2e8;border-radius:10px;
padding:16px 20px;margin:0 0 18px}h2{font-size:1.05rem;margin:0 0 10px}table{border-collapse:collapse;
width:100%;font-size:.9rem}th,td{padding:4px 8px;border-bottom:1px solid #eef1f4;text-align:right}
th:first-child,td:first-child{text-align:left}.up{color:#1f7a4d}.down{color:#b42318}.muted{color:#5d6876}
td.q{text-align:left;max-width:420px}svg text{font-size:11px;fill:#5d6876}
"""


def _num(value: Any, metric: str) -> str:
    if value is None:
        return "–"
    if metric == "questions":
        return str(int(value))
    if metric in ("mrr",) or metric.endswith("_s"):
        return f"{value:.2f}"
    return f"{value:.0%}"


def _delta(now: Any, before: Any, metric: str) -> str:
    if now is None or before is None or metric == "questions" or abs(now - before) < 1e-9:
        return ""
    better = (now < before) if metric in LOWER_IS_BETTER else (now > before)
    sign = "+" if now > before else "−"
    size = abs(now - before)
    text = f"{size:.2f}" if metric.endswith("_s") or metric == "mrr" else f"{size * 100:.0f} pt"
    return f' <span class="{"up" if better else "down"}">{sign}{text}</span>'


def chart(runs: list[dict[str, Any]]) -> str:
    """An SVG line chart: one line per metric in SERIES, one point per run (x: run order)."""
    n = len(runs)
    inner_w, inner_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def x(i: int) -> float:
        return PAD_L + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    def y(v: float) -> float:
        return PAD_T + inner_h * (1 - v)

    parts = [f'<svg viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="metrics per run">']
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                     f'stroke="#eef1f4"/><text x="{PAD_L - 6}" y="{y(tick) + 4:.1f}" '
                     f'text-anchor="end">{tick:.0%}</text>')  # fmt: skip
    for i, run in enumerate(runs):
        label = datetime.fromtimestamp(float(run.get("at", 0)), UTC).strftime("%m-%d %H:%M")
        parts.append(f'<text x="{x(i):.1f}" y="{H - 12}" text-anchor="middle">{html.escape(label)}</text>')
    legend_y = PAD_T
    for metric, colour in SERIES:
        points = [(i, r["summary"].get(metric)) for i, r in enumerate(runs)]
        points = [(i, v) for i, v in points if v is not None]
        if not points:
            continue
        path = " ".join(f"{'M' if k == 0 else 'L'}{x(i):.1f},{y(v):.1f}" for k, (i, v) in enumerate(points))
        parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, v in points:
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="{colour}">'
                         f"<title>{metric} {v:.0%} (run {i + 1})</title></circle>")  # fmt: skip
        parts.append(f'<rect x="{W - PAD_R + 14}" y="{legend_y}" width="12" height="3" fill="{colour}"/>'
                     f'<text x="{W - PAD_R + 32}" y="{legend_y + 5}">{metric}</text>')  # fmt: skip
        legend_y += 18
    parts.append("</svg>")
    return "".join(parts)


def _kinds_table(latest: dict[str, Any], before: dict[str, Any] | None) -> str:
    head = "".join(f"<th>{m}</th>" for m in TABLE)
    rows = []
    kinds = [(k, v) for k, v in latest.get("by_kind", {}).items() if v.get("questions")]
    for name, row in [*kinds, ("all", latest["summary"])]:
        was = (before or {}).get("summary") if name == "all" else (before or {}).get("by_kind", {}).get(name)
        cells = "".join(
            f"<td>{_num(row.get(m), m)}{_delta(row.get(m), (was or {}).get(m), m)}</td>" for m in TABLE
        )
        rows.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
    return f"<table><thead><tr><th>kind</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _misses(questions: list[dict[str, Any]]) -> str:
    rows = []
    for q in questions:
        unanswerable = q["kind"] == "unanswerable"
        passed = q["idk"] if unanswerable else (q["fact"] and q["cites"])
        if passed:
            continue
        if q.get("error"):
            why = str(q["error"])
        elif unanswerable:
            why = "answered instead of “I don't know”"
        else:
            why = "said it does not know" if q["idk"] else "fact or citation missing"
        answer = html.escape(str(q.get("answer", ""))[:300])
        rows.append(
            f'<tr><td>{html.escape(q["id"])}</td><td>{html.escape(q["kind"])}</td><td class="q">'
            f'{html.escape(q["question"])}<br><span class="muted">{answer}</span></td>'
            f"<td>{html.escape(why)}</td></tr>"
        )
    if not rows:
        return "<p>Every question passed.</p>"
    head = "<tr><th>id</th><th>kind</th><th>question and answer</th><th>why</th></tr>"
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def render(runs: list[dict[str, Any]], questions: list[dict[str, Any]] | None = None) -> str:
    """The report for ``runs`` (oldest first, as in runs.jsonl; the last is the latest) and, when
    given, the latest run's per-question details."""
    if not runs:
        raise ValueError("no runs to report")
    latest, before = runs[-1], (runs[-2] if len(runs) > 1 else None)
    when = datetime.fromtimestamp(float(latest.get("at", 0)), UTC).strftime("%Y-%m-%d %H:%M UTC")
    sub = (f"{html.escape(str(latest.get('golden', '')))} · latest run {when} · "
           f"{latest.get('seconds', 0):.0f} s · {len(runs)} run(s) in the history")  # fmt: skip
    body = [
        "<h1>ragstream eval</h1>",
        f'<p class="sub">{sub}</p>',
        f"<section><h2>Metrics per run</h2>{chart(runs)}</section>",
        "<section><h2>Latest run by kind of question"
        + (" (change from the run before)" if before else "")
        + f"</h2>{_kinds_table(latest, before)}</section>",
    ]
    if questions is not None:
        body.append(f"<section><h2>Misses of the latest run</h2>{_misses(questions)}</section>")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ragstream eval</title>'
        f"<style>{_CSS}</style></head><body><main>{''.join(body)}</main></body></html>\n"
    )
