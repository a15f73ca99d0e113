"""compare-selectors: the table of docs/policies.md comes from real searches; specs carry keyword knobs."""

from __future__ import annotations

import pytest

from policies import PolicyLoadError, UCT, generate_tautologies
from policies.compare import Item, compare_selectors, format_table, policy_spec, summarise


def test_policy_spec_passes_literal_knobs():
    classic = policy_spec("selector", "uct[prior_weight=0, first_play_value=None]")
    assert classic == UCT(prior_weight=0.0, first_play_value=None)
    assert policy_spec("selector", "uct") == UCT()
    with pytest.raises(PolicyLoadError, match="key=<Python literal>"):
        policy_spec("selector", "uct[c=sqrt(2)]")
    with pytest.raises(PolicyLoadError, match=r"name\[key=value"):
        policy_spec("selector", "uct[c=1")


@pytest.mark.timeout(180)
def test_compare_selectors_runs_real_searches_at_equal_budgets():
    items = [Item(t.name, t.statement, "taut") for t in generate_tautologies(3, seed=4)]
    items.append(Item("eq_symm_int", "theorem eq_symm_int (a b : Int) : a = b → b = a := by sorry", "eq"))
    rows = compare_selectors(items, ["best-first", "uct"], proposers=["first-order"], expansions=60, recheck=True)
    assert len(rows) == 8
    assert all(r.proved for r in rows), [(r.selector, r.item.name, r.stopped_by) for r in rows if not r.proved]
    summary = {(s["group"], s["selector"]): s for s in summarise(rows)}
    assert summary[("eq", "uct")]["proved"] == 1 and summary[("eq", "uct")]["median_expansions"] == 2
    assert summary[("taut", "best-first")]["theorems"] == 3
    table = format_table(rows)
    assert table.count("\n") == 5 and "| eq | first-order | uct | 1 / 1 | 2 |" in table
