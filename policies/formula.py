"""Propositional formulas: a small AST, a reader for Lean 4's pretty-printed syntax, a printer, evaluation.

The reader covers only the propositional fragment (atoms, ``True``, ``False``, ``¬``, ``∧``, ``∨``, ``→``,
``↔``, parentheses) that the goal-directed proposer reasons about; any other text is an error
(:class:`~policies.errors.GoalParseError`) and the proposer treats that hypothesis as opaque.

Precedences follow Lean 4 core: ``¬`` (``notation:max "¬" p:40``), ``∧`` (``infixr:35``), ``∨``
(``infixr:30``), ``→`` (``infixr:25``), ``↔`` (``infix:20``).  :func:`render` prints with the fewest
parentheses under those rules, as Lean's pretty printer does.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
from collections.abc import Iterator, Mapping, Sequence

from policies.errors import GoalParseError

__all__ = [
    "Op",
    "Atom",
    "Const",
    "Not",
    "Binary",
    "Formula",
    "TOP",
    "BOTTOM",
    "parse_formula",
    "render",
    "size",
    "atoms",
    "truth_mask",
    "is_tautology",
    "falsifying_assignment",
    "kleene",
    "is_lean_identifier",
]


class Op(enum.Enum):
    """Binary connectives, with Lean 4's symbol and precedence."""

    AND = ("∧", 35)
    OR = ("∨", 30)
    IMP = ("→", 25)
    IFF = ("↔", 20)

    @property
    def symbol(self) -> str:
        return self.value[0]

    @property
    def prec(self) -> int:
        return self.value[1]


@dataclasses.dataclass(frozen=True, slots=True)
class Atom:
    """A propositional variable, by its Lean name."""

    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class Const:
    """``True`` or ``False``."""

    value: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Not:
    """``¬arg``."""

    arg: Formula


@dataclasses.dataclass(frozen=True, slots=True)
class Binary:
    """``left op right``."""

    op: Op
    left: Formula
    right: Formula


Formula = Atom | Const | Not | Binary
TOP = Const(True)
BOTTOM = Const(False)

_NOT_ARG_PREC = 40
_MAX_PREC = 1024
_KEYWORDS = frozenset(
    "fun by have at with do then else if let show from in match Type Prop Sort True False Not And Or Iff "
    "theorem lemma example def where open import namespace end section variable universe calc "
    "intro exact apply sorry forall exists".split()
)
_IDENT_RE = re.compile(r"«[^»\n]+»|[^\W\d](?:[\w'!?₀-₉ₐ-ₜ]|\.(?=[^\W\d]))*", re.UNICODE)
_TOKEN_RE = re.compile(r"\s*(<->|->|/\\|\\/|[()¬∧∨→↔]|«[^»\n]+»|[^\s()¬∧∨→↔]+)", re.UNICODE)
_ASCII = {"<->": "↔", "->": "→", "/\\": "∧", "\\/": "∨"}
_BINARY = {op.symbol: op for op in Op}


def is_lean_identifier(name: str) -> bool:
    """True when ``name`` is a plain (non-keyword) Lean identifier usable as an atom or hypothesis name."""
    return bool(_IDENT_RE.fullmatch(name)) and name not in _KEYWORDS and "✝" not in name


def _tokens(text: str) -> list[str]:
    out = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:  # only trailing whitespace can fail to match
            break
        out.append(_ASCII.get(m.group(1), m.group(1)))
        pos = m.end()
    return out


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def fail(self, what: str) -> GoalParseError:
        near = " ".join(self.toks[self.i : self.i + 4]) or "end of text"
        return GoalParseError(f"cannot read {self.text!r} as a propositional formula: {what} near {near!r}")

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expr(self, min_prec: int) -> Formula:
        left = self.prefix()
        while True:
            tok = self.peek()
            op = _BINARY.get(tok) if tok is not None else None
            if op is None or op.prec < min_prec:
                return left
            self.take()
            if op is Op.IFF:  # non-associative: both sides above 20
                right = self.expr(op.prec + 1)
                if self.peek() == Op.IFF.symbol:
                    raise self.fail("`↔` is not associative; parenthesise one side")
            else:  # right-associative
                right = self.expr(op.prec)
            left = Binary(op, left, right)

    def prefix(self) -> Formula:
        tok = self.peek()
        if tok is None:
            raise self.fail("expected a formula")
        if tok == "¬":
            self.take()
            return Not(self.expr(_NOT_ARG_PREC))
        if tok == "(":
            self.take()
            inner = self.expr(0)
            if self.peek() != ")":
                raise self.fail("expected `)`")
            self.take()
            return inner
        if tok == "True":
            self.take()
            return TOP
        if tok == "False":
            self.take()
            return BOTTOM
        if is_lean_identifier(tok):
            self.take()
            return Atom(tok)
        raise self.fail(f"unexpected token {tok!r}")


@functools.lru_cache(maxsize=65536)
def parse_formula(text: str) -> Formula:
    """Read one propositional formula in Lean 4 syntax (unicode connectives; ``->``, ``<->``, ``/\\``,
    ``\\/`` also accepted).  Raises :class:`GoalParseError` naming the text and the position on failure."""
    reader = _Reader(text)
    result = reader.expr(0)
    if reader.peek() is not None:
        raise reader.fail("unexpected trailing text")
    return result


