"""The sandbox tests' fixtures: the proof that this machine can host the sandbox at all, and the check
that no sandbox process outlives its test (the constants and checks behind them: ``support.py``).

The tests need what the sandbox needs: root and working namespaces. Where the machine provably lacks
them (not root, or util-linux ``unshare`` itself cannot create the namespaces) they skip with the
reason; anything else the sandbox fails to enforce is a failure. The refusal tests run everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.integration.sandbox.support import capability_problem, ours, uid_processes


@pytest.fixture(scope="module")
def capable() -> None:
    """Skip (with the proof) only where the machine itself cannot create the namespaces."""
    problem = capability_problem()
    if problem is not None:
        pytest.skip(problem)


@pytest.fixture
def no_leftovers(capable: None) -> Iterator[None]:
    """After the test no process of the sandbox uid is left that was not there before."""
    before = uid_processes()
    yield
    deadline = time.monotonic() + 5
    while (left := {p for p in uid_processes() - before if ours(p)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"sandbox processes outlived the run: {sorted(left)}"
