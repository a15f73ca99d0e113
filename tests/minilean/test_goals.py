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
