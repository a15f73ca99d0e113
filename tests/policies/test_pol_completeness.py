"""Completeness of PropositionalProposer, measured: search on MiniLean proves generated tautologies.

Real parts only: the treesearch driver, the native backend (MiniLean repl processes), best-first selection,
and the driver's re-check of every proof in a fresh repl.  The sample mixes every family and atom-name pool
(1-8 atoms) with formulas of 7-8 atoms.
"""

from __future__ import annotations

import anyio
import pytest

from policies import BestFirst, PropositionalProposer, generate_tautologies
from treesearch import SearchBudget, search

MIXED = generate_tautologies(18, seed=2026)
WIDE = generate_tautologies(4, seed=2027, min_atoms=7, prefix="wide")


async def _prove_all(items):
    results = []
    for t in items:  # a fresh backend per theorem; `search` closes the backend it makes
        result = await search(
            t.statement, backend="native", backend_settings={"pool_size": 1, "tactic_timeout": 30.0},
            proposer=PropositionalProposer(), selector=BestFirst(),
            budget=SearchBudget(expansions=2000, wall_seconds=120), max_in_flight=1, handle_sigint=False,
        )
        results.append((t, result))
    return results


@pytest.mark.timeout(240)
@pytest.mark.parametrize("sample", ["mixed", "wide"])
def test_search_with_the_proposer_proves_generated_tautologies(sample):
    items = MIXED if sample == "mixed" else WIDE
    results = anyio.run(_prove_all, items)
    failed = [(t.statement, r.stopped_by, r.expansions) for t, r in results if not r.verified]
    assert not failed, f"not proved (statement, stopped_by, expansions): {failed}"
    assert len(results) == len(items)
    if sample == "wide":
        assert all(len(t.atoms) >= 7 for t, _ in results)
    else:
        assert len({t.family for t, _ in results}) == 18
