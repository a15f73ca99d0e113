"""Bad input never crashes MiniLean: random token soups as commands and tactics get Lean-style replies."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_repl import Repl

TOKENS = ["p", "q", "h", "hp", "x", "1", "0", "(", ")", "⟨", "⟩", ",", ":", ":=", "∧", "∨", "¬", "→", "=", "<",
          "+", "*", "fun", "=>", "by", "sorry", "exact", "intro", "apply", "∀", "∃", "Nat", "True", "False", "h.1",
          "_", "?_", "rfl", "[", "]", "rw", "|", ";", "·", "\n", "\n  ", "have", "show", "from", "cases", "with",
          "at", "-", "@", "Or.inl", "And.intro", "{", "}", "theorem", "example", "def", "t", "#check", "import",
          "Mathlib", "λ", "calc", "\"", "$", "∘", "%", "obtain", "rcases", "first", "<;>", "case", "next", "⊢"]


@pytest.fixture(scope="module")
def fuzz_repl(tmp_path_factory):
    r = Repl(tmp_path_factory.mktemp("fuzz"))
    yield r
    r.close()


def _ok(reply: dict) -> None:
    assert "internal error" not in str(reply), reply
    assert "env" in reply or "proofState" in reply or "message" in reply, reply


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14))
def test_random_commands_get_replies(fuzz_repl, words):
    _ok(fuzz_repl.cmd(" ".join(words)))
    _ok(fuzz_repl.cmd("example (p q : Prop) (hp : p) (x : Nat) : p ∧ (q ∨ p) := " + " ".join(words)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=10))
def test_random_tactics_get_replies(fuzz_repl, words):
    r = fuzz_repl.cmd("example (p q : Prop) (h : p ∧ q) (x : Nat) : p ∧ (q ∨ p) := by sorry")
    _ok(fuzz_repl.tac(" ".join(words), r["sorries"][0]["proofState"]))
