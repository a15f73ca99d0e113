"""The goal-directed propositional proposer and the fixed list, on goals as the repl prints them."""

from __future__ import annotations

import numpy as np
import pytest

from policies import FixedTactics, PropositionalProposer, Proposer, StatsError, TacticProposal
from policies.goalview import read_goal

RNG = np.random.default_rng(0)


def top(goal: str, **knobs) -> str:
    proposals = PropositionalProposer(**knobs).propose([goal], rng=RNG)
    return proposals[0].tactic


def tactics(goal: str) -> list[str]:
    return [p.tactic for p in PropositionalProposer().propose([goal], rng=RNG)]


def test_read_goal_keeps_case_atoms_hypotheses_and_opaque_types():
    view = read_goal("case pos\nx : Int\np q : Prop\nh1 h2 : ¬p ∧ q\nhx : x < 0\n⊢ p ∨ q")
    assert view.case == "pos"
    assert view.prop_atoms == ("p", "q")
    assert [h.name for h in view.hyps] == ["x", "h1", "h2", "hx"]
    assert view.hyps[0].formula is None and view.hyps[3].formula is None  # not propositional
    assert str(view.hyps[1].formula) == str(view.hyps[2].formula)
    assert view.names == {"x", "p", "q", "h1", "h2", "hx"}


@pytest.mark.parametrize(
    "goal, expected",
    [
        ("p q : Prop\n⊢ p ∧ q → q ∧ p", "intro h1"),
        ("p q r : Prop\n⊢ (p → q) → ¬q → ¬p", "intro h1 h2 h3"),
        ("p q : Prop\nh1 : p ∧ q\n⊢ q ∧ p", "constructor"),
        ("p q : Prop\nh : p ∧ q\n⊢ q", "rcases h with ⟨h1, h2⟩"),
        ("p q : Prop\nh : p ∨ q\n⊢ q ∨ p", "rcases h with h1 | h2"),
        ("p : Prop\nh : p\n⊢ p", "exact h"),
        ("⊢ True", "trivial"),
        ("p q : Prop\nh : False\n⊢ q", "contradiction"),
        ("p q : Prop\nh1 : p\nh2 : ¬p\n⊢ q", "exact absurd h1 h2"),
        ("p : Prop\n⊢ p ∨ ¬p", "by_cases h1 : p"),
        ("case pos\np : Prop\nh1 : p\n⊢ p ∨ ¬p", "left"),
        ("case neg\np : Prop\nh1 : ¬p\n⊢ p ∨ ¬p", "right"),
        # Peirce after the intro and a split on p: apply the hypothesis whose conclusion is the goal
        ("case neg\np q : Prop\nh1 : (p → q) → p\nh2 : ¬p\n⊢ p", "apply h1"),
        ("p q : Prop\nh1 : ¬p\nh2 : p ∨ q\nh3 : ¬q\n⊢ False", "rcases h2 with h4 | h5"),
        ("p : Prop\nh1 : ¬¬p\nh2 : ¬p\n⊢ p", "exact absurd h2 h1"),
        ("p q : Prop\nh1 : ¬(p ∨ q)\nh2 : p\n⊢ q", "exfalso"),
        ("p q : Prop\nh1 : ¬(p ∨ q)\nh2 : p\n⊢ False", "apply h1"),
        ("p q : Prop\nh1 : p → q\nh2 : p\nh3 : ¬q\n⊢ False", "apply h3"),
        ("p q : Prop\nh1 : p → q\nh2 : p\nh3 : ¬q\n⊢ q", "apply h1"),
        ("p q r : Prop\nh1 : p → q ∧ r\nh2 : p\nh3 : ¬q\n⊢ False", "by_cases h4 : q ∧ r"),
    ],
)
def test_main_line_step(goal, expected):
    assert top(goal) == expected


