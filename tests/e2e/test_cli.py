"""README's main command as a newcomer runs it: `ragstream up --ingest examples/docs` in the
foreground, then search, status, a broken publish, the DLQ, and a clean stop on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
RAGSTREAM = str(Path(sys.executable).parent / "ragstream")
EXAMPLES = ROOT / "examples" / "docs"


def cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RAGSTREAM, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


@pytest.fixture
def stack(tmp_path: Path) -> tuple[subprocess.Popen[str], dict[str, str], Path]:
    """`ragstream up --ingest examples/docs` running in the background until the folder is indexed."""
    env = {
        **os.environ,
        "RAGSTREAM_HOME": str(tmp_path / "home"),
        "COLUMNS": "200",
        "RAGSTREAM_GATEWAY__PORT": "0",
    }
    log = tmp_path / "up.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [RAGSTREAM, "up", "--ingest", str(EXAMPLES)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )
    deadline = time.monotonic() + 240
    while "document(s)" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"`ragstream up` did not finish ingesting:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    yield proc, env, log
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_up_ingests_the_examples_and_the_other_commands_attach(
    stack: tuple[subprocess.Popen[str], dict[str, str], Path], tmp_path: Path
) -> None:
    """Every example document is indexed; search, ask, status, publish, dlq and Ctrl-C work as documented."""
    proc, env, log = stack
    summary = log.read_text()
    assert summary.count("indexed") >= len(list(EXAMPLES.iterdir()))
    assert "failed" not in summary
    assert re.search(r"publish → queryable: p50 \d+\.\d s, p95 \d+\.\d s", summary), summary

    found = cli("search", "RS-2026004 Emerald Kingfisher", "--json", env=env)
    assert found.returncode == 0, found.stderr
    body = json.loads(found.stdout)
    assert any("RS-2026004" in c["text"] for c in body["chunks"])

    answer = cli("ask", "Who works for Helios Labs?", env=env)
    assert answer.returncode == 0, answer.stderr
    assert "works for Helios Labs" in answer.stdout
    assert "[1]" in answer.stdout
    assert "helios-labs" in answer.stdout  # the numbered source names the document

    run = json.loads((Path(env["RAGSTREAM_HOME"]) / "run.json").read_text())
    assert run["gateway_url"].startswith("ws://127.0.0.1:")
    token = cli("token", "--user", "newcomer", env=env)
    assert token.returncode == 0
    assert token.stdout.count(".") == 2  # a JWT

    table = cli("status", env=env)
    assert table.returncode == 0, table.stderr
    assert "embedder all-MiniLM-L6-v2 (" in table.stdout  # with its precision
    status = cli("status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert state["collection"] == "chunks_v1"
    assert state["chunks"] > 0
    assert {row["stage"] for row in state["backlog"]} == {
        "parse", "chunk", "embed", "extract-graph", "index", "plan", "retrieve", "tool", "respond"
    }  # fmt: skip
    # end offsets come from fetch responses, so they are never below what was committed (Tansu gap a)
    assert all(row["end"] == row["committed"] and row["lag"] == 0 for row in state["backlog"]), state[
        "backlog"
    ]

    metrics = httpx.get(f"{run['admin_url']}/metrics", timeout=30).text
    lag = [line for line in metrics.splitlines() if line.startswith("ragstream_consumer_lag{")]
    assert {line.split('stage="')[1].split('"')[0] for line in lag} >= {"parse", "chunk", "embed", "index"}
    assert all(line.endswith(" 0.0") for line in lag), lag

    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + os.urandom(512))
    published = cli("publish", str(broken), "--timeout", "60", env=env)
    assert published.returncode == 1
    assert "corrupt" in published.stdout

    # A folder with links out of it (the stack's own JWT secret, /etc/passwd) and a dangling one:
    # its own file is indexed, every link is listed as skipped, and the secret never becomes a chunk.
    home = Path(env["RAGSTREAM_HOME"])
    folder = tmp_path / "linked"
    folder.mkdir()
    (folder / "notes.md").write_text("# Notes\n\nThe Quillfeather archive opens on Mondays.\n")
    (folder / "secret.txt").symlink_to(home / "gateway.secret")
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    (folder / "gone.md").symlink_to(tmp_path / "gone.md")
    linked = cli("publish", str(folder), "--timeout", "60", env=env)
    assert linked.returncode == 0, linked.stdout + linked.stderr
    assert "3 skipped" in linked.stdout
    assert "symlink out of" in linked.stdout
    assert "dangling symlink" in linked.stdout
    assert "notes.md" in linked.stdout
    secret = (home / "gateway.secret").read_text().strip()
    leaked = cli("search", "--json", "--", secret, env=env)  # the secret may start with "-"
    assert leaked.returncode == 0, leaked.stderr
    assert all(secret not in c["text"] for c in json.loads(leaked.stdout)["chunks"])
    assert all(
        "root:" not in c["text"]
        for c in json.loads(cli("search", "root:x:0:0", "--json", env=env).stdout)["chunks"]
    )

    letters = cli("dlq", "list", env=env)
    assert letters.returncode == 0
    assert "corrupt" in letters.stdout
    assert "parse" in letters.stdout

    missing = cli("publish", str(tmp_path / "nope"), env=env)
    assert missing.returncode == 1
    assert "no such file" in missing.stderr

    # `ragstream eval` on a small golden set: published to its own tenant, measured, thresholds kept
    golden = tmp_path / "golden"
    (golden / "docs").mkdir(parents=True)
    (golden / "docs" / "archive.md").write_text(
        "# The Quillfeather archive\n\nThe Quillfeather archive opens at nine on weekdays.\n"
    )
    (golden / "docs" / "ferry.md").write_text(
        "# Harbour ferry\n\nThe harbour ferry to Lanthorn Island leaves every forty minutes.\n"
    )
    questions = [
        {"id": "q1", "question": "When does the Quillfeather archive open?", "kind": "named",
         "sources": ["archive.md"], "facts": ["nine"], "conversation": None, "turn": 1},
        {"id": "q2", "question": "How often does the harbour ferry leave?", "kind": "named",
         "sources": ["ferry.md"], "facts": ["every forty minutes"], "conversation": "c1", "turn": 1},
        {"id": "q3", "question": "Where does it go?", "kind": "followup",
         "sources": ["ferry.md"], "facts": ["Lanthorn Island"], "conversation": "c1", "turn": 2},
    ]  # fmt: skip
    (golden / "golden.jsonl").write_text("\n".join(json.dumps(q) for q in questions))
    report = tmp_path / "eval.json"
    page = tmp_path / "eval.html"
    measured = cli("eval", "--golden", str(golden), "--tenant", "small", "--json", str(report),
                   "--html", str(page), "--min", "hit@1=1", env=env)  # fmt: skip
    assert measured.returncode == 0, measured.stdout + measured.stderr
    figures = json.loads(report.read_text())
    assert figures["summary"]["questions"] == 3
    assert figures["summary"]["hit@1"] == 1.0  # both standalone questions find their document first
    assert [q["id"] for q in figures["questions"]] == ["q1", "q2", "q3"]
    assert "nine" in figures["questions"][0]["answer"]
    assert (home / "eval" / "runs.jsonl").read_text().count("\n") == 1
    drawn = page.read_text()
    assert "<svg" in drawn
    assert "Metrics per run" in drawn
    assert "1 run(s) in the history" in drawn
    strict = cli("eval", "--golden", str(golden), "--tenant", "small", "--no-publish", "--min", "fact=1.01",
                 env=env)  # fmt: skip
    assert strict.returncode == 1
    assert "below the threshold: fact" in strict.stderr
    # other questions about the same documents, kept apart from the set's own runs in the history
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps(questions[0] | {"id": "o1"}) + "\n")
    held_out = cli("eval", "--golden", str(golden), "--questions", str(other), "--tenant", "small",
                   "--no-publish", "--json", str(tmp_path / "other.json"), env=env)  # fmt: skip
    assert held_out.returncode == 0, held_out.stdout + held_out.stderr
    assert [q["id"] for q in json.loads((tmp_path / "other.json").read_text())["questions"]] == ["o1"]
    runs = [json.loads(line) for line in (home / "eval" / "runs.jsonl").read_text().splitlines()]
    assert runs[-1]["golden"] == f"{golden} · {other}"

    # A rating in `ragstream chat` reaches the feedback topic; `eval --from-feedback` makes it a candidate
    talk = subprocess.run(
        [RAGSTREAM, "chat", "--tenant", "small"],
        input="When does the Quillfeather archive open?\n/down it should say weekdays only\n\n",
        env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert talk.returncode == 0, talk.stdout + talk.stderr
    assert "thanks: rated down with your comment" in talk.stderr
    candidates_file = tmp_path / "candidates.jsonl"
    mined = cli("eval", "--from-feedback", "--out", str(candidates_file), env=env)
    assert mined.returncode == 0, mined.stdout + mined.stderr
    assert "1 questions (0 rated up, 1 down)" in mined.stderr
    [candidate] = [json.loads(line) for line in candidates_file.read_text().splitlines()]
    assert candidate["question"] == "When does the Quillfeather archive open?"
    assert candidate["review"]["comment"] == "it should say weekdays only"
    assert candidate["review"]["cited"] == ["archive.md"]
    assert "nine" in candidate["review"]["answer"]

    # What CI holds the product to: the bundled golden set (58 documents, 68 questions) against its gate
    bundled = tmp_path / "bundled.json"
    gated = cli("eval", "--gate", "--json", str(bundled), env=env, timeout=600)
    assert gated.returncode == 0, gated.stdout[-3000:] + gated.stderr[-3000:]
    summary = json.loads(bundled.read_text())["summary"]
    assert summary["questions"] == 68
    print("bundled golden set:", json.dumps(summary), file=sys.stderr)

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    assert "stopped cleanly" in log.read_text()
    assert not (Path(env["RAGSTREAM_HOME"]) / "run.json").exists()

    after = cli("status", env=env)
    assert after.returncode == 1
    assert "not running" in after.stderr
