"""A goal as the propositional proposer sees it: case tag, named hypotheses, target.

:func:`read_goal` reads one pretty-printed goal (``case pos\\np q : Prop\\nh : p\\n⊢ p ∨ q``) with
:func:`lean_env.goals.parse_goal` (the layout) and :func:`lean_env.terms.parse_term` (each type and the target) and
keeps the propositional structure of each hypothesis type and of the target.  A hypothesis
whose type is not propositional (``x : Int``, ``h : x < 0``) or that has a value (``x : Nat := 3``) is kept as
*opaque* (formula ``None``; its name is still reserved); a ``p q : Prop`` line declares atoms.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

from lean_env.errors import GoalParseError as LeanGoalParseError
from lean_env.errors import TermParseError
from lean_env.goals import parse_goal
from lean_env.terms import BinOp, Ident, Term, UnOp, parse_term

from policies.errors import GoalParseError
from policies.formula import BOTTOM, TOP, Atom, Binary, Formula, Not, Op, is_lean_identifier

__all__ = ["Hyp", "GoalView", "read_goal", "formula_of_term", "fresh_names"]


@dataclasses.dataclass(frozen=True, slots=True)
class Hyp:
    """One local hypothesis: its name, its type text, and the formula when the type is propositional."""

    name: str
    type_text: str
    formula: Formula | None

    @property
    def usable(self) -> bool:
        """True when a tactic can refer to the hypothesis by name (not an inaccessible ``h✝``)."""
        return "✝" not in self.name


@dataclasses.dataclass(frozen=True, slots=True)
class GoalView:
    """One goal: optional ``case`` tag, hypotheses in context order, declared ``Prop`` atoms, target."""

    case: str | None
    hyps: tuple[Hyp, ...]
    prop_atoms: tuple[str, ...]
    names: frozenset[str]
    target_text: str
    target: Formula | None


_BINOPS = {"∧": Op.AND, "∨": Op.OR, "→": Op.IMP, "↔": Op.IFF}
#: Global names that are types, never propositions.
TYPE_NAMES = frozenset({"Prop", "Type", "Sort", "Nat", "Int", "Bool", "String", "Char", "Unit", "Float", "Rat", "Real"})


def formula_of_term(term: Term | None, *, terms: frozenset[str] = frozenset()) -> Formula | None:
    """The propositional formula of a term tree (:mod:`lean_env.terms`), or None when it leaves the fragment.

    An identifier is an atom unless it is in ``terms`` (local names that are not ``Prop``s) or in
    :data:`TYPE_NAMES`."""
    if isinstance(term, Ident):
        name = term.name
        if name == "True":
            return TOP
        if name == "False":
            return BOTTOM
        if name in terms or name in TYPE_NAMES or not is_lean_identifier(name):
            return None
        return Atom(name)
    if isinstance(term, UnOp) and term.op == "¬":
        inner = formula_of_term(term.arg, terms=terms)
        return None if inner is None else Not(inner)
    if isinstance(term, BinOp) and term.op in _BINOPS:
        left = formula_of_term(term.lhs, terms=terms)
        right = formula_of_term(term.rhs, terms=terms)
        if left is None or right is None:
            return None
        return Binary(_BINOPS[term.op], left, right)
    return None


def _term(text: str) -> Term | None:
    """The tree of a type or target, or None for notation :mod:`lean_env.terms` does not read (Mathlib's ``|x|``)."""
    try:
        return parse_term(text)
    except TermParseError:
        return None


def read_goal(text: str) -> GoalView:
    """Read one pretty-printed goal with :func:`lean_env.goals.parse_goal` and keep the propositional structure.
    Raises :class:`GoalParseError` when the text is not a goal."""
    try:
        parsed = parse_goal(text).one_line()
    except LeanGoalParseError as e:
        raise GoalParseError(f"cannot read goal {text!r}: {e.reason}") from e
    atoms = [n for h in parsed.hyps if h.type == "Prop" for n in h.names]
    names = frozenset(parsed.names())
    terms = names - set(atoms)
    hyps: list[Hyp] = []
    for h in parsed.hyps:
        if h.type == "Prop":
            continue
        formula = formula_of_term(_term(h.type), terms=terms) if h.value is None else None
        hyps.extend(Hyp(name, h.type, formula) for name in h.names)
    return GoalView(parsed.case, tuple(hyps), tuple(atoms), names, parsed.target,
                    formula_of_term(_term(parsed.target), terms=terms))


def fresh_names(taken: frozenset[str] | set[str], *, prefix: str = "h") -> Iterator[str]:
    """``prefix1, prefix2, ...`` skipping every name in ``taken``."""
    for i in itertools.count(1):
        name = f"{prefix}{i}"
        if name not in taken:
            yield name
