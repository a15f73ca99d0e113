"""Regression: a second open() on a backend started new repls and orphaned the first theorem's processes
(found by the policies completeness test, which reused one NativeBackend across theorems)."""

from __future__ import annotations

import anyio
import psutil
import pytest

from treesearch import Theorem
from treesearch.backends import make_backend
from treesearch.errors import BackendError

FIRST = Theorem("theorem reopen_a (p : Prop) (hp : p) : p := by sorry")
SECOND = Theorem("theorem reopen_b (q : Prop) (hq : q) : q := by sorry")


@pytest.mark.parametrize("kind", ["native", "pickle-warm"])
def test_second_open_is_refused_and_orphans_nothing(kind: str) -> None:
    async def main() -> tuple[list[int], list[int]]:
        backend = make_backend(kind, pool_size=1)
        async with backend:
            root = await backend.open(FIRST)
            assert root.ok and root.goals
            before = sorted(backend.pids())
            with pytest.raises(BackendError, match="already open on 'reopen_a'"):
                await backend.open(SECOND)
            after = sorted(backend.pids())
        return before, after

    before, after = anyio.run(main)
    assert before and before == after, "a refused open must not start or replace processes"
    assert not [p for p in before if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
