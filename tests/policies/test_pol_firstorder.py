"""The first-order proposer: proposals on goals as MiniLean prints them, and real searches that prove with them."""

from __future__ import annotations

import anyio
import numpy as np
import pytest

from lean_env.lemmas import core_lemmas
from lean_env.terms import parse_term
from policies import GoalParseError, PropositionalProposer, StatsError, generate_tautologies, load_policy
from policies.firstorder import FirstOrderProposer, alpha_equal, match_term

RNG = np.random.default_rng(0)
FO = FirstOrderProposer()


def tactics(goal: str) -> list[str]:
    return [p.tactic for p in FO.propose([goal], rng=RNG)]


@pytest.mark.parametrize(
    "goal, expected",
    [
        ("x y z : Nat\n⊢ x = y → y = z → x = z", "intro h h1"),
        ("x y z : Nat\nh1 : x = y\nh2 : y = z\n⊢ x = z", "exact h1.trans h2"),
        ("a b c d : Int\nh : a = b\nh1 : c = b\nh2 : d = c\n⊢ a = d", "exact (h.trans h1.symm).trans h2.symm"),
        ("a b : Int\nh : a = b\n⊢ b = a", "exact h.symm"),
        ("a : Nat\n⊢ a = a", "rfl"),
        ("⊢ 2 + 3 = 5", "decide"),
        ("p : Nat → Prop\nh : p 2\n⊢ ∃ n, p n", "exact ⟨2, h⟩"),
        ("a : Nat\n⊢ ∃ x, x = a", "exact ⟨a, rfl⟩"),
        ("p q : Nat → Prop\nx : Nat\nh1 : p x\nh2 : q x\n⊢ ∃ m, p m ∧ q m", "exact ⟨x, h1, h2⟩"),
        ("p q : Nat → Prop\nh : ∃ n, p n ∧ q n\n⊢ ∃ m, p m", "cases h; rename_i x h1"),
        ("case intro\np q : Nat → Prop\nw✝ : Nat\nh✝ : p w✝ ∧ q w✝\n⊢ ∃ m, p m", "rename_i x h"),
        ("p q : Nat → Prop\n⊢ (∀ (n : Nat), p n ∧ q n) → (∀ (n : Nat), q n)", "intro h n"),
        ("p q : Nat → Prop\nh : ∀ (n : Nat), p n ∧ q n\nn : Nat\n⊢ q n", "exact (h n).2"),
        ("p : Nat → Prop\nh : ∀ (n : Nat), p n\n⊢ p 5", "exact h 5"),
        ("p q : Nat → Prop\nh1 : ∀ (n : Nat), p n → q n\nh2 : p 3\n⊢ q 3", "exact h1 3 h2"),
        ("p : Nat → Prop\nh : ∃ n, p n\n⊢ ∃ m, p m", "exact h"),  # equal up to the bound name
        ("a b : Nat\n⊢ a + b = b + a", "exact Nat.add_comm a b"),
        ("a b : Int\n⊢ a * b = b * a", "exact Int.mul_comm a b"),
        ("a b c : Nat\nh1 : a ≤ b\nh2 : b ≤ c\n⊢ a ≤ c", "exact Nat.le_trans h1 h2"),
        ("a b c : Int\nh1 : a < b\nh2 : b < c\n⊢ a < c", "exact Int.lt_trans h1 h2"),
        ("a b c : Nat\nh : a + b = c\n⊢ b + a = c", "rw [← h]"),
        ("p q : Nat → Prop\nn : Nat\n⊢ p n ∧ q n", "constructor"),
        ("f g : Nat → Nat\nh : ∀ (n : Nat), f n = g n\nn : Nat\n⊢ g n = f n", "exact (h n).symm"),
    ],
)
def test_main_line(goal, expected):
    assert tactics(goal)[0] == expected


def test_priors_sum_to_one_and_main_line_dominates():
    proposals = FO.propose(["a b : Nat\n⊢ a + b = b + a"], rng=RNG)
    assert sum(p.prior for p in proposals) == pytest.approx(1.0)
    assert proposals[0].prior > 0.99
    assert "rw [Nat.add_comm]" in [p.tactic for p in proposals]


