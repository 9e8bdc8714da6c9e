"""What `ragstream publish FOLDER` sends: symlinks out of the folder, into the stack's own home,
dangling or to folders are skipped with a reason; links inside the folder publish their target
once; nothing is skipped silently."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.common.settings import Settings
from services.intake import NotAsListed, Skipped, collect


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """A published folder beside an outside file and a stack home holding its generated secret."""
    home = tmp_path / "home"
    Settings(home=home).gateway_secret()  # generated into home, as `ragstream up` does
    secret = home / "gateway.secret"
    (home / "data" / "blobs").mkdir(parents=True)
    (home / "data" / "blobs" / "blob").write_text("a stored document")
    outside = tmp_path / "outside.txt"
    outside.write_text("not the folder's")
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.md").write_text("# A")
    (docs / "sub" / "b.txt").write_text("b")
    (docs / ".hidden.md").write_text("h")
    (docs / "to-secret").symlink_to(secret)
    (docs / "to-outside.txt").symlink_to(outside)
    (docs / "to-a.md").symlink_to(docs / "a.md")
    (docs / "dangling.md").symlink_to(tmp_path / "gone.md")
    (docs / "to-sub").symlink_to(docs / "sub", target_is_directory=True)
    return {"home": home, "docs": docs, "secret": secret, "outside": outside}


def reasons(skipped: list[Skipped]) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in skipped}


def test_within_policy_publishes_the_folder_own_files_only(tree: dict[str, Path]) -> None:
    """Default policy: links out of the folder and dangling links are skipped and listed; a link to
    a file inside the folder is the same document as its target, published once."""
    intake = collect([tree["docs"]], tree["home"])
    assert [p.name for p in intake.files] == ["a.md", "b.txt"]
    skipped = reasons(intake.skipped)
    assert "symlink out of" in skipped["to-secret"]
    assert "symlink out of" in skipped["to-outside.txt"]
    assert skipped["dangling.md"].startswith("dangling symlink")
    assert skipped["to-sub"] == "symlinked folder (not followed)"
    assert skipped[".hidden.md"] == "hidden or system file"
    assert "to-a.md" not in skipped  # not a skip: the same file as a.md


def test_the_stack_home_is_never_published_whatever_the_policy(tree: dict[str, Path]) -> None:
    """`always` follows links anywhere, but never into the stack's secrets; naming the secret
    directly is refused too."""
    intake = collect([tree["docs"]], tree["home"], "always")
    assert tree["outside"].name in {Path(p).resolve().name for p in intake.files}
    assert "never published" in reasons(intake.skipped)["to-secret"]
    assert not any(p.resolve() == tree["secret"].resolve() for p in intake.files)
    direct = collect([tree["secret"], tree["home"] / "data"], tree["home"])
    assert direct.files == []
    assert len(direct.skipped) == 2
    assert all("never published" in s.reason for s in direct.skipped)


def test_never_policy_skips_every_link(tree: dict[str, Path]) -> None:
    """With follow_symlinks=never even a link inside the folder is skipped (and listed)."""
    intake = collect([tree["docs"]], tree["home"], "never")
    assert reasons(intake.skipped)["to-a.md"] == "symlink (follow_symlinks=never)"


def test_a_documents_folder_inside_home_is_the_users(tmp_path: Path) -> None:
    """Only the stack's own state is private: a docs folder kept under the home is published."""
    home = tmp_path / "home"
    (home / "docs").mkdir(parents=True)
    (home / "docs" / "x.md").write_text("x")
    (home / "run.json").write_text("{}")
    assert [p.name for p in collect([home / "docs"], home).files] == ["x.md"]
    assert collect([home / "run.json"], home).files == []


def test_a_missing_path_is_an_error_not_a_skip(tmp_path: Path) -> None:
    """A path the user named that does not exist raises with its name."""
    with pytest.raises(FileNotFoundError, match="nope"):
        collect([tmp_path / "nope"], tmp_path / "home")


def test_a_named_link_to_a_folder_publishes_what_it_points_at(tree: dict[str, Path]) -> None:
    """Naming a link to a folder on the command line is deliberate: its files are published."""
    os.symlink(tree["docs"] / "sub", tree["docs"].parent / "sub-link")
    assert [p.name for p in collect([tree["docs"].parent / "sub-link"], tree["home"]).files] == ["b.txt"]


def test_a_hard_link_to_the_secret_is_skipped(tree: dict[str, Path]) -> None:
    """A review published a hard link to the stack's secret: the same file under a name of the
    folder's own, which resolving paths cannot see."""
    os.link(tree["secret"], tree["docs"] / "notes.txt")
    os.link(tree["home"] / "data" / "blobs" / "blob", tree["docs"] / "copy.txt")
    intake = collect([tree["docs"]], tree["home"])
    assert "hard link into the stack's home" in reasons(intake.skipped)["notes.txt"]
    assert "hard link into the stack's home" in reasons(intake.skipped)["copy.txt"]
    assert {p.name for p in intake.files} == {"a.md", "b.txt"}


def test_what_is_read_is_what_was_listed(tree: dict[str, Path]) -> None:
    """Listed, then swapped for a link to the secret, or for a FIFO (whose open blocked the publish):
    not read. Unchanged: read through a name no later swap can redirect."""
    intake = collect([tree["docs"]], tree["home"])
    a, b = tree["docs"] / "a.md", tree["docs"] / "sub" / "b.txt"
    with intake.opened(a) as listed:
        assert listed.read_text() == "# A"
    a.unlink()
    a.symlink_to(tree["secret"])
    b.unlink()
    os.mkfifo(b)
    for swapped in (a, b):
        with pytest.raises(NotAsListed, match="changed since it was listed"), intake.opened(swapped):
            pass


def test_an_unreadable_name_and_a_deep_tree_are_not_the_end_of_a_publish(tmp_path: Path) -> None:
    """A name that is not UTF-8 broke the publish with a traceback when it was sent; a tree deeper
    than Python's recursion limit raised RecursionError: nothing was published."""
    docs = tmp_path / "docs"
    docs.mkdir()
    here = os.open(docs, os.O_RDONLY)
    for _ in range(1100):  # pathlib's and os's makedirs recurse too: one level at a time
        os.mkdir("d", dir_fd=here)
        below = os.open("d", os.O_RDONLY, dir_fd=here)
        os.close(here)
        here = below
    bottom = os.open("bottom.txt", os.O_WRONLY | os.O_CREAT, dir_fd=here)
    os.write(bottom, b"found")
    os.close(bottom)
    os.close(here)
    with open(os.fsencode(docs) + b"/bad\xff.txt", "w") as bad:
        bad.write("x")
    try:
        intake = collect([docs], tmp_path / "home")
        assert [p.name for p in intake.files] == ["bottom.txt"]
        assert [s.reason for s in intake.skipped] == ["its name is not valid UTF-8 (rename it)"]
    finally:
        remove_deep(docs)  # pytest's clean-up of old temp dirs recurses too: it would fail on this


def remove_deep(top: Path) -> None:
    """Remove a tree of any depth without recursion: down by directory descriptors, then up."""
    fds, names = [os.open(top, os.O_RDONLY)], []
    while True:
        below = None
        for entry in os.scandir(fds[-1]):
            if entry.is_dir(follow_symlinks=False):
                below = entry.name
            else:
                os.unlink(entry.name, dir_fd=fds[-1])
        if below is None:
            break
        fds.append(os.open(below, os.O_RDONLY, dir_fd=fds[-1]))
        names.append(below)
    while names:
        os.close(fds.pop())
        os.rmdir(names.pop(), dir_fd=fds[-1])
    os.close(fds[0])
