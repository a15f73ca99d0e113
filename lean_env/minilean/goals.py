"""Parse one pretty-printed goal (as the repl returns it) into MiniLean's syntax tree, for goal-directed proposers.

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

from .errors import MiniLeanError, ParseError
from .syntax import Syn, parse_term_text


class GoalParseError(MiniLeanError):
    """The text is not a goal as the repl prints one."""


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


def _logical_lines(text: str) -> list[str]:
    """Join continuation lines (Lean indents the rest of a long hypothesis or target)."""
    out: list[str] = []
    for line in text.split("\n"):
        if out and line[:1] in (" ", "\t") and line.strip():
            out[-1] += " " + line.strip()
        elif line.strip():
            out.append(line)
    return out


def parse_goal(text: str) -> GoalView:
    """Parse ONE goal: optional `case tag` line, hypothesis lines `h₁ h₂ : T`, and the `⊢ target` line."""
    lines = _logical_lines(text)
    if not lines:
        raise GoalParseError("empty goal text")
    tag = None
    if lines[0].startswith("case "):
        tag = lines[0][5:].strip()
        lines = lines[1:]
    hyps: list[Hypothesis] = []
    target = None
    for i, line in enumerate(lines):
        if line.startswith("⊢"):
            if i != len(lines) - 1:
                raise GoalParseError(f"text after the target line: {lines[i + 1]!r}")
            target = line[1:].strip()
            break
        names, sep, rest = line.partition(" : ")
        if not sep or not names.strip():
            raise GoalParseError(f"not a hypothesis line (expected `names : type`): {line!r}")
        value = None
        ty = rest
        if " := " in rest:
            ty, _, value = rest.partition(" := ")
        hyps.append(Hypothesis(tuple(names.split()), ty.strip(), _parse(ty.strip()), value))
    if target is None:
        raise GoalParseError("no `⊢` target line in goal text")
    return GoalView(tag, tuple(hyps), target, _parse(target))
