"""lean_env.goals and lean_env.terms: goals and terms as Lean prints them, read and printed back unchanged."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lean_env.errors import GoalParseError, ReplError, TermParseError
from lean_env.goals import Goal, Hyp, format_goal, format_goals, one_line, parse_goal, parse_goals
from lean_env.terms import (
    INFIX,
    Anon,
    App,
    Binder,
    BinOp,
    Ident,
    Num,
    Quant,
    Typed,
    UnOp,
    format_term,
    parse_term,
    subterms,
)

#: Mathlib notation in the recorded goals that lean_env.terms does not read (by design: callers treat it as opaque).
UNREAD_NOTATION = ("|x|", "9!", "◾")


def _frames(path: Path) -> list:
    decoder, text, i, out = json.JSONDecoder(), path.read_text(encoding="utf-8"), 0, []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        obj, i = decoder.raw_decode(text, i)
        out.append(obj)


def _goal_texts(obj, goals: list[str], messages: list[str]) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "goals" and isinstance(value, list):
                goals.extend(v for v in value if isinstance(v, str))
            elif key == "goal" and isinstance(value, str):
                goals.append(value)
            elif key == "data" and isinstance(value, str) and value.startswith("unsolved goals\n"):
                messages.append(value.removeprefix("unsolved goals\n"))
            else:
                _goal_texts(value, goals, messages)
    elif isinstance(obj, list):
        for value in obj:
            _goal_texts(value, goals, messages)


@pytest.fixture(scope="module")
def recorded(repl_transcripts) -> tuple[list[str], list[str]]:
    """(every goal string of the recorded replies, every `unsolved goals` message body)."""
    goals: list[str] = []
    messages: list[str] = []
    for path in sorted(repl_transcripts.rglob("*.expected.out")):
        for frame in _frames(path):
            _goal_texts(frame, goals, messages)
    return goals, messages


def test_every_recorded_goal_round_trips(recorded):
    goals, _ = recorded
    assert len(goals) >= 60 and any("case " in g for g in goals) and any(" : " in g for g in goals)
    for text in goals:
        goal = parse_goal(text)
        assert goal.pretty() == format_goal(goal) == text
        assert parse_goals(text) == (goal,)


def test_every_recorded_unsolved_goals_message_round_trips(recorded):
    _, messages = recorded
    several = [m for m in messages if "\n\n" in m]
    assert messages and several
    for text in messages:
        goals = parse_goals(text)
        assert len(goals) == text.count("\n\n") + 1
        assert format_goals(goals) == text
    assert [g.case for g in parse_goals(several[0])] == ["zero", "succ"]


def test_every_recorded_term_is_read_with_leans_parentheses(recorded):
    """Lean prints with the fewest parentheses; printing our tree reproduces its text (precedences agree)."""
    goals, messages = recorded
    read = 0
    for text in goals + messages:
        for goal in parse_goals(text):
            for term in [h.type for h in goal.hyps] + [goal.target]:
                if any(n in term for n in UNREAD_NOTATION):
                    with pytest.raises(TermParseError):
                        parse_term(term)
                    continue
                assert format_term(parse_term(term)) == one_line(term)
                read += 1
    assert read > 150


def test_fields_and_grouped_names():
    g = parse_goal("case pos\nx y : Nat\nh✝ : ¬x = y\nn : Nat := x + 1\n⊢ x < n")
    assert g.case == "pos"
    assert g.hyps == (Hyp(("x", "y"), "Nat"), Hyp(("h✝",), "¬x = y"), Hyp(("n",), "Nat", "x + 1"))
    assert g.target == "x < n"
    assert g.names() == ("x", "y", "h✝", "n") and g.hyp("y") is g.hyps[0] and g.hyp("z") is None
    assert g.hyps[1].inaccessible == (True,)


def test_wrapped_types_values_and_targets_keep_their_layout():
    text = ("case h\nh :\n  a = b ∧\n    c = d\nf : Nat → Nat := fun x =>\n    x + 1\nxs ys : List\n    Nat\n"
            "⊢ f 0 =\n    1")
    g = parse_goal(text)
    assert g.hyps[0].type == "\n  a = b ∧\n    c = d"
    assert g.hyps[1].value == "fun x =>\n    x + 1"
    assert g.hyps[2].names == ("xs", "ys")
    assert g.pretty() == text
    flat = g.one_line()
    assert flat.hyps[0].type == "a = b ∧ c = d" and flat.target == "f 0 = 1"
    assert parse_term(flat.hyps[0].type) == BinOp("∧", BinOp("=", Ident("a"), Ident("b")),
                                                  BinOp("=", Ident("c"), Ident("d")))


def test_let_and_have_inside_a_type_are_not_values():
    g = parse_goal("h : let y := 1; y = 1\nz : Nat := let w := 2; w\n⊢ True")
    assert g.hyps[0] == Hyp(("h",), "let y := 1; y = 1")
    assert g.hyps[1] == Hyp(("z",), "Nat", "let w := 2; w")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty goal text"),
        ("p : Prop", "no `⊢` target"),
        ("garbage\n⊢ p", "not a hypothesis line"),
        ("x  y : Nat\n⊢ p", "not a hypothesis line"),
        ("  x : Nat\n⊢ p", "an indented line with nothing to continue"),
        ("h : p\n⊢ p\n⊢ q", "a second `⊢`"),
        ("⊢ p\n\n⊢ q", "a blank line inside one goal"),
        ("h :  p\n⊢ p", "expected one space or a line break"),
        ("⊢", "expected one space or a line break"),
    ],
)
def test_malformed_goals_raise_a_clear_error_naming_the_text(text, reason):
    with pytest.raises(GoalParseError, match=re.escape(reason)) as info:
        parse_goal(text)
    assert info.value.text == text and repr(text) in str(info.value)
    assert isinstance(info.value, ReplError) and isinstance(info.value, ValueError)


def test_parse_goals_names_the_goal_that_failed():
    with pytest.raises(GoalParseError, match="goal 2: no `⊢`"):
        parse_goals("⊢ p\n\nh : q")
    assert parse_goals("") == parse_goals("\n\n") == ()


def test_values_reject_what_could_not_print_back():
    with pytest.raises(ValueError, match="name"):
        Hyp(("a b",), "Nat")
    with pytest.raises(ValueError, match="exactly one name"):
        Hyp(("a", "b"), "Nat", "1")
    with pytest.raises(ValueError, match="indented"):
        Goal(None, (), "a ∧\nb")
    with pytest.raises(ValueError, match="case tag"):
        Goal("two words", (), "p")


def test_terms_by_hand():
    assert parse_term("¬p ∧ q") == BinOp("∧", UnOp("¬", Ident("p")), Ident("q"))
    assert parse_term("p → q → r") == BinOp("→", Ident("p"), BinOp("→", Ident("q"), Ident("r")))
    assert parse_term("a - b - c") == BinOp("-", BinOp("-", Ident("a"), Ident("b")), Ident("c"))
    assert parse_term("-x ^ 2") == UnOp("-", BinOp("^", Ident("x"), Num(2)))
    assert parse_term("f (g x) y.1") == App(Ident("f"), (App(Ident("g"), (Ident("x"),)), Ident("y.1")))
    assert parse_term("(f a) b") == App(Ident("f"), (Ident("a"), Ident("b")))
    assert parse_term("∀ (n : ℕ) {m : ℕ}, ∃ k, n + k = m") == Quant(
        "∀", (Binder(("n",), Ident("ℕ"), "("), Binder(("m",), Ident("ℕ"), "{")),
        Quant("∃", (Binder(("k",)),), BinOp("=", BinOp("+", Ident("n"), Ident("k")), Ident("m"))))
    assert parse_term("fun x ↦ x") == parse_term("λ x => x") == Quant("fun", (Binder(("x",)),), Ident("x"))
    assert parse_term("p -> q <-> r /\\ s") == parse_term("p → q ↔ r ∧ s")
    assert parse_term("⟨h.2, (h.1 : p)⟩") == Anon((Ident("h.2"), Typed(Ident("h.1"), Ident("p"))))
    assert parse_term("?m.5 n✝") == App(Ident("?m.5"), (Ident("n✝"),))
    assert [type(t).__name__ for t in subterms(parse_term("¬(a = 1)"))] == ["UnOp", "BinOp", "Ident", "Num"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [("a = b = c", "end of the term"), ("|x| > 1", "unexpected character '|'"), ("(p", "')'"),
     ("", "empty term"), ("let x := 1\n  x", "`let` terms are not read"), ("∀ , p", "a binder")],
)
def test_unreadable_terms_raise_with_an_offset(text, reason):
    with pytest.raises(TermParseError, match=re.escape(reason)) as info:
        parse_term(text)
    assert info.value.text == text and 0 <= info.value.offset <= len(text)
    assert isinstance(info.value, GoalParseError)


# ------------------------------------------------------------------------------------------------ properties

_NAMES = st.sampled_from(["p", "q", "x", "h₁", "hx'", "Nat.succ", "h.1", "n✝", "α", "True", "False", "«a.b»"])
_HYP_NAMES = st.sampled_from(["p", "q", "x", "h₁", "hx'", "h.1", "n✝", "α", "«a b»", "this"])
_BINDER_NAMES = st.lists(st.sampled_from(["x", "y", "n", "ε"]), min_size=1, max_size=2).map(tuple)


def _merge(binders: list[Binder]) -> tuple[Binder, ...]:
    """Adjacent untyped groups ``x`` ``y`` are one group ``x y`` (the text cannot tell them apart)."""
    out: list[Binder] = []
    for b in binders:
        if out and not b.bracket and b.type is None and not out[-1].bracket and out[-1].type is None:
            out[-1] = Binder(out[-1].names + b.names)
        else:
            out.append(b)
    return tuple(out)


def _terms() -> st.SearchStrategy:
    leaves = st.one_of(_NAMES.map(Ident), st.integers(0, 99).map(Num))

    def extend(sub: st.SearchStrategy) -> st.SearchStrategy:
        binder = st.one_of(
            _BINDER_NAMES.map(Binder),
            st.builds(Binder, _BINDER_NAMES, sub, st.sampled_from(["(", "{", "⦃", "["])),
        )
        return st.one_of(
            st.builds(BinOp, st.sampled_from(sorted(INFIX)), sub, sub),
            st.builds(UnOp, st.sampled_from(["¬", "-", "↑"]), sub),
            st.builds(App, _NAMES.map(Ident), st.lists(sub, min_size=1, max_size=3).map(tuple)),
            st.builds(Quant, st.sampled_from(["∀", "∃", "fun"]), st.lists(binder, min_size=1, max_size=3).map(_merge),
                      sub),
            st.builds(Typed, sub, sub),
            st.builds(Anon, st.lists(sub, max_size=3).map(tuple)),
        )

    return st.recursive(leaves, extend, max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(_terms())
def test_generated_terms_print_and_read_back(term):
    text = format_term(term)
    assert parse_term(text) == term, text


def _wrap(text: str, data: st.DataObject) -> str:
    """Break a one-line term where Lean might (after a space), indenting continuation lines."""
    words = text.split(" ")
    out = words[0]
    for word in words[1:]:
        out += data.draw(st.sampled_from([" ", "\n    ", "\n  "])) + word
    if data.draw(st.booleans()) and "\n" in out:
        out = "\n  " + out.lstrip()
    return out


@st.composite
def _goals(draw: st.DrawFn) -> Goal:
    data = draw(st.data())
    term_text = _terms().map(format_term)
    hyps = []
    for _ in range(draw(st.integers(0, 4))):
        names = tuple(draw(st.lists(_HYP_NAMES, min_size=1, max_size=3)))
        value = None
        if len(names) == 1 and draw(st.booleans()):
            value = _wrap(draw(term_text), data)
        hyps.append(Hyp(names, _wrap(draw(term_text), data), value))
    case = draw(st.none() | st.sampled_from(["pos", "h.e'_2", "inl.intro", "succ"]))
    target = _wrap(draw(term_text), data)
    return Goal(case, tuple(hyps), target.lstrip("\n ") if target.startswith("\n") else target)


@settings(max_examples=150, deadline=None)
@given(st.lists(_goals(), max_size=3))
def test_generated_goals_print_and_read_back(goals):
    for goal in goals:
        text = goal.pretty()
        assert parse_goal(text) == goal, text
        flat = goal.one_line()
        assert all(parse_term(h.type) is not None for h in flat.hyps) and parse_term(flat.target) is not None
    assert parse_goals(format_goals(goals)) == tuple(goals)
