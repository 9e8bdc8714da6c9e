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
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

SymlinkPolicy = Literal["within", "never", "always"]
SKIP_NAMES = frozenset({".DS_Store", "Thumbs.db"})


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str


@dataclass(slots=True)
class Intake:
    """The files to publish (each real file once, as the path it was found by) and the skips."""

    files: list[Path] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def private_to_stack(real: Path, home: Path) -> bool:
    """The stack's own state: everything under ``home/data`` and the files directly in ``home``
    (secrets, the run file, ids). A documents folder kept inside home is the user's, not private."""
    home = home.resolve()
    return _inside(real, home / "data") or (real.parent == home and not real.is_dir())


class _Walk:
    def __init__(self, home: Path, policy: SymlinkPolicy) -> None:
        self.home = home
        self.policy = policy
        self.intake = Intake()
        self._seen: set[Path] = set()

    def skip(self, path: Path, reason: str) -> None:
        self.intake.skipped.append(Skipped(str(path), reason))

    def file(self, path: Path, root: Path | None) -> None:
        """Admit one file (``root``: the folder it was found in; None when named directly)."""
        real = path.resolve()
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
        if real not in self._seen:  # a link and its target inside one folder: one document
            self._seen.add(real)
            self.intake.files.append(path)
        return None

    def folder(self, root: Path) -> None:
        real_root = root.resolve()
        for current, dirs, names in os.walk(root, followlinks=False):
            here = Path(current)
            for name in sorted(dirs):
                if private_to_stack((here / name).resolve(), self.home):
                    self.skip(here / name, f"inside the stack's home ({self.home}): never published")
                    dirs.remove(name)
                elif name.startswith("."):
                    self.skip(here / name, "hidden folder")
                    dirs.remove(name)
                elif (here / name).is_symlink():
                    self.skip(here / name, "symlinked folder (not followed)")
            dirs.sort()
            for name in sorted(names):
                if name.startswith(".") or name in SKIP_NAMES:
                    self.skip(here / name, "hidden or system file")
                else:
                    self.file(here / name, real_root)


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
