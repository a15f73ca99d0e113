"""Soundness on closed Nat/Int arithmetic: a goal reported "Completed" is true (evaluated in Python with Lean's
semantics: truncated Nat subtraction), and its tactic path re-checks as a whole command."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_repl import Repl


def terms(ty: str):
    leaf = st.integers(min_value=0, max_value=12).map(lambda n: (str(n), n))

    def combine(sub):
        def op(t):
            (sa, a), o, (sb, b) = t
            if o == "+":
                v = a + b
            elif o == "*":
                v = a * b
            else:
                v = max(0, a - b) if ty == "Nat" else a - b
            return f"({sa} {o} {sb})", v
        return st.tuples(sub, st.sampled_from(["+", "*", "-"]), sub).map(op)
    return st.recursive(leaf, combine, max_leaves=4)


def atoms():
    def mk(t):
        ty, (sa, a), rel, (sb, b) = t
        v = {"=": a == b, "≠": a != b, "<": a < b, "≤": a <= b}[rel]
        return f"(({sa} : {ty}) {rel} {sb})", v
    return st.sampled_from(["Nat", "Int"]).flatmap(
        lambda ty: st.tuples(st.just(ty), terms(ty), st.sampled_from(["=", "≠", "<", "≤"]), terms(ty))).map(mk)


def props():
    def combine(sub):
        def bin(t):
            (sa, a), o, (sb, b) = t
            v = {"∧": a and b, "∨": a or b, "→": (not a) or b}[o]
            return f"({sa} {o} {sb})", v
        return st.one_of(st.tuples(sub, st.sampled_from(["∧", "∨", "→"]), sub).map(bin),
                         sub.map(lambda x: (f"¬{x[0]}", not x[1])))
    return st.recursive(atoms(), combine, max_leaves=3)


TACTICS = ["decide", "rfl", "trivial", "constructor", "left", "right", "exact rfl", "intro h", "contradiction",
           "exfalso", "by_contra h", "assumption", "exact h", "apply h", "all_goals decide", "any_goals rfl",
           "first | decide | rfl", "exact absurd h (by decide)", "cases h", "exact Nat.le_refl _", "simp"]


@pytest.fixture(scope="module")
def arith_repl(tmp_path_factory):
    r = Repl(tmp_path_factory.mktemp("arith"))
    yield r
    r.close()


@settings(max_examples=int(os.environ.get("MINILEAN_SOUNDNESS_EXAMPLES", "120")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p=props(), script=st.lists(st.sampled_from(TACTICS), min_size=1, max_size=4))
def test_completed_arithmetic_goals_are_true(arith_repl, p, script):
    stmt, truth = p
    r = arith_repl.cmd(f"example : {stmt} := by sorry")
    assert "sorries" in r, (stmt, r)
    ps = r["sorries"][0]["proofState"]
    path = []
    for tac in script:
        out = arith_repl.tac(tac, ps)
        if "message" in out or any(m["severity"] == "error" for m in out.get("messages", [])):
            continue
        path.append(tac)
        ps = out["proofState"]
        if out["proofStatus"] == "Completed":
            assert truth, f"false statement completed: {stmt} by {path}"
            body = "\n  ".join(path)
            again = arith_repl.cmd(f"example : {stmt} := by\n  {body}")
            assert "sorries" not in again, (stmt, path, again)
            assert all(m["severity"] == "info" for m in again.get("messages", [])), (stmt, path, again)
            return


@settings(max_examples=int(os.environ.get("MINILEAN_SOUNDNESS_EXAMPLES", "120")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p=props())
def test_decide_agrees_with_evaluation(arith_repl, p):
    stmt, truth = p
    r = arith_repl.cmd(f"example : {stmt} := by decide")
    if truth:
        assert r == {"env": r["env"]}, (stmt, r)
    else:
        assert r["messages"][0]["severity"] == "error", (stmt, r)
        assert "is false" in r["messages"][0]["data"], (stmt, r)