def test_witnesses_come_from_the_goal_and_lemmas_fit_the_type():
    ts = tactics("p q : Nat → Prop\nh : ∀ (n : Nat), p n → q n\nh2 : p 0\n⊢ ∃ n, q n")
    assert ts[0] == "refine ⟨0, ?_⟩"
    assert not [t for t in tactics("a b : Nat\n⊢ a + b = b + a") if "Int." in t]


def test_propositional_goals_get_exactly_the_propositional_proposals():
    prop = PropositionalProposer()
    for t in generate_tautologies(12, seed=5):
        goal = f"{' '.join(t.atoms)} : Prop\n⊢ {t.statement.split(' : ', 1)[1].rsplit(' := by sorry', 1)[0]}"
        assert FO.propose([goal], rng=RNG) == prop.propose([goal], rng=RNG)


def test_terms_alpha_equality_and_matching():
    assert alpha_equal(parse_term("∃ n, p n"), parse_term("∃ (m : Nat), p m"))
    assert not alpha_equal(parse_term("∃ n, p n"), parse_term("∃ n, q n"))
    s = match_term(parse_term("x + y = y + x"), parse_term("a + (b * c) = b * c + a"), frozenset({"x", "y"}))
    assert s == {"x": parse_term("a"), "y": parse_term("b * c")}
    assert match_term(parse_term("x + x"), parse_term("a + b"), frozenset({"x"})) is None


def test_bad_knobs_and_unreadable_lemmas_are_errors():
    with pytest.raises(StatsError, match="max_proposals"):
        FirstOrderProposer(max_proposals=0)
    with pytest.raises(StatsError, match="cannot read its statement"):
        FirstOrderProposer(lemmas=[("Foo.bar", "∀ (a : Int), |a| = a")])
    assert FO.propose([], rng=RNG) == []
    assert tactics("not a goal")  # not Lean's layout: the propositional proposer's fallback tactics
    with pytest.raises(GoalParseError):
        from policies.firstorder import _Context

        _Context("not a goal")


def test_registered_under_first_order():
    assert isinstance(load_policy("proposer", "first-order"), FirstOrderProposer)


def test_every_core_lemma_is_known_to_minilean_with_that_statement():
    """The export and the prover agree: each listed lemma elaborates as `example : STATEMENT := NAME`."""
    from lean_env.client import ReplClient
    from lean_env.protocol import Command
    from lean_env.repl_cmd import minilean_argv

    lemmas = core_lemmas()
    assert len(lemmas) >= 30 and dict(lemmas)["Nat.add_comm"] == "∀ (n m : Nat), n + m = m + n"
    problems = []
    with ReplClient.spawn(minilean_argv(library_size=0), timeout=60) as client:
        for name, statement in lemmas:
            resp = client.request(Command(cmd=f"example : {statement} := @{name}"))
            errors = [m.data for m in resp.messages if m.severity == "error"]
            if errors:
                problems.append((name, errors))
    assert not problems


ISSUE_13 = [  # the four theorems the issue names, as in experiments/suites/06-08
    "theorem eq_trans_nat (x y z : Nat) : x = y → y = z → x = z := by sorry",
    "theorem eq_symm_int (a b : Int) : a = b → b = a := by sorry",
    "theorem exists_of_two (p : Nat → Prop) : p 2 → ∃ n, p n := by sorry",
    "theorem forall_and_right (p q : Nat → Prop) : (∀ n, p n ∧ q n) → ∀ n, q n := by sorry",
]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("selector", ["best-first", "uct", "puct"])
def test_search_proves_the_issue_theorems_and_the_proofs_recheck(selector):
    from lean_env.repl_cmd import minilean_argv
    from treesearch import SearchBudget, search

    async def run():
        out = []
        for source in ISSUE_13:
            out.append(await search(
                source, backend="native", backend_settings={"pool_size": 1, "argv": minilean_argv(library_size=0)},
                proposer="first-order", selector=selector, budget=SearchBudget(expansions=20, wall_seconds=60),
                max_in_flight=1, handle_sigint=False,
            ))
        return out

    results = anyio.run(run)
    assert [(r.theorem.name, r.verified, r.expansions) for r in results] == [
        ("eq_trans_nat", True, 2), ("eq_symm_int", True, 2), ("exists_of_two", True, 2),
        ("forall_and_right", True, 2)]
