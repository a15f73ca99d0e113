"""Theorem parsing / proof scripts and search budgets (pure)."""

from __future__ import annotations

import pytest

from treesearch import SearchBudget, Theorem, TheoremError, TreeSearchError


def test_theorem_name_imports_and_proof_script():
    th = Theorem.parse("import Foo\nimport Bar.Baz\n\ntheorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by sorry")
    assert th.name == "t" and th.imports == ("Foo", "Bar.Baz")
    assert th.header == "import Foo\nimport Bar.Baz"
    src = th.with_proof(["constructor", "exact hp", "cases h with\n| inl a => exact a"])
    assert src == ("theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  exact hp\n"
                   "  cases h with\n  | inl a => exact a")
    assert Theorem.from_dict(th.to_dict()) == th


def test_bad_theorems_say_what_to_do():
    with pytest.raises(TheoremError, match="must end in ':= by sorry'"):
        Theorem("theorem t : True := trivial")
    with pytest.raises(TheoremError, match="bad import"):
        Theorem("theorem t : True := by sorry", imports=("a b",))
    with pytest.raises(TheoremError, match="empty tactic script"):
        Theorem("theorem t : True := by sorry").with_proof([])


def test_budget_remaining_and_validation():
    b = SearchBudget(expansions=10, wall_seconds=5.0)
    r = b.remaining(expansions_used=4, wall_used=1.5)
    assert r.expansions == 6 and r.wall_seconds == pytest.approx(3.5)
    assert b.remaining(expansions_used=40, wall_used=9).expansions == 0
    assert SearchBudget.from_dict(b.to_dict()) == b
    with pytest.raises(TreeSearchError, match="expansions"):
        SearchBudget(expansions=-1)
    with pytest.raises(TreeSearchError, match="tactic_timeout"):
        SearchBudget(tactic_timeout=0)
    with pytest.raises(TreeSearchError, match="unknown budget keys"):
        SearchBudget.from_dict({"expansion": 3})