def _prec(f: Formula) -> int:
    if isinstance(f, Binary):
        return f.op.prec
    if isinstance(f, Not):
        return _NOT_ARG_PREC  # `¬x` may stand where precedence 40 is needed
    return _MAX_PREC


def _wrap(f: Formula, need: int) -> str:
    text = render(f)
    return f"({text})" if _prec(f) < need else text


@functools.lru_cache(maxsize=65536)
def render(f: Formula) -> str:
    """Lean 4 syntax for ``f`` with minimal parentheses (``¬p ∧ q``, ``(p → q) → p``, ``¬(p ∨ q)``)."""
    if isinstance(f, Atom):
        return f.name
    if isinstance(f, Const):
        return "True" if f.value else "False"
    if isinstance(f, Not):
        return "¬" + _wrap(f.arg, _NOT_ARG_PREC)
    if f.op is Op.IFF:
        return f"{_wrap(f.left, f.op.prec + 1)} {f.op.symbol} {_wrap(f.right, f.op.prec + 1)}"
    return f"{_wrap(f.left, f.op.prec + 1)} {f.op.symbol} {_wrap(f.right, f.op.prec)}"


@functools.lru_cache(maxsize=65536)
def size(f: Formula) -> int:
    """Number of nodes (atoms, constants, connectives) in ``f``."""
    if isinstance(f, Not):
        return 1 + size(f.arg)
    if isinstance(f, Binary):
        return 1 + size(f.left) + size(f.right)
    return 1


def _walk_atoms(f: Formula) -> Iterator[str]:
    if isinstance(f, Atom):
        yield f.name
    elif isinstance(f, Not):
        yield from _walk_atoms(f.arg)
    elif isinstance(f, Binary):
        yield from _walk_atoms(f.left)
        yield from _walk_atoms(f.right)


def atoms(f: Formula) -> tuple[str, ...]:
    """Atom names of ``f`` in order of first occurrence, without repeats."""
    return tuple(dict.fromkeys(_walk_atoms(f)))


def _mask(f: Formula, columns: Mapping[str, int], full: int) -> int:
    if isinstance(f, Atom):
        return columns[f.name]
    if isinstance(f, Const):
        return full if f.value else 0
    if isinstance(f, Not):
        return full ^ _mask(f.arg, columns, full)
    a = _mask(f.left, columns, full)
    b = _mask(f.right, columns, full)
    if f.op is Op.AND:
        return a & b
    if f.op is Op.OR:
        return a | b
    if f.op is Op.IMP:
        return (full ^ a) | b
    return full ^ (a ^ b)


def truth_mask(f: Formula, names: Sequence[str]) -> int:
    """The truth table of ``f`` over ``names`` as a ``2**len(names)``-bit integer.

    Bit ``k`` is the value of ``f`` under the assignment where atom ``names[j]`` is true iff bit ``j`` of
    ``k`` is set.  Every atom of ``f`` must be in ``names``.
    """
    missing = [a for a in atoms(f) if a not in names]
    if missing:
        raise GoalParseError(f"atoms {missing} of {render(f)!r} are not among the given names {list(names)}")
    rows = 1 << len(names)
    full = (1 << rows) - 1
    columns = {}
    for j, name in enumerate(names):
        # bit k of the column is bit j of k
        block = ((1 << (1 << j)) - 1) << (1 << j)  # 2**j zeros then 2**j ones
        period = 1 << (j + 1)
        col = 0
        for start in range(0, rows, period):
            col |= block << start
        columns[name] = col & full
    return _mask(f, columns, full)


def is_tautology(f: Formula) -> bool:
    """Classical validity by truth table over the atoms of ``f``."""
    names = atoms(f)
    return truth_mask(f, names) == (1 << (1 << len(names))) - 1


def falsifying_assignment(f: Formula) -> dict[str, bool] | None:
    """An assignment of ``f``'s atoms that makes ``f`` false, or None when ``f`` is a tautology."""
    names = atoms(f)
    mask = truth_mask(f, names)
    for k in range(1 << len(names)):
        if not (mask >> k) & 1:
            return {name: bool((k >> j) & 1) for j, name in enumerate(names)}
    return None


def kleene(f: Formula, values: Mapping[str, bool]) -> bool | None:
    """Strong Kleene three-valued evaluation: True/False when ``values`` already decide ``f``, else None."""
    if isinstance(f, Atom):
        return values.get(f.name)
    if isinstance(f, Const):
        return f.value
    if isinstance(f, Not):
        v = kleene(f.arg, values)
        return None if v is None else not v
    a = kleene(f.left, values)
    if f.op is Op.AND:
        if a is False:
            return False
        b = kleene(f.right, values)
        if b is False:
            return False
        return True if a and b else None
    if f.op is Op.OR:
        if a is True:
            return True
        b = kleene(f.right, values)
        if b is True:
            return True
        return False if a is False and b is False else None
    if f.op is Op.IMP:
        if a is False:
            return True
        b = kleene(f.right, values)
        if b is True:
            return True
        return False if a is True and b is False else None
    b = kleene(f.right, values)
    return None if a is None or b is None else a == b
