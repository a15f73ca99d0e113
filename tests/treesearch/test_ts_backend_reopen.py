"""Regression: a second open() on a backend started new repls and orphaned the first theorem's processes
(found by the policies completeness test, which reused one NativeBackend across theorems). The base class
enforces the rule for every kind; criu skipped the check while each backend did it for itself."""

from __future__ import annotations

import anyio
import psutil
import pytest

from treesearch import Theorem
from treesearch.backends import BACKENDS, make_backend
from treesearch.errors import BackendError

FIRST = Theorem("theorem reopen_a (p : Prop) (hp : p) : p := by sorry")
SECOND = Theorem("theorem reopen_b (q : Prop) (hq : q) : q := by sorry")


@pytest.mark.parametrize("kind", BACKENDS)
def test_second_open_is_refused_and_orphans_nothing(kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "criu":
        request.getfixturevalue("criu")  # fails, never skips, without CRIU
    settings = {"keep_warm": 1, "freeze": "lazy"} if kind == "criu" else {"pool_size": 1}

    async def main() -> tuple[list[int], list[int]]:
        backend = make_backend(kind, **settings)
        async with backend:
            root = await backend.open(FIRST)
            assert root.ok and root.goals
            before = sorted((await backend.usage()).pids)
            with pytest.raises(BackendError, match="already open on 'reopen_a'"):
                await backend.open(SECOND)
            after = sorted((await backend.usage()).pids)
        return before, after

    before, after = anyio.run(main)
    assert (before or kind == "pickle") and before == after, "a refused open must not start or replace processes"
    assert not [p for p in before if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
