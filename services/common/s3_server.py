"""A small S3-protocol object server on loopback that keeps objects in a directory: the storage of the
embedded broker (Tansu's ``s3://`` engine), so topics, offsets and dead letters survive a restart and a
``kill -9``.

Why our own: Tansu keeps its high watermarks and group offsets in objects it rewrites with
conditional PUTs (``If-None-Match: *`` to create, ``If-Match: <etag>`` to update). Measured against
Tansu 0.6 (docs/architecture.md): s3rver ignores both on PUT, so after a restart Tansu recreated its
watermark at offset 0 and overwrote committed batches; local-s3-server answers every overwrite with a
500; alocals3 is correct but leaves an orphan file behind every overwrite (~1 GB a day with one idle
consumer); moto keeps nothing on disk. This server implements exactly the S3 subset Tansu and the
blob store use, with those conditions right, and nothing more:

* buckets: create (idempotent), head;
* objects: PUT (conditional, or a copy with ``x-amz-copy-source``), GET (ranges, conditions), HEAD,
  DELETE, multi-object delete; ``ListObjectsV2`` with prefix, delimiter, start-after and pages.

Every write goes to a temporary file that is flushed, fsynced and renamed over the object (the
directory fsynced too), so an acknowledged write survives a crash of any process and of the machine.
Requests are not signed-checked: the server binds to loopback only and serves one stack's home.
Idle connections stay open for ``KEEP_ALIVE_S``, longer than any client keeps one in its pool: a server
that closes an idle connection first races the client's next request on it (measured: uvicorn's 5 s
default reset Tansu's conditional PUT of ``meta.json``, which it does not retry; Tansu then fenced the
stack's idempotent producer and ingestion stopped).
Run: ``python -m services.common.s3_server --root DIR --port P``.

Layout: ``s3_protocol`` (errors, XML, conditions, ranges), ``s3_store`` (the objects on disk and
their in-memory index), ``s3_app`` (the HTTP handlers and the retention sweeps); this module starts
the server and is the import path for all of them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from services.common.s3_app import S3App
from services.common.s3_protocol import XMLNS, S3Error, check_conditions
from services.common.s3_store import SUFFIX, ObjectStore, Stored

__all__ = [
    "KEEP_ALIVE_S",
    "SUFFIX",
    "XMLNS",
    "ObjectStore",
    "S3App",
    "S3Error",
    "Stored",
    "check_conditions",
    "main",
]

KEEP_ALIVE_S = 600  # > the 90 s a reqwest client (Tansu, object_store) keeps an idle connection


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="directory that holds the buckets")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--no-fsync", action="store_true", help="skip fsync (survives kill -9, not power loss)"
    )
    parser.add_argument(
        "--tansu-retention", metavar="BUCKET", help="enforce topic retention on Tansu's storage in BUCKET"
    )
    args = parser.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    app = S3App(ObjectStore(args.root, fsync=not args.no_fsync), args.tansu_retention).app
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
    )


if __name__ == "__main__":
    main()
