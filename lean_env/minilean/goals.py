"""Parse one pretty-printed goal (as the repl returns it) into MiniLean's syntax tree.

The layout (case tag, hypotheses, target, wrapped lines) is read by :func:`lean_env.goals.parse_goal`, the one
reader of goal layout in the project; this module adds MiniLean's own term trees.  Code outside MiniLean reads
goals with :mod:`lean_env.goals` and :mod:`lean_env.terms` instead.

    >>> g = parse_goal("case left\\np q : Prop\\nh : p ∧ q\\n⊢ q ∧ p")
    >>> g.tag, [h.names for h in g.hypotheses], g.target.kind, g.target.args[0]
    ('left', [('p', 'q'), ('h',)], 'binop', '∧')

The trees are :class:`~lean_env.minilean.syntax.Syn` nodes (``kind``, ``args``); the kinds a goal can contain:
``ident`` (name), ``num`` (value), ``app`` (head, [args]), ``binop`` (op, lhs, rhs) with op one of
``→ ↔ ∨ ∧ = ≠ < > ≤ ≥ + - * / % ^``, ``not`` (arg), ``neg`` (arg), ``forall`` / ``exists`` (binders, body),
``fun`` (binders, body), ``paren`` (inner), ``proj`` (term, field), ``anon`` ([items]).
A type MiniLean cannot parse (notation outside its fragment) is kept as text with ``type = None``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lean_env.errors import GoalParseError as _LeanGoalParseError
from lean_env.goals import parse_goal as _parse_layout

from .errors import MiniLeanError, ParseError
from .syntax import Syn, parse_term_text


class GoalParseError(MiniLeanError, _LeanGoalParseError):
    """The text is not a goal as the repl prints one (also a :class:`lean_env.errors.GoalParseError`)."""


@dataclass(frozen=True)
class Hypothesis:
    names: tuple[str, ...]
    type_text: str
    type: Syn | None
    value_text: str | None = None

    @property
    def inaccessible(self) -> tuple[bool, ...]:
        return tuple("✝" in n for n in self.names)


@dataclass(frozen=True)
class GoalView:
    tag: str | None
    hypotheses: tuple[Hypothesis, ...]
    target_text: str
    target: Syn | None

    def hypothesis(self, name: str) -> Hypothesis | None:
        """The (last) hypothesis named ``name``."""
        for h in reversed(self.hypotheses):
            if name in h.names:
                return h
        return None

    def names(self) -> list[str]:
        return [n for h in self.hypotheses for n in h.names]


def _parse(text: str) -> Syn | None:
    try:
        return parse_term_text(text)
    except (ParseError, RecursionError):
        return None


def parse_goal(text: str) -> GoalView:
    """Parse ONE goal: optional `case tag` line, hypothesis lines `h₁ h₂ : T` (`x : T := v`), the `⊢ target`."""
    try:
        layout = _parse_layout(text).one_line()
    except _LeanGoalParseError as e:
        raise GoalParseError(e.reason, text=text) from e
    hyps = tuple(Hypothesis(h.names, h.type, _parse(h.type), h.value) for h in layout.hyps)
    return GoalView(layout.case, hyps, layout.target, _parse(layout.target))
