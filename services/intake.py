"""Which files a publish sends, and which it skips and why.

Publishing a folder must never send what the folder does not own: a symlink can point anywhere
(``/etc/passwd``, the stack's own ``gateway.secret``), so a link is followed only as the policy
allows, and a file that resolves into the stack's private state (its home's data, secrets and run
files) is never published under any policy. Nothing is skipped silently: every skip is returned
with its reason for the publish summary.

Policies (``RAGSTREAM_PIPELINE__FOLLOW_SYMLINKS``): ``within`` (default) follows a file link whose
target lies inside the folder being published; ``never`` skips every link; ``always`` follows file
links wherever they point (the stack's private state still excepted). Linked folders are never
descended (no cycles, no second copy of a tree under another name).

A hard link to a private file is the same file under another name: it is skipped too. And what is
read is what was listed: ``Intake.opened`` opens the file and checks it is still the regular file
found (device and inode), so a name swapped for a link to a secret, or for a FIFO that would block
the publish, between the listing and the read is skipped with its reason.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

SymlinkPolicy = Literal["within", "never", "always"]
SKIP_NAMES = frozenset({".DS_Store", "Thumbs.db"})
Identity = tuple[int, int]  # (st_dev, st_ino): a file whatever its names


class NotAsListed(OSError):
    """The name now stands for another file than the one listed (or for no regular file)."""


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str


@dataclass(slots=True)
class Intake:
    """The files to publish (each real file once, as the path it was found by) and the skips."""

    files: list[Path] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    identity: dict[Path, Identity] = field(default_factory=dict)

    @contextlib.contextmanager
    def opened(self, path: Path) -> Iterator[Path]:
        """``path`` open as it was listed, as a name to read it by (``/dev/fd/N``) that no later swap
        of ``path`` can redirect; ``NotAsListed`` when it is no longer that regular file."""
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO put in its place must not block
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != self.identity.get(path):
                raise NotAsListed(f"{path} changed since it was listed (another file, or not a regular one)")
            # Linux: opening /dev/fd/N opens the same file afresh (its own position), as many times as
            # a blob store likes; on macOS it is a dup sharing this position (not a target here)
            yield Path(f"/dev/fd/{fd}")
        finally:
            os.close(fd)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def private_to_stack(real: Path, home: Path) -> bool:
    """The stack's own state: everything under ``home/data`` and the files directly in ``home``
    (secrets, the run file, ids). A documents folder kept inside home is the user's, not private."""
    home = home.resolve()
    return _inside(real, home / "data") or (real.parent == home and not real.is_dir())


def private_files(home: Path) -> set[Identity]:
    """The identities of the stack's private files (``private_to_stack``), for telling a hard link
    to one of them (the same file under another name) from a file of its own."""
    home = home.resolve()
    names = [p for p in home.iterdir() if p.is_file()] if home.is_dir() else []
    for here, _dirs, files in os.walk(home / "data"):
        names.extend(Path(here) / f for f in files)
    found = set()
    for name in names:
        with contextlib.suppress(OSError):
            st = name.stat(follow_symlinks=False)
            found.add((st.st_dev, st.st_ino))
    return found


class _Walk:
    def __init__(self, home: Path, policy: SymlinkPolicy) -> None:
        self.home = home
        self.policy = policy
        self.intake = Intake()
        self._seen: set[Identity] = set()
        self._private: set[Identity] | None = None

    def skip(self, path: Path, reason: str) -> None:
        self.intake.skipped.append(Skipped(str(path), reason))

    def private(self, st: os.stat_result) -> bool:
        if st.st_nlink < 2:
            return False  # one name: the one listed
        if self._private is None:
            self._private = private_files(self.home)
        return (st.st_dev, st.st_ino) in self._private

    def file(self, path: Path, root: Path | None, real: Path | None = None) -> None:
        """Admit one file (``root``: the folder it was found in; None when named directly; ``real``:
        its resolved path when the walk knows it)."""
        try:
            str(path).encode("utf-8")
        except UnicodeEncodeError:
            return self.skip(path, "its name is not valid UTF-8 (rename it)")
        real = real or path.resolve()
        if path.is_symlink():
            if not path.exists():
                return self.skip(path, f"dangling symlink (to {os.readlink(path)})")
            if root is not None and self.policy == "never":
                return self.skip(path, "symlink (follow_symlinks=never)")
            if root is not None and self.policy == "within" and not _inside(real, root):
                return self.skip(path, f"symlink out of {root} (to {real}; follow_symlinks=within)")
        if private_to_stack(real, self.home):
            return self.skip(path, f"inside the stack's home ({self.home}): never published")
        if not real.is_file():
            return self.skip(path, "not a regular file")
        st = real.stat()
        if self.private(st):
            return self.skip(path, f"a hard link into the stack's home ({self.home}): never published")
        identity = (st.st_dev, st.st_ino)
        if identity not in self._seen:  # a link and its target inside one folder: one document
            self._seen.add(identity)
            self.intake.files.append(path)
            self.intake.identity[path] = identity
        return None

    def folder(self, root: Path) -> None:
        """Every file under ``root``, depth first in name order; a loop, not recursion (a tree a
        thousand folders deep is a tree to publish, not a RecursionError)."""
        real_root = root.resolve()
        pending = [(root, real_root)]  # each folder with its resolved path (resolving is per level)
        while pending:
            here, real_here = pending.pop()
            try:
                entries = sorted(os.scandir(here), key=lambda e: e.name)
            except OSError as exc:
                self.skip(here, f"folder could not be read: {exc.strerror or exc}")
                continue
            below = []
            for entry in entries:
                path, linked = here / entry.name, entry.is_symlink()
                real = path.resolve() if linked else real_here / entry.name
                if entry.is_dir():  # a folder, or a link to one
                    if private_to_stack(real, self.home):
                        self.skip(path, f"inside the stack's home ({self.home}): never published")
                    elif entry.name.startswith("."):
                        self.skip(path, "hidden folder")
                    elif linked:
                        self.skip(path, "symlinked folder (not followed)")
                    else:
                        below.append((path, real))
                elif entry.name.startswith(".") or entry.name in SKIP_NAMES:
                    self.skip(path, "hidden or system file")
                else:
                    self.file(path, real_root, real)
            pending.extend(reversed(below))


def collect(paths: Iterable[str | Path], home: Path, policy: SymlinkPolicy = "within") -> Intake:
    """Files named directly, and every file under the folders named, by the rules above (sorted).

    A path that does not exist raises ``FileNotFoundError``: the user named it, so it is an error,
    not a skip."""
    walk = _Walk(home, policy)
    for raw in paths:
        path = Path(raw)
        if path.is_dir() and private_to_stack(path.resolve(), home):
            walk.skip(path, f"inside the stack's home ({home}): never published")
        elif path.is_dir():  # a link to a folder, named on purpose: publish what it points at
            walk.folder(path.resolve() if path.is_symlink() else path)
        elif path.exists() or path.is_symlink():
            walk.file(path, None)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return walk.intake
