"""A goal as the propositional proposer sees it: case tag, named hypotheses, target.

:func:`read_goal` parses one pretty-printed goal (``case pos\\np q : Prop\\nh : p\\n⊢ p ∨ q``) with MiniLean's
``parse_goal`` and keeps the propositional structure of each hypothesis type and of the target.  A hypothesis
whose type is not propositional (``x : Int``, ``h : x < 0``) or that has a value (``x : Nat := 3``) is kept as
*opaque* (formula ``None``; its name is still reserved); a ``p q : Prop`` line declares atoms.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

from lean_env.minilean.errors import MiniLeanError
from lean_env.minilean.goals import parse_goal
from lean_env.minilean.syntax import Syn

from policies.errors import GoalParseError
from policies.formula import BOTTOM, TOP, Atom, Binary, Formula, Not, Op, is_lean_identifier

__all__ = ["Hyp", "GoalView", "read_goal", "formula_of_syntax", "fresh_names"]


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


def formula_of_syntax(node: Syn | None, *, terms: frozenset[str] = frozenset()) -> Formula | None:
    """The propositional formula of a MiniLean syntax tree, or None when it leaves the fragment.

    An identifier is an atom unless it is in ``terms`` (local names that are not ``Prop``s) or in
    :data:`TYPE_NAMES`."""
    if node is None:
        return None
    if node.kind == "paren":
        return formula_of_syntax(node.args[0], terms=terms)
    if node.kind == "ident":
        name = node.args[0]
        if name == "True":
            return TOP
        if name == "False":
            return BOTTOM
        if name in terms or name in TYPE_NAMES or not is_lean_identifier(name):
            return None
        return Atom(name)
    if node.kind == "not":
        inner = formula_of_syntax(node.args[0], terms=terms)
        return None if inner is None else Not(inner)
    if node.kind == "binop" and node.args[0] in _BINOPS:
        left = formula_of_syntax(node.args[1], terms=terms)
        right = formula_of_syntax(node.args[2], terms=terms)
        if left is None or right is None:
            return None
        return Binary(_BINOPS[node.args[0]], left, right)
    return None


def read_goal(text: str) -> GoalView:
    """Read one pretty-printed goal with MiniLean's :func:`lean_env.minilean.goals.parse_goal` and keep the
    propositional structure.  Raises :class:`GoalParseError` when the text is not a goal."""
    try:
        parsed = parse_goal(text)
    except MiniLeanError as e:
        raise GoalParseError(f"cannot read goal {text!r}: {e}") from e
    atoms = [n for h in parsed.hypotheses if h.type_text.strip() == "Prop" for n in h.names]
    names = frozenset(n for h in parsed.hypotheses for n in h.names)
    terms = names - set(atoms)
    hyps: list[Hyp] = []
    for h in parsed.hypotheses:
        if h.type_text.strip() == "Prop":
            continue
        formula = formula_of_syntax(h.type, terms=terms) if h.value_text is None else None
        hyps.extend(Hyp(name, h.type_text, formula) for name in h.names)
    return GoalView(parsed.tag, tuple(hyps), tuple(atoms), names, parsed.target_text,
                    formula_of_syntax(parsed.target, terms=terms))


def fresh_names(taken: frozenset[str] | set[str], *, prefix: str = "h") -> Iterator[str]:
    """``prefix1, prefix2, ...`` skipping every name in ``taken``."""
    for i in itertools.count(1):
        name = f"{prefix}{i}"
        if name not in taken:
            yield name
