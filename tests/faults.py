"""Faults injected between real parts: a loopback TCP proxy that resets the connection carrying a
chosen request, the way a server closing an idle keep-alive connection resets a client's next send."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


class ResettingProxy:
    """Forwards 127.0.0.1:``port`` to ``target_port``; while ``armed`` > 0, a client send that contains
    ``marker`` is not forwarded: both sockets are closed with a reset (SO_LINGER 0), once per arming."""

    def __init__(self, target_port: int, marker: bytes) -> None:
        self.target_port = target_port
        self.marker = marker
        self.armed = 0
        self.resets = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, name="resetting-proxy", daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
                for src, dst, inspect in ((client, upstream, True), (upstream, client, False)):
                    threading.Thread(target=self._pump, args=(src, dst, inspect), daemon=True).start()

    def _take(self, data: bytes) -> bool:
        with self._lock:
            if self.armed <= 0 or self.marker not in data:
                return False
            self.armed -= 1
            self.resets += 1
            return True

    def _pump(self, src: socket.socket, dst: socket.socket, inspect: bool) -> None:
        try:
            while data := src.recv(65536):
                if inspect and self._take(data):
                    for sock in (src, dst):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        sock.close()
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
