"""parse_goal: one pretty-printed goal into hypotheses, tag and target trees."""

from __future__ import annotations

import pytest

from lean_env.minilean.goals import GoalParseError, parse_goal


def test_grouped_hypotheses_tag_and_target():
    g = parse_goal("case left\np q : Prop\nh : p ∧ q\n⊢ q ∧ p")
    assert g.tag == "left"
    assert [h.names for h in g.hypotheses] == [("p", "q"), ("h",)]
    assert g.hypothesis("h").type.kind == "binop" and g.hypothesis("h").type.args[0] == "∧"
    assert g.target.kind == "binop" and g.target.args[0] == "∧"
    assert g.names() == ["p", "q", "h"]


def test_inaccessible_names_and_negation():
    g = parse_goal("case neg\nx : Bool\nh✝ : ¬x = true\n⊢ Nat")
    h = g.hypotheses[1]
    assert h.names == ("h✝",) and h.inaccessible == (True,)
    assert h.type.kind == "not" and h.type.args[0].args[0] == "="
    assert g.target.kind == "ident" and g.target.args[0] == "Nat"


def test_no_hypotheses_and_quantifiers():
    g = parse_goal("⊢ ∀ (x : Nat), ∃ y, x < y")
    assert g.tag is None and g.hypotheses == ()
    assert g.target.kind == "forall" and g.target.args[1].kind == "exists"


def test_unparseable_type_is_kept_as_text():
    g = parse_goal("x : ℝ\nh0 : |x| > 1\n⊢ x < 0 ∨ 2 * x > 2")
    assert g.hypotheses[1].type is None and g.hypotheses[1].type_text == "|x| > 1"
    assert g.target.args[0] == "∨"


def test_goal_without_target_is_an_error():
    with pytest.raises(GoalParseError, match="⊢"):
        parse_goal("p : Prop")
    with pytest.raises(GoalParseError, match="hypothesis line"):
        parse_goal("garbage\n⊢ p")


def test_round_trip_on_minilean_goals(repl):
    r = repl.cmd("example (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r := by sorry")
    g = parse_goal(r["sorries"][0]["goal"])
    assert [h.names for h in g.hypotheses] == [("p", "q", "r"), ("h1",), ("h2",)]
    assert g.hypothesis("h2").type.args[0] == "→"


# --- printing and parsing agree: a goal printed by MiniLean parses back to the statement's own tree

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from lean_env.minilean.syntax import parse_term_text  # noqa: E402


def _shape(s):
    """A syntax tree without parentheses and positions."""
    if s.kind == "paren":
        return _shape(s.args[0])
    if s.kind in ("ident", "num"):
        return (s.kind, s.args[0])
    if s.kind == "binop":
        return ("binop", s.args[0], _shape(s.args[1]), _shape(s.args[2]))
    if s.kind in ("not", "neg"):
        return (s.kind, _shape(s.args[0]))
    if s.kind == "app":
        return ("app", _shape(s.args[0]), tuple(_shape(a) for a in s.args[1]))
    if s.kind in ("forall", "exists"):
        return (s.kind, tuple((tuple(n for n, _, _ in b.names)) for b in s.args[0]), _shape(s.args[1]))
    return (s.kind,)


def _formulas():
    atom = st.sampled_from(["p", "q", "r", "True", "False", "x = y", "x < y + 1", "x * 2 ≤ y", "¬x = 0"])
    return st.recursive(atom, lambda sub: st.one_of(
        st.tuples(st.just("¬"), sub).map(lambda t: f"¬({t[1]})"),
        st.tuples(sub, st.sampled_from(["∧", "∨", "→", "↔"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})")),
        max_leaves=6)


@pytest.fixture(scope="module")
def print_repl(tmp_path_factory):
    from ml_repl import Repl
    r = Repl(tmp_path_factory.mktemp("pp"))
    yield r
    r.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(f=_formulas())
def test_printed_goal_parses_back_to_the_statement(print_repl, f):
    r = print_repl.cmd(f"example (p q r : Prop) (x y : Nat) : {f} := by sorry")
    g = parse_goal(r["sorries"][0]["goal"])
    assert g.target is not None, r
    assert _shape(g.target) == _shape(parse_term_text(f)), (f, g.target_text)
