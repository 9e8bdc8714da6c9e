"""The ``ragstream`` command: the one entry point for people and scripts. Each command group is a
module of this package; this table of contents registers them, in the order `--help` lists them."""

from __future__ import annotations

import sys

from services.cli import documents, evaluate, models, operate, query, stack
from services.cli.app import app, dlq_app, models_app

for command in (
    stack.up,
    stack.worker,
    documents.publish,
    documents.delete,
    query.search,
    query.ask,
    query.chat,
    operate.status,
    operate.reindex,
    operate.repair,
    query.token,
):
    app.command()(command)
app.command("eval")(evaluate.evaluate)
app.command("topics")(operate.list_topics)
dlq_app.command("list")(operate.dlq_list)
dlq_app.command("replay")(operate.dlq_replay)
models_app.command("up")(models.models_up)
models_app.command("check")(models.models_check)

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console script shim
    sys.exit(app())
