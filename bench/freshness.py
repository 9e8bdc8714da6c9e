"""Freshness: how long a one-page document takes from publish to queryable on an idle embedded stack.

    python -m bench.freshness [--documents 30]

`ragstream up` as a user runs it (durable broker, every role in one process). One-page documents are
uploaded through the API one after another, each with ``wait=true``: the API answers when the
document's version is in both stores, and the seconds it reports run from its publish to that moment
(the same span `ragstream_freshness_seconds` measures inside the index stage). Goal (issue 12.3):
p50 ≤ 1 s, p95 ≤ 2 s. A search for each document's marker right after its answer checks that
"queryable" means it.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench.chat import pct
from bench.pressure import upload
from bench.scale import Deployment, embedded

TENANT = "fresh"


def page(i: int) -> bytes:
    marker = f"FRESH-{i:04d}-{uuid.uuid4().hex[:6]}"
    body = " ".join(
        f"Section {j} of the note on harbour logistics describes berth {i * 10 + j} and its cranes."
        for j in range(30)
    )
    return f"# Note {i}\n\nThe reference code of this note is {marker}.\n\n{body}\n".encode()


async def run(dep: Deployment, n: int) -> tuple[list[float], list[float], int]:
    from services.gateway import issue_token

    reported, round_trip, found = [], [], 0
    token = issue_token(dep.secret, TENANT, "bench", 3600)
    async with httpx.AsyncClient(base_url=dep.api, headers={"Authorization": f"Bearer {token}"}) as http:
        for i in range(n):
            data = page(i)
            marker = data.split(b"reference code of this note is ")[1].split(b".")[0].decode()
            started = time.perf_counter()
            body = await upload(dep, TENANT, f"note-{i}.md", data, wait=True)
            round_trip.append(time.perf_counter() - started)
            if body.get("status") != "indexed":
                print(f"note {i}: {body}")
                continue
            reported.append(float(body.get("seconds", 0.0)))
            hits = (await http.get("/v1/search", params={"q": marker, "k": 5})).json().get("chunks", [])
            found += any(marker in hit["text"] for hit in hits)
    return reported, round_trip, found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=30, help="one-page documents, one after another")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, embedded(Path(tmp)) as dep:
        reported, round_trip, found = asyncio.run(run(dep, args.documents))
    print(f"{len(reported)} of {args.documents} indexed; {found} found by their marker right after")
    print(f"publish → queryable (API): p50 {pct(reported, 50):.2f} s  p95 {pct(reported, 95):.2f} s  "
          f"max {max(reported):.2f} s   (goal p50 ≤ 1 s, p95 ≤ 2 s)")  # fmt: skip
    print(f"upload round trip:         p50 {pct(round_trip, 50):.2f} s  p95 {pct(round_trip, 95):.2f} s")


if __name__ == "__main__":
    main()
