"""Propositional formulas: Lean 4 precedences, printing, truth tables, Kleene evaluation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.errors import GoalParseError
from policies.formula import (
    BOTTOM,
    TOP,
    Atom,
    Binary,
    Not,
    Op,
    atoms,
    falsifying_assignment,
    is_tautology,
    kleene,
    parse_formula,
    render,
    truth_mask,
)

p, q, r = Atom("p"), Atom("q"), Atom("r")


@pytest.mark.parametrize(
    "text, tree",
    [
        ("¬p ∧ q", Binary(Op.AND, Not(p), q)),
        ("¬(p ∧ q)", Not(Binary(Op.AND, p, q))),
        ("p ∧ q ∧ r", Binary(Op.AND, p, Binary(Op.AND, q, r))),
        ("(p ∧ q) ∧ r", Binary(Op.AND, Binary(Op.AND, p, q), r)),
        ("p ∨ q ∧ r", Binary(Op.OR, p, Binary(Op.AND, q, r))),
        ("p → q → r", Binary(Op.IMP, p, Binary(Op.IMP, q, r))),
        ("(p → q) → r", Binary(Op.IMP, Binary(Op.IMP, p, q), r)),
        ("p ∧ q → r ∨ p", Binary(Op.IMP, Binary(Op.AND, p, q), Binary(Op.OR, r, p))),
        ("p → q ↔ ¬q → ¬p", Binary(Op.IFF, Binary(Op.IMP, p, q), Binary(Op.IMP, Not(q), Not(p)))),
        ("¬¬p", Not(Not(p))),
        ("p -> q <-> q \\/ p /\\ True", Binary(Op.IFF, Binary(Op.IMP, p, q), Binary(Op.OR, q, Binary(Op.AND, p, TOP)))),
        ("False → x₁ ∨ α'", Binary(Op.IMP, BOTTOM, Binary(Op.OR, Atom("x₁"), Atom("α'")))),
    ],
)
def test_parse_follows_lean_precedence(text, tree):
    assert parse_formula(text) == tree


def test_render_uses_minimal_parentheses():
    assert render(Binary(Op.IMP, Binary(Op.IMP, p, q), p)) == "(p → q) → p"
    assert render(Binary(Op.IMP, p, Binary(Op.IMP, q, p))) == "p → q → p"
    assert render(Not(Binary(Op.OR, p, q))) == "¬(p ∨ q)"
    assert render(Binary(Op.AND, Not(p), Not(Not(q)))) == "¬p ∧ ¬¬q"
    assert render(Binary(Op.IFF, Binary(Op.IFF, p, q), r)) == "(p ↔ q) ↔ r"
    assert render(Binary(Op.OR, Binary(Op.AND, p, q), r)) == "p ∧ q ∨ r"
    assert render(Binary(Op.AND, Binary(Op.OR, p, q), r)) == "(p ∨ q) ∧ r"


@pytest.mark.parametrize("bad", ["", "p ∧", "(p", "p q", "x < 0", "p ↔ q ↔ r", "fun", "h✝"])
def test_unreadable_text_raises_with_the_text(bad):
    with pytest.raises(GoalParseError, match="cannot read"):
        parse_formula(bad)


formula_st = st.recursive(
    st.sampled_from([p, q, r, TOP, BOTTOM, Atom("x₁")]),
    lambda sub: st.one_of(st.builds(Not, sub), st.builds(Binary, st.sampled_from(list(Op)), sub, sub)),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(formula_st)
def test_property_render_then_parse_round_trips(f):
    assert parse_formula(render(f)) == f


def _eval(f, v):
    return kleene(f, v)


@settings(max_examples=200, deadline=None)
@given(formula_st)
def test_property_truth_mask_agrees_with_evaluation(f):
    names = ("p", "q", "r", "x₁")
    mask = truth_mask(f, names)
    for k in range(16):
        v = {n: bool((k >> j) & 1) for j, n in enumerate(names)}
        assert bool((mask >> k) & 1) == _eval(f, v)
    assert is_tautology(f) == (falsifying_assignment(f) is None)
    witness = falsifying_assignment(f)
    if witness is not None:
        assert kleene(f, witness) is False


def test_tautology_decisions():
    for text in ["((p → q) → p) → p", "p ∨ ¬p", "¬(p ∧ q) ↔ ¬p ∨ ¬q", "(p → q) ∨ (q → p)", "False → p", "True"]:
        assert is_tautology(parse_formula(text)), text
    for text in ["p", "p → q", "¬¬p ∧ q", "False", "(p → q) → q → p"]:
        assert not is_tautology(parse_formula(text)), text
    assert atoms(parse_formula("q ∧ p → q")) == ("q", "p")


def test_kleene_is_strong():
    f = parse_formula("p ∨ q")
    assert kleene(f, {"p": True}) is True
    assert kleene(f, {"p": False}) is None
    assert kleene(parse_formula("p → q"), {"q": True}) is True
    assert kleene(parse_formula("p → q"), {"p": True, "q": False}) is False
    assert kleene(parse_formula("p ∧ q"), {"q": False}) is False
    assert kleene(parse_formula("p ↔ q"), {"q": False}) is None