def test_fresh_names_never_clash_with_atoms_or_hypotheses():
    goal = "h h1 h2 : Prop\nh3 : h1\n⊢ (h → h2) → h ∧ h1 → h2"
    step = top(goal)
    assert step == "intro h4 h5"
    for tactic in tactics("h1 h4 : Prop\nh2 : h1 ∨ h4\n⊢ h4 ∨ h1"):
        for name in tactic.replace("|", " ").replace("⟨", " ").replace("⟩", " ").replace(",", " ").split()[1:]:
            assert name not in {"h1", "h4"} or name in tactic.split()[1:2] or tactic.startswith(("exact", "apply"))
    assert top("h1 h4 : Prop\nh2 : h1 ∨ h4\n⊢ h4 ∨ h1") == "rcases h2 with h3 | h5"


def test_priors_sum_to_one_and_are_sorted():
    for goal in ["p : Prop\n⊢ p ∨ ¬p", "p q : Prop\n⊢ p ∧ q → q ∧ p", "x : Int\n⊢ x = x"]:
        proposals = PropositionalProposer().propose([goal], rng=RNG)
        assert sum(p.prior for p in proposals) == pytest.approx(1.0)
        assert [p.prior for p in proposals] == sorted((p.prior for p in proposals), reverse=True)
        assert len({p.tactic for p in proposals}) == len(proposals)
    main = PropositionalProposer().propose(["p : Prop\n⊢ p ∨ ¬p"], rng=RNG)
    assert main[0].prior > 0.99  # the complete main line carries almost all prior mass
    assert {"left", "right"} <= {p.tactic for p in main}  # alternatives stay available


def test_non_propositional_goals_get_the_fallback_list():
    proposals = PropositionalProposer(fallback=["rfl", "simp"]).propose(["x : Int\n⊢ x = x"], rng=RNG)
    assert [p.tactic for p in proposals] == ["rfl", "simp"]
    assert PropositionalProposer().propose([], rng=RNG) == []
    assert [p.tactic for p in PropositionalProposer(fallback=["rfl"]).propose(["no turnstile"], rng=RNG)] == ["rfl"]


def test_inaccessible_hypotheses_are_not_named():
    proposals = tactics("p q : Prop\nh✝ : p ∧ q\n⊢ q")
    assert all("✝" not in t for t in proposals)


def test_fixed_tactics():
    fixed = FixedTactics(["rfl", "trivial", "rfl"], priors=[2.0, 1.0, 5.0])
    out = fixed.propose(["⊢ True"], rng=RNG)
    assert [p.tactic for p in out] == ["rfl", "trivial"]  # a repeated tactic keeps its first prior
    assert [p.prior for p in out] == pytest.approx([2 / 3, 1 / 3])
    assert all(isinstance(p, TacticProposal) for p in out)
    assert [p.prior for p in FixedTactics(["a", "b"]).propose(["⊢ True"])] == [0.5, 0.5]
    assert fixed.propose([], rng=RNG) == []
    with pytest.raises(StatsError, match="2 tactics but 1 priors"):
        FixedTactics(["a", "b"], priors=[1.0])
    with pytest.raises(StatsError, match="non-empty list"):
        FixedTactics("rfl")


def test_builtins_satisfy_the_proposer_protocol():
    assert isinstance(FixedTactics(), Proposer)
    assert isinstance(PropositionalProposer(), Proposer)


def test_intro_chain_stops_at_a_target_that_is_a_hypothesis():
    """Regression: intro-ing past `hq → h_1` (a hypothesis) lost `exact h3` and looped through `apply h2`."""
    goal = ("h_1 hq h : Prop\nh1 : ¬((¬h → hq → h_1) ∨ hq)\nh2 : ¬(¬h → hq → h_1)\nh3 : hq → h_1\n"
            "⊢ ¬h → hq → h_1")
    assert top(goal) == "intro h4"
    assert top(goal.replace("⊢ ¬h → hq → h_1", "h4 : ¬h\n⊢ hq → h_1")) == "exact h3"


def test_split_knob_chooses_what_by_cases_decides():
    goal = "p q r : Prop\nh1 : ¬((p → q) ∧ r)\n⊢ ¬(p → q) ∨ ¬r"
    assert top(goal) == "by_cases h2 : p → q"  # the shared subformula
    assert top(goal, split="atom") == "by_cases h2 : p"  # most frequent atom, first seen
    with pytest.raises(StatsError, match="split='cut'"):
        PropositionalProposer(split="cut")
