"""Regression: a theorem whose statement does not elaborate made ``search`` raise
``TreeError: the root is proved without any tactic`` -- the driver's empty placeholder tree was read as a proof."""

from __future__ import annotations

import anyio
import pytest

from policies.proposers import FixedTactics
from treesearch import SearchBudget, Theorem, search

BAD = Theorem("theorem bad_statement (p : Prop) : p ∧ undefined_thing := by sorry")


@pytest.mark.parametrize("backend", ["native", "pickle"])
def test_open_failed_is_a_result_not_a_crash(backend: str) -> None:
    settings = {"pool_size": 1} if backend == "native" else {}
    result = anyio.run(lambda: search(
        BAD, backend=backend, proposer=FixedTactics(["constructor"]), selector="best-first",
        budget=SearchBudget(expansions=3, wall_seconds=30), backend_settings=settings, handle_sigint=False,
    ))
    assert not result.proved and result.proof is None
    assert result.stopped_by == "open-failed"
    assert result.recheck is None or not result.recheck.accepted
