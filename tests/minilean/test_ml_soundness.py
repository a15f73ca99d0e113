"""Soundness: random propositional goals and random tactic scripts.

Nothing that is not a tautology (decided by truth tables) is ever reported "Completed", and every completed tactic
path re-checks as a whole `cmd` without errors or sorry.
"""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_repl import Repl

ATOMS = ["p", "q", "r"]


def formulas(depth: int = 3):
    atom = st.sampled_from(ATOMS + ["True", "False"])
    return st.recursive(atom, lambda sub: st.one_of(
        st.tuples(st.just("¬"), sub),
        st.tuples(st.sampled_from(["∧", "∨", "→", "↔"]), sub, sub)), max_leaves=6)


def show(f) -> str:
    if isinstance(f, str):
        return f
    if f[0] == "¬":
        return f"¬({show(f[1])})"
    return f"({show(f[1])} {f[0]} {show(f[2])})"


def holds(f, env: dict) -> bool:
    if isinstance(f, str):
        return {"True": True, "False": False}.get(f, env.get(f, False))
    if f[0] == "¬":
        return not holds(f[1], env)
    a, b = holds(f[1], env), holds(f[2], env)
    return {"∧": a and b, "∨": a or b, "→": (not a) or b, "↔": a == b}[f[0]]


def tautology(f) -> bool:
    return all(holds(f, dict(zip(ATOMS, vs))) for vs in itertools.product([False, True], repeat=3))


TACTICS = ["intro h", "intro h1 h2", "constructor", "left", "right", "assumption", "contradiction", "exfalso",
           "trivial", "cases h", "rcases h with ⟨a, b⟩ | c", "by_cases hp : p", "by_contra hn", "apply h",
           "exact h", "exact h.1", "exact ⟨h, h⟩", "apply hn", "all_goals assumption", "any_goals contradiction",
           "first | assumption | contradiction | trivial", "try intro x", "constructor <;> intro h",
           "repeat intro h", "apply Or.inl", "exact absurd h hn", "apply False.elim", "obtain ⟨a, b⟩ := h",
           "· assumption", "exact (fun x => x)", "apply Classical.byContradiction", "decide", "rfl", "done",
           "cases hp", "exact hp", "apply a", "exact c", "exfalso; exact hn h", "exact?", "revert h", "clear h",
           "specialize h hp", "intro ⟨a, b⟩", "exact fun ⟨a, b⟩ => a", "rename_i x", "apply absurd _ hn",
           "refine ⟨?_, ?_⟩", "exact h ▸ hp", "induction h", "obtain h | h := h", "exists h"]

SOLVER = ("repeat (first | intro h | cases h | assumption | contradiction | (left; assumption) "
          "| (right; assumption) | constructor | trivial | (exfalso; assumption))")


@pytest.fixture(scope="module")
def shared_repl(tmp_path_factory):
    r = Repl(tmp_path_factory.mktemp("sound"))
    yield r
    r.close()


def check_completion(repl, stmt: str, path: list[str], f) -> None:
    assert tautology(f), f"not a tautology but Completed: {stmt} by {path}"
    body = "\n  ".join(path)
    r = repl.cmd(f"example (p q r : Prop) : {stmt} := by\n  {body}")
    assert "sorries" not in r, (stmt, path, r)
    assert all(m["severity"] == "info" for m in r.get("messages", [])), (stmt, path, r)


@settings(max_examples=int(os.environ.get("MINILEAN_SOUNDNESS_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(f=formulas(), script=st.lists(st.sampled_from(TACTICS), min_size=1, max_size=6))
def test_random_tactics_never_complete_a_non_theorem(shared_repl, f, script):
    stmt = show(f)
    r = shared_repl.cmd(f"example (p q r : Prop) : {stmt} := by sorry")
    assert "sorries" in r, r
    ps = r["sorries"][0]["proofState"]
    path = []
    for tac in script:
        out = shared_repl.tac(tac, ps)
        if "message" in out or any(m["severity"] == "error" for m in out.get("messages", [])):
            continue
        path.append(tac)
        ps = out["proofState"]
        if out["proofStatus"] == "Completed":
            check_completion(shared_repl, stmt, path, f)
            return
        assert out["proofStatus"] in ("Incomplete: open goals remain", "Incomplete: contains sorry"), out


@settings(max_examples=int(os.environ.get("MINILEAN_SOUNDNESS_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(f=formulas())
def test_solver_script_completes_only_theorems(shared_repl, f):
    stmt = show(f)
    r = shared_repl.cmd(f"example (p q r : Prop) : {stmt} := by sorry")
    ps = r["sorries"][0]["proofState"]
    out = shared_repl.tac(SOLVER, ps)
    if "proofStatus" in out and out["proofStatus"] == "Completed":
        check_completion(shared_repl, stmt, [SOLVER], f)
    elif not tautology(f):
        assert out.get("proofStatus") != "Completed"


@pytest.mark.parametrize("stmt", ["p → p", "(p ∧ q) → (q ∧ p)", "(p ∨ q) → (q ∨ p)", "¬(p ∧ ¬p)",
                                  "False → p", "((p ∨ q) ∧ r) → True", "p → q → p ∧ q"])
def test_solver_completes_known_tautologies(shared_repl, stmt):
    r = shared_repl.cmd(f"example (p q r : Prop) : {stmt} := by sorry")
    out = shared_repl.tac(SOLVER, r["sorries"][0]["proofState"])
    assert out["proofStatus"] == "Completed", out
    assert shared_repl.cmd(f"example (p q r : Prop) : {stmt} := by\n  {SOLVER}") == {"env": r["env"] + 1}


def test_known_tautology_is_completed(shared_repl):
    r = shared_repl.cmd("example (p q r : Prop) : (p → q) → (q → r) → p → r := by sorry")
    out = shared_repl.tac("intro h1 h2 hp\nexact h2 (h1 hp)", r["sorries"][0]["proofState"])
    assert out["proofStatus"] == "Completed"
