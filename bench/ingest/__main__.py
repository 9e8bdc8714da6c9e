"""``python -m bench.ingest``: see the package docstring and bench/README.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.ingest.run import run
from bench.runner import run_and_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description="Benchmark ingestion: raw embedder, in-process, streaming."
    )
    parser.add_argument("--docs", type=int, default=200, help="documents in the generated corpus (>= 1)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--pages-per-pdf",
        type=int,
        default=0,
        help="replace each PDF with a prose PDF of this many pages (0 = the corpus's own 1-4 page PDFs)",
    )
    parser.add_argument("--partitions", type=int, default=None, help="topic partitions (default: settings)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run the three measurements N times in rotation; best shown"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    args = parser.parse_args(argv)
    if args.docs < 1:
        parser.error("--docs must be >= 1")
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if args.partitions is None:
        from services.common.settings import KafkaSettings

        args.partitions = KafkaSettings().partitions

    result = run_and_report(run, args)
    return 1 if result["warnings"] else 0


if __name__ == "__main__":
    sys.exit(main())
