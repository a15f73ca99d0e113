"""Anonymous-constructor patterns in tactics: `obtain ⟨x, hx⟩ := h`, `rcases h with ⟨x, hx⟩`, `intro ⟨x, hx⟩`.

Regression: the fields were introduced inaccessible and named afterwards by re-introducing them as new free
variables, so a hypothesis about an ∃'s witness kept pointing at the old one: it printed as `p _fvar.859` and
nothing could use it.  As in Lean's rcases the fields get the pattern's names when the case split introduces
them, and a name pattern on a hypothesis names it where it stands.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lean_env.minilean.goals import parse_goal
from ml_repl import Repl

EX_AND = "(p q : Nat → Prop)"


def _state(repl, stmt: str) -> int:
    r = repl.cmd(f"example {stmt} := by sorry")
    assert [m["data"] for m in r["messages"]] == ["declaration uses `sorry`"], r
    return r["sorries"][0]["proofState"]


def _no_fvar(reply: dict) -> None:
    assert "_fvar" not in json.dumps(reply, ensure_ascii=False), reply


# -- the three forms on `∃ n, p n ∧ q n`

FORMS = [
    ("(p q : Nat → Prop) (h : ∃ n, p n ∧ q n) : ∃ n, p n", "obtain ⟨x, hx⟩ := h"),
    ("(p q : Nat → Prop) (h : ∃ n, p n ∧ q n) : ∃ n, p n", "rcases h with ⟨x, hx⟩"),
    ("(p q : Nat → Prop) : (∃ n, p n ∧ q n) → ∃ n, p n", "intro ⟨x, hx⟩"),
]


@pytest.mark.parametrize("stmt,tactic", FORMS, ids=["obtain", "rcases", "intro"])
def test_witness_is_printed_by_its_name_and_usable(repl, stmt, tactic):
    r = repl.tac(tactic, _state(repl, stmt))
    _no_fvar(r)
    assert r["proofStatus"] == "Incomplete: open goals remain"
    assert r["goals"] == ["case intro\np q : Nat → Prop\nx : Nat\nhx : p x ∧ q x\n⊢ ∃ n, p n"]
    done = repl.tac("exact ⟨x, hx.1⟩", r["proofState"])
    assert done == {"proofStatus": "Completed", "proofState": r["proofState"] + 1, "goals": []}


@pytest.mark.parametrize("stmt,tactic", FORMS, ids=["obtain", "rcases", "intro"])
def test_the_whole_proof_checks_as_a_command(repl, stmt, tactic):
    r = repl.cmd(f"example {stmt} := by\n  {tactic}\n  exact ⟨x, hx.1⟩")
    assert r == {"env": 0}, r


def test_cases_then_rename_i_agrees(repl):
    ps = _state(repl, FORMS[0][0])
    via_cases = repl.tac("cases h; rename_i x hx", ps)
    via_obtain = repl.tac("obtain ⟨x, hx⟩ := h", ps)
    assert via_cases["goals"] == via_obtain["goals"]


@pytest.mark.parametrize("tactic", ["obtain ⟨x, hp, hq⟩ := h", "rcases h with ⟨x, hp, hq⟩",
                                    "obtain ⟨x, ⟨hp, hq⟩⟩ := h"])
def test_nested_pattern(repl, tactic):
    r = repl.tac(tactic, _state(repl, "(p q : Nat → Prop) (h : ∃ n, p n ∧ q n) : ∃ n, q n ∧ p n"))
    _no_fvar(r)
    assert r["goals"] == ["case intro.intro\np q : Nat → Prop\nx : Nat\nhp : p x\nhq : q x\n⊢ ∃ n, q n ∧ p n"]
    assert repl.tac("exact ⟨x, hq, hp⟩", r["proofState"])["proofStatus"] == "Completed"


def test_nested_intro_pattern(repl):
    r = repl.tac("intro ⟨x, hp, hq⟩", _state(repl, "(p q : Nat → Prop) : (∃ n, p n ∧ q n) → ∃ n, q n"))
    _no_fvar(r)
    assert r["goals"] == ["case intro.intro\np q : Nat → Prop\nx : Nat\nhp : p x\nhq : q x\n⊢ ∃ n, q n"]
    assert repl.tac("exact ⟨x, hq⟩", r["proofState"])["proofStatus"] == "Completed"


@pytest.mark.parametrize("tactic", ["obtain ⟨x, hx⟩ := h", "rcases h with ⟨x, hx⟩"])
def test_existential_over_int(repl, tactic):
    r = repl.tac(tactic, _state(repl, "(p q : Int → Prop) (h : ∃ n, p n ∧ q n) : ∃ n, q n"))
    _no_fvar(r)
    assert r["goals"] == ["case intro\np q : Int → Prop\nx : Int\nhx : p x ∧ q x\n⊢ ∃ n, q n"]
    assert repl.tac("exact ⟨x, hx.2⟩", r["proofState"])["proofStatus"] == "Completed"


def test_two_witnesses(repl):
    r = repl.tac("obtain ⟨a, b, hab⟩ := h",
                 _state(repl, "(p : Nat → Int → Prop) (h : ∃ n m, p n m) : ∃ m n, p n m"))
    _no_fvar(r)
    assert r["goals"] == ["case intro.intro\np : Nat → Int → Prop\na : Nat\nb : Int\nhab : p a b\n⊢ ∃ m n, p n m"]
    assert repl.tac("exact ⟨b, a, hab⟩", r["proofState"])["proofStatus"] == "Completed"


def test_alternatives_under_a_witness(repl):
    r = repl.tac("obtain ⟨x, hx | hx⟩ := h",
                 _state(repl, "(p q : Nat → Prop) (h : ∃ n, p n ∨ q n) : ∃ n, q n ∨ p n"))
    _no_fvar(r)
    assert r["goals"] == ["case intro.inl\np q : Nat → Prop\nx : Nat\nhx : p x\n⊢ ∃ n, q n ∨ p n",
                          "case intro.inr\np q : Nat → Prop\nx : Nat\nhx : q x\n⊢ ∃ n, q n ∨ p n"]
    r2 = repl.tac("exact ⟨x, Or.inr hx⟩", r["proofState"])
    assert repl.tac("exact ⟨x, Or.inl hx⟩", r2["proofState"])["proofStatus"] == "Completed"


def test_cleared_field_and_witness_inside_a_conjunction(repl):
    r = repl.tac("obtain ⟨x, -, hq⟩ := h", _state(repl, "(p q : Nat → Prop) (h : ∃ n, p n ∧ q n) : True"))
    _no_fvar(r)
    assert r["goals"] == ["case intro.intro\np q : Nat → Prop\nx : Nat\nleft✝ : p x\nhq : q x\n⊢ True"]
    r = repl.tac("obtain ⟨⟨x, hx⟩, hr⟩ := h",
                 _state(repl, "(p : Nat → Prop) (r : Prop) (h : (∃ n, p n) ∧ r) : ∃ n, p n"))
    _no_fvar(r)
    assert r["goals"] == ["case intro.intro\np : Nat → Prop\nr : Prop\nhr : r\nx : Nat\nhx : p x\n⊢ ∃ n, p n"]
    assert repl.tac("exact ⟨x, hx⟩", r["proofState"])["proofStatus"] == "Completed"


def test_name_pattern_on_a_variable_others_mention(repl):
    """`obtain m := n` names `n` where it stands: `h : n = 1` follows it (it pointed at nothing before)."""
    r = repl.tac("obtain m := n", _state(repl, "(n : Nat) (h : n = 1) : n + 0 = 1"))
    _no_fvar(r)
    assert r["goals"] == ["m : Nat\nh : m = 1\n⊢ m + 0 = 1"]
    assert repl.tac("exact h", r["proofState"])["proofStatus"] == "Completed"


def test_a_proof_other_hypotheses_mention_is_kept(repl):
    r = repl.tac("obtain ⟨a, b⟩ := h", _state(repl, "(p q : Prop) (h : p ∧ q) (e : h = h) : q"))
    _no_fvar(r)
    assert r["goals"] == ["case intro\np q : Prop\nh : p ∧ q\ne : h = h\na : p\nb : q\n⊢ q"]
    assert repl.tac("exact b", r["proofState"])["proofStatus"] == "Completed"


# -- property: generated nestings of ∃ (over Nat or Int) and ∧, destructured by a matching pattern


def _shapes():
    leaf = st.tuples(st.just("atom"), st.integers(0, 2), st.integers(0, 3))  # (atom, predicate, variable pick)
    return st.recursive(leaf, lambda sub: st.one_of(
        st.tuples(st.just("ex"), st.sampled_from(["Nat", "Int"]), sub),
        st.tuples(st.just("and"), sub, sub)), max_leaves=5)


def _render(shape):
    """(statement text, pattern text, {hypothesis name: expected type text}, {pattern variable: type})."""
    counter = {"var": 0, "hyp": 0}
    hyps: dict[str, str] = {}
    witnesses: dict[str, str] = {}

    def go(s, scope):  # scope: [(binder name, pattern name, type)]
        if s[0] == "atom":
            _, pred, pick = s
            if not scope:
                name = f"h{counter['hyp']}"
                counter["hyp"] += 1
                hyps[name] = f"r{pred}"
                return f"r{pred}", name
            binder, pname, ty = scope[pick % len(scope)]
            prefix = "p" if ty == "Nat" else "z"
            name = f"h{counter['hyp']}"
            counter["hyp"] += 1
            hyps[name] = f"{prefix}{pred} {pname}"
            return f"{prefix}{pred} {binder}", name
        if s[0] == "ex":
            _, ty, body = s
            i = counter["var"]
            counter["var"] += 1
            witnesses[f"a{i}"] = ty
            text, pat = go(body, scope + [(f"n{i}", f"a{i}", ty)])
            return f"(∃ n{i} : {ty}, {text})", f"⟨a{i}, {pat}⟩"
        _, left, right = s
        lt, lp = go(left, scope)
        rt, rp = go(right, scope)
        return f"({lt} ∧ {rt})", f"⟨{lp}, {rp}⟩"

    text, pat = go(shape, [])
    return text, pat, hyps, witnesses


BINDERS = "(p0 p1 p2 : Nat → Prop) (z0 z1 z2 : Int → Prop) (r0 r1 r2 : Prop)"


@pytest.fixture(scope="module")
def shared_repl(tmp_path_factory):
    r = Repl(tmp_path_factory.mktemp("rcases"))
    yield r
    r.close()


@settings(max_examples=int(os.environ.get("MINILEAN_SOUNDNESS_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=_shapes(), form=st.sampled_from(["obtain", "rcases", "intro"]))
def test_destructured_nestings_print_user_names_and_rebuild(shared_repl, shape, form):
    """Each hypothesis is printed about the pattern's witnesses, and the pattern read as a term proves the
    statement again (so every name is bound to the right field)."""
    text, pat, hyps, witnesses = _render(shape)
    if form == "intro":
        ps = _state(shared_repl, f"{BINDERS} : {text} → {text}")
        tactic = f"intro {pat}"
    else:
        ps = _state(shared_repl, f"{BINDERS} (h : {text}) : {text}")
        tactic = f"obtain {pat} := h" if form == "obtain" else f"rcases h with {pat}"
    r = shared_repl.tac(tactic, ps)
    _no_fvar(r)
    (goal,) = r["goals"]
    g = parse_goal(goal)
    for name, ty in hyps.items():
        assert g.hypothesis(name).type_text == ty, (tactic, goal)
    for name, ty in witnesses.items():
        assert g.hypothesis(name).type_text == ty, (tactic, goal)
    if form != "intro":
        assert all("h" not in h.names for h in g.hypotheses), goal  # the destructed hypothesis is gone
    done = shared_repl.tac(f"exact {pat}", r["proofState"])
    assert done["proofStatus"] == "Completed", (tactic, goal, done)


# -- the bundled suite: no printed goal anywhere names a free variable by its internal id


def _destructing_tactics(goal: str, depth: int) -> list[str]:
    """Tactics that introduce or take apart: patterns on every hypothesis, `intro` patterns on the target."""
    g = parse_goal(goal)
    a, b, c = f"a{depth}", f"b{depth}", f"c{depth}"
    out = [f"intro {a}", f"intro ⟨{a}, {b}⟩", f"intro ⟨{a}, {b}, {c}⟩", f"intro ⟨{a}, {b}⟩ {c}", "intros"]
    for hyp in g.hypotheses:
        if hyp.type_text.startswith(("Nat", "Int", "Prop", "Bool")) or "→ Prop" in hyp.type_text:
            continue
        for h in hyp.names:
            out += [f"obtain ⟨{a}, {b}⟩ := {h}", f"rcases {h} with ⟨{a}, {b}, {c}⟩", f"obtain {a} | {b} := {h}",
                    f"rcases {h} with ⟨{a}, {b}⟩ | {c}", f"cases {h}", f"obtain {a} := {h}"]
    return out


def test_no_internal_fvar_in_any_goal_of_the_bundled_suite(tmp_path):
    """Every bundled theorem, explored two destructing steps deep (obtain / rcases / intro patterns, cases):
    no reply carries `_fvar`, and no step is an internal error."""
    from experiments.suites import load_suite

    theorems = load_suite()
    assert len(theorems) >= 100
    repl = Repl(tmp_path)
    steps = 0
    try:
        for thm in theorems:
            r = repl.cmd(thm.source)
            _no_fvar(r)
            frontier = [(s["proofState"], s["goal"]) for s in r["sorries"]]
            for depth in range(2):
                nxt = []
                for ps, goal in frontier:
                    for tactic in _destructing_tactics(goal, depth):
                        reply = repl.tac(tactic, ps)
                        steps += 1
                        _no_fvar(reply)
                        assert "internal error" not in reply.get("message", ""), (thm.name, tactic, reply)
                        if reply.get("goals"):
                            nxt.append((reply["proofState"], reply["goals"][0]))
                frontier = nxt[:12]
    finally:
        repl.close()
    assert steps > 1000
