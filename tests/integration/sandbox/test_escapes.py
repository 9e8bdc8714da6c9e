"""Escapes that the sandbox contains: the network, the host's files, privileges."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.settings import default_home
from services.tool.sandbox import run_python
from tests.integration.sandbox.support import BASE_PREFIX_PARTS, QUICK, REPO_ROOT, THIS_FILE, output_lines

pytestmark = pytest.mark.integration


# --- escapes: network -----------------------------------------------------------------------------------


async def test_network_is_unreachable(no_leftovers: None) -> None:
    """A TCP server listening on the host's 127.0.0.1 cannot be reached from the sandbox."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):  # the server is reachable here
            server.accept()[0].close()
        code = f"""
import socket
for host in ('127.0.0.1', 'localhost', '10.0.2.2', '1.1.1.1'):
    try:
        socket.create_connection((host, {port}), timeout=2)
        print('CONNECTED', host)
    except OSError as exc:
        print('blocked', host, type(exc).__name__)
"""
        result = await run_python(code, QUICK)
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.accept()
    assert result.exit_code == 0, result.stderr
    assert "CONNECTED" not in result.stdout
    assert [line.split()[:2] for line in output_lines(result)] == [
        ["blocked", "127.0.0.1"],
        ["blocked", "localhost"],
        ["blocked", "10.0.2.2"],
        ["blocked", "1.1.1.1"],
    ]


async def test_non_namespaced_socket_families_are_refused(no_leftovers: None) -> None:
    """AF_VSOCK (a VM's way to the hypervisor), AF_NETLINK and AF_PACKET sockets cannot be created."""
    code = """
import socket
for name, kind in (('AF_VSOCK', socket.SOCK_STREAM), ('AF_NETLINK', socket.SOCK_RAW),
                   ('AF_PACKET', socket.SOCK_RAW)):
    try:
        socket.socket(getattr(socket, name), kind)
        print(name, 'CREATED')
    except OSError as exc:
        print(name, type(exc).__name__)
a, b = socket.socketpair()
a.sendall(b'unix sockets still work')
print(b.recv(100).decode())
"""
    result = await run_python(code, QUICK)
    assert result.exit_code == 0, result.stderr
    assert output_lines(result) == [
        "AF_VSOCK PermissionError",
        "AF_NETLINK PermissionError",
        "AF_PACKET PermissionError",
        "unix sockets still work",
    ]


# --- escapes: files -------------------------------------------------------------------------------------


@pytest.fixture
def world_readable_secret() -> Iterator[Path]:
    """A secret outside scratch that any local user could read: only the mount namespace hides it."""
    directory = Path(tempfile.mkdtemp(prefix="sandbox-secret-", dir="/tmp"))
    directory.chmod(0o755)
    secret = directory / "secret.txt"
    secret.write_text("world-readable-s3cret")
    secret.chmod(0o644)
    yield secret
    shutil.rmtree(directory)


async def test_host_files_are_invisible(
    no_leftovers: None, tmp_path: Path, world_readable_secret: Path
) -> None:
    """/etc/shadow, the project, the data directory and secrets outside scratch cannot be read."""
    private_secret = tmp_path / "private.txt"
    private_secret.write_text("private-s3cret")
    private_secret.chmod(0o600)
    targets = [
        "/etc/shadow",
        "/etc/passwd",
        str(REPO_ROOT / "pyproject.toml"),
        str(THIS_FILE),
        str(default_home()),
        str(private_secret),
        str(world_readable_secret),
        "/proc/1/environ",
        "/proc/self/mounts",
        "/sys/kernel/notes",
        "/home",
        "/work",
    ]
    code = f"""
import os
for path in {targets!r}:
    try:
        with open(path, 'rb') as fh:
            print('READ', path, fh.read(200))
    except OSError as exc:
        print('denied', path, type(exc).__name__)
print(sorted(os.listdir('/')))
print(sorted(os.listdir('/root')) if os.path.isdir('/root') else [])
"""
    result = await run_python(code, QUICK)
    assert result.exit_code == 0, result.stderr
    lines = output_lines(result)
    assert "s3cret" not in result.stdout + result.stderr
    assert not [line for line in lines if line.startswith("READ")]
    assert len([line for line in lines if line.startswith("denied")]) == len(targets)
    visible = eval(lines[-2])  # the sandbox's own root listing
    assert set(visible) <= {
        "usr",
        "bin",
        "sbin",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "dev",
        "scratch",
        "tmp",
    } | {
        "sandbox",
        *BASE_PREFIX_PARTS[1:2],
    }
    # /root exists inside only when the interpreter lives there (pyenv), and then holds just that path
    assert set(eval(lines[-1])) <= set(BASE_PREFIX_PARTS[2:3])


async def test_privileges_cannot_be_regained(no_leftovers: None) -> None:
    """setuid(0), chroot, mount and new user or network namespaces all fail inside the sandbox."""
    code = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
attempts = {
    'setuid': lambda: os.setuid(0),
    'chroot': lambda: os.chroot('/scratch'),
    'mount': lambda: libc.mount(b'none', b'/scratch', b'tmpfs', 0, None) == 0 or 1 / 0,
    'userns': lambda: libc.unshare(0x10000000) == 0 or 1 / 0,
    'netns': lambda: libc.unshare(0x40000000) == 0 or 1 / 0,
    'io_uring': lambda: libc.syscall(425, 8, ctypes.create_string_buffer(120)) >= 0 or 1 / 0,
    'write_usr': lambda: open('/usr/evil', 'w'),
}
for name, attempt in attempts.items():
    try:
        attempt()
        print(name, 'SUCCEEDED')
    except (OSError, ZeroDivisionError):
        print(name, 'failed')
"""
    result = await run_python(code, QUICK)
    assert result.exit_code == 0, result.stderr
    assert "SUCCEEDED" not in result.stdout
    assert len(output_lines(result)) == 7
