"""Chat latency benchmark: the in-process agent graph and the distributed agent (four Kafka workers
behind the websocket gateway) side by side in one run, on the embedded stack with ``examples/docs``
indexed, then many concurrent websocket chats.

The stack is ``run_stack`` on an embedded Tansu broker (memory storage), with a unique topic prefix,
``Settings(cache_answers=False)`` (no semantic cache: every question really runs the agent) and a
``Gateway`` with its own Redis rate-limit prefix and a bucket large enough never to refuse.

1. **sequential**: the same N questions (a fixed list of 10 about the example documents, repeated),
   each asked in-process (``ask_inprocess(stack.agent, new_state(...))``) and then over the gateway
   (a new websocket per question; the clock starts when the ``ask`` frame is sent, the connect is
   reported apart). Time to first token (first ``token`` event / frame) and to the last token
   (``final``), p50/p95 per executor, and distributed - in-process on p50 TTFT against the goal
   (Kafka hops add <= 25 ms).
2. **per hop**: the frames carry no timestamps, so the bench taps the gateway in this process (it
   wraps the instance's ``_publish`` and ``_on_events``; no library code changes): when the question
   was handed to the producer and acknowledged, and for every ``ReplyEvent`` its ``emitted_at`` (set
   by the worker just before publishing it) and when the gateway's event loop received it. With the
   client's receive times that splits the distributed TTFT into segments, next to the same segments
   of the in-process run (times of its status/token events).
3. **concurrency**: C websockets connect, then all ask one question at once; errors (must be 0),
   TTFT p50/p95, wall time from the first ask to the last ``final``, and this process's RSS before
   and after (the gateway, the agent workers, the pipeline stages and the clients all run in this
   one process; Tansu and FalkorDB are child processes and not counted).

Warm-up (consumer-group joins, model load, first calls) happens before anything is timed.

Run ``python -m bench.chat [--questions 40] [--concurrency 100 [500 ...]] [--json PATH]``.

Layout: ``clients`` (the questions, ``Run``, the in-process and websocket executors), ``hops`` (the
gateway ``Tap`` and the per-hop segments), ``load`` (the sequential and concurrency runs), ``figures``
(percentiles, memory), ``report`` (the tables and the ``--json`` figures), ``stack`` (the stack, the
warm-up, the run and the command line).
"""

from bench.chat.clients import QUESTIONS, SECRET, TENANT, Run, ask_local, ask_remote
from bench.chat.figures import ms, pct, peak_rss_mib, rss_mib, summary
from bench.chat.hops import Tap, hop_segments
from bench.chat.load import concurrent, sequential
from bench.chat.report import GOAL_MS, Measured, concurrency_table, hop_table, latency_table, report
from bench.chat.stack import EXAMPLES, main, run

__all__ = [
    "EXAMPLES",
    "GOAL_MS",
    "QUESTIONS",
    "SECRET",
    "TENANT",
    "Measured",
    "Run",
    "Tap",
    "ask_local",
    "ask_remote",
    "concurrency_table",
    "concurrent",
    "hop_segments",
    "hop_table",
    "latency_table",
    "main",
    "ms",
    "pct",
    "peak_rss_mib",
    "report",
    "rss_mib",
    "run",
    "sequential",
    "summary",
]
