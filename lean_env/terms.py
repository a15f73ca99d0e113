"""Lean 4 terms as the pretty printer writes them: a small typed tree, a reader and a printer.  Pure.

The reader knows the notation that goals of first-order problems are printed in, with Lean 4 core's
precedences:

================================  ============================  ===============================
notation                          Lean declaration              tree
================================  ============================  ===============================
``a ↔ b``                         ``infix:20``                  ``BinOp("↔", a, b)``
``a → b``                         ``infixr:25``                 ``BinOp("→", a, b)``
``a ∨ b`` / ``a ∧ b``             ``infixr:30`` / ``infixr:35``  ``BinOp``
``a × b``                         ``infixr:35``                 ``BinOp``
``= ≠ < > ≤ ≥ ∈ ∉ ⊆ ∣``           ``infix:50``                  ``BinOp``
``a + b`` / ``a - b``             ``infixl:65``                 ``BinOp``
``a * b`` / ``a / b`` / ``a % b``  ``infixl:70``                 ``BinOp``
``a ^ b``                         ``infixr:75``                 ``BinOp``
``¬p``                            ``notation:max "¬" p:40``     ``UnOp("¬", p)``
``-a``                            ``prefix:75 "-"``             ``UnOp("-", a)``
``↑a``                            ``syntax:max "↑" term:max``   ``UnOp("↑", a)``
``f a b``                         application (``leadPrec``)    ``App(f, (a, b))``
``∀ x (y : T), b``, ``∃ x, b``    binders (``leadPrec``)        ``Quant("∀", binders, b)``
``fun x => b`` (also ``↦``)       ``fun`` (``maxPrec``)         ``Quant("fun", binders, b)``
``(e : T)``, ``⟨a, b⟩``            type ascription, anonymous   ``Typed``, ``Anon``
``x``, ``h.1``, ``?m.5``, ``42``  names, metavariables, nats    ``Ident``, ``Num``
================================  ============================  ===============================

``True``, ``False``, ``Prop``, ``Type`` are identifiers (``Ident("True")``).  Parentheses leave no node: ``(a)``
reads as ``a``, and ``(f a) b`` as ``f a b``.  ASCII spellings (``->``, ``<->``, ``/\\``, ``\\/``, ``<=``,
``>=``, ``!=``) read as their Unicode symbols.  Anything else (Mathlib's ``|x|``, ``n !``, ``∑``, set-builder
notation, ...) is a :class:`~lean_env.errors.TermParseError`: callers decide what an unreadable term means.

:func:`format_term` prints a tree with the fewest parentheses under the same rules, as Lean does, so
``parse_term(format_term(t)) == t`` for every tree the reader can produce.

    >>> t = parse_term("∀ (n : ℕ), ¬n + 1 = 0 ∧ ∃ m, m < n")
    >>> t.body.op, t.body.lhs
    ('∧', UnOp(op='¬', arg=BinOp(op='=', lhs=BinOp(op='+', lhs=Ident(name='n'), rhs=Num(value=1)), rhs=Num(value=0))))
    >>> format_term(t)
    '∀ (n : ℕ), ¬n + 1 = 0 ∧ ∃ m, m < n'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from lean_env.errors import TermParseError

__all__ = [
    "Term",
    "Ident",
    "Num",
    "App",
    "BinOp",
    "UnOp",
    "Binder",
    "Quant",
    "Typed",
    "Anon",
    "INFIX",
    "MAX_PREC",
    "LEAD_PREC",
    "parse_term",
    "format_term",
    "subterms",
]

#: Lean's ``maxPrec`` (arguments of an application) and ``leadPrec`` (application, ``∀``, ``∃``).
MAX_PREC = 1024
LEAD_PREC = MAX_PREC - 1

#: Infix operators: symbol -> (precedence, left operand's minimum, right operand's minimum).
INFIX: dict[str, tuple[int, int, int]] = {
    "↔": (20, 21, 21),
    "→": (25, 26, 25),
    "∨": (30, 31, 30),
    "∧": (35, 36, 35),
    "×": (35, 36, 35),
    **{op: (50, 51, 51) for op in ("=", "≠", "<", ">", "≤", "≥", "∈", "∉", "⊆", "∣")},
    "+": (65, 65, 66),
    "-": (65, 65, 66),
    "*": (70, 70, 71),
    "/": (70, 70, 71),
    "%": (70, 70, 71),
    "^": (75, 76, 75),
}
#: Prefix operators: symbol -> (precedence of the result, minimum precedence of the argument).
PREFIX: dict[str, tuple[int, int]] = {"¬": (MAX_PREC, 40), "-": (75, 75), "↑": (MAX_PREC, MAX_PREC)}
_ASCII = {"->": "→", "<->": "↔", "/\\": "∧", "\\/": "∨", "<=": "≤", ">=": "≥", "!=": "≠", "λ": "fun"}
_SYMBOLS = sorted({*INFIX, *PREFIX, *_ASCII, "(", ")", "⟨", "⟩", "{", "}", "⦃", "⦄", "[", "]", ",", ":", "=>",
                   "↦", "∀", "∃"}, key=len, reverse=True)
_CLOSE = {"(": ")", "{": "}", "⦃": "⦄", "[": "]"}
_KEYWORDS = frozenset({"fun", "λ", "let", "have", "show", "from", "by", "match", "with", "if", "then", "else", "do"})
_SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉ₐₑₒₓₔₕₖₗₘₙₚₛₜᵢᵣᵤᵥⱼ"
_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"


# ------------------------------------------------------------------------------------------------ the tree


@dataclasses.dataclass(frozen=True, slots=True)
class Ident:
    """A name: a constant, a local, ``True``/``False``/``Prop``, a metavariable ``?m.5``, ``h.1``, ``h✝``."""

    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class Num:
    """A natural-number literal (``-3`` is ``UnOp("-", Num(3))``)."""

    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError(f"Num({self.value}): a literal is a natural number; use UnOp('-', Num(n))")


@dataclasses.dataclass(frozen=True, slots=True)
class App:
    """``fn args...``; ``fn`` is never an ``App`` (``(f a) b`` is ``App(f, (a, b))``)."""

    fn: Term
    args: tuple[Term, ...]

    def __post_init__(self) -> None:
        if not self.args:
            raise ValueError("App needs at least one argument")
        if isinstance(self.fn, App):
            raise ValueError("App(App(f, xs), ys) is written App(f, xs + ys)")


@dataclasses.dataclass(frozen=True, slots=True)
class BinOp:
    """``lhs op rhs`` with ``op`` a key of :data:`INFIX`."""

    op: str
    lhs: Term
    rhs: Term


@dataclasses.dataclass(frozen=True, slots=True)
class UnOp:
    """``op arg`` with ``op`` one of ``¬``, ``-``, ``↑``."""

    op: str
    arg: Term


@dataclasses.dataclass(frozen=True, slots=True)
class Binder:
    """One binder group: ``x y`` (``bracket=""``, no type), ``x : T`` (bare, typed), ``(x y : T)``, ``{x : T}``,
    ``⦃x : T⦄`` or ``[inst : C]`` / ``[C]`` (``names=()``)."""

    names: tuple[str, ...]
    type: Term | None = None
    bracket: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Quant:
    """``∀ binders, body``, ``∃ binders, body`` or ``fun binders => body`` (``kind`` is ``∀``, ``∃``, ``fun``)."""

    kind: str
    binders: tuple[Binder, ...]
    body: Term


@dataclasses.dataclass(frozen=True, slots=True)
class Typed:
    """``(term : type)``."""

    term: Term
    type: Term


@dataclasses.dataclass(frozen=True, slots=True)
class Anon:
    """``⟨a, b, ...⟩``."""

    items: tuple[Term, ...]


Term = Ident | Num | App | BinOp | UnOp | Quant | Typed | Anon


def subterms(term: Term) -> Iterator[Term]:
    """``term`` and every term inside it, parents before children (binder types included)."""
    stack = [term]
    while stack:
        t = stack.pop()
        yield t
        if isinstance(t, App):
            stack.extend(reversed((t.fn, *t.args)))
        elif isinstance(t, BinOp):
            stack.extend((t.rhs, t.lhs))
        elif isinstance(t, UnOp):
            stack.append(t.arg)
        elif isinstance(t, Quant):
            stack.append(t.body)
            stack.extend(reversed([b.type for b in t.binders if b.type is not None]))
        elif isinstance(t, Typed):
            stack.extend((t.type, t.term))
        elif isinstance(t, Anon):
            stack.extend(reversed(t.items))


# ------------------------------------------------------------------------------------------------ reading


def _ident_start(ch: str) -> bool:
    return (ch.isalpha() and ch not in "λΠΣ") or ch in "_«"


def _ident_rest(ch: str) -> bool:
    return (ch.isalnum() and ch not in "λΠΣ") or ch in "_'!?✝" or ch in _SUBSCRIPTS or ch in _SUPERSCRIPTS


@dataclasses.dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "ident" | "num" | "sym" | "eof"
    text: str
    pos: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        start = i
        if _ident_start(ch) or (ch == "?" and i + 1 < n and _ident_start(text[i + 1])):
            i += 1 if ch == "?" else 0
            while True:  # a dotted name; segments after the first may be digits (`h.1`, `?m.5`, `x.1.2`)
                if text[i] == "«":
                    close = text.find("»", i)
                    if close < 0:
                        raise TermParseError("unterminated «name»", text=text, offset=i)
                    i = close + 1
                else:
                    i += 1
                    while i < n and _ident_rest(text[i]):
                        i += 1
                if i + 1 < n and text[i] == "." and (_ident_start(text[i + 1]) or text[i + 1].isdigit()):
                    i += 1
                    continue
                break
            word = text[start:i]
            out.append(_Tok("sym" if word in ("fun", "λ") else "ident", _ASCII.get(word, word), start))
            continue
        if ch.isdigit():
            while i < n and text[i].isdigit():
                i += 1
            out.append(_Tok("num", text[start:i], start))
            continue
        for sym in _SYMBOLS:
            if text.startswith(sym, i):
                out.append(_Tok("sym", _ASCII.get(sym, sym), start))
                i += len(sym)
                break
        else:
            raise TermParseError(f"unexpected character {ch!r}", text=text, offset=i)
    out.append(_Tok("eof", "", n))
    return out


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def next(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def fail(self, what: str) -> TermParseError:
        t = self.tok
        found = "the end of the term" if t.kind == "eof" else repr(t.text)
        return TermParseError(f"expected {what}, found {found}", text=self.text, offset=t.pos)

    def at(self, *syms: str) -> bool:
        return self.tok.kind == "sym" and self.tok.text in syms

    def expect(self, sym: str) -> None:
        if not self.at(sym):
            raise self.fail(repr(sym))
        self.i += 1

    def starts_argument(self) -> bool:
        t = self.tok
        if t.kind in ("ident", "num"):
            return t.text not in _KEYWORDS
        return t.kind == "sym" and t.text in ("(", "⟨", "↑", "¬", "fun", "∃")

    def term(self, prec: int = 0) -> Term:
        """A term of precedence >= ``prec`` (Pratt parsing, as Lean's ``termParser prec``)."""
        left, left_prec = self.leading(prec)
        while True:
            t = self.tok
            if t.kind == "sym" and t.text in INFIX:
                p, lp, rp = INFIX[t.text]
                if p < prec or left_prec < lp:
                    return left
                self.i += 1
                left, left_prec = BinOp(t.text, left, self.term(rp)), p
            elif prec <= LEAD_PREC and left_prec >= MAX_PREC and self.starts_argument():
                args: list[Term] = []
                while self.starts_argument():
                    args.append(self.term(MAX_PREC))
                left, left_prec = _app(left, tuple(args)), LEAD_PREC
            else:
                return left

    def leading(self, prec: int) -> tuple[Term, int]:
        t = self.tok
        if t.kind == "num":
            self.i += 1
            return Num(int(t.text)), MAX_PREC
        if t.kind == "ident":
            if t.text in _KEYWORDS:
                raise TermParseError(f"`{t.text}` terms are not read", text=self.text, offset=t.pos)
            self.i += 1
            return Ident(t.text), MAX_PREC
        if t.kind != "sym":
            raise self.fail("a term")
        s = t.text
        if s in PREFIX:
            result, arg_prec = PREFIX[s]
            if result < prec:
                raise self.fail(f"a term of precedence {prec}")
            self.i += 1
            return UnOp(s, self.term(arg_prec)), result
        if s in ("∀", "∃", "fun"):
            result = MAX_PREC if s in ("fun", "∃") else LEAD_PREC
            if result < prec:
                raise self.fail(f"a term of precedence {prec}")
            self.i += 1
            binders = self.binders(s)
            self.i += 1  # the `,` / `=>` / `↦` that binders() stopped at
            return Quant(s, binders, self.term(0)), result
        if s == "(":
            self.i += 1
            inner = self.term(0)
            if self.at(":"):
                self.i += 1
                ty = self.term(0)
                self.expect(")")
                return Typed(inner, ty), MAX_PREC
            self.expect(")")
            return inner, MAX_PREC
        if s == "⟨":
            self.i += 1
            items: list[Term] = []
            if not self.at("⟩"):
                items.append(self.term(0))
                while self.at(","):
                    self.i += 1
                    items.append(self.term(0))
            self.expect("⟩")
            return Anon(tuple(items)), MAX_PREC
        raise self.fail("a term")

    def names(self) -> tuple[str, ...]:
        names = []
        while self.tok.kind == "ident" and self.tok.text not in _KEYWORDS:
            names.append(self.next().text)
        return tuple(names)

    def binders(self, kind: str) -> tuple[Binder, ...]:
        stop = (",",) if kind in ("∀", "∃") else ("=>", "↦")
        groups: list[Binder] = []
        while not self.at(*stop):
            if self.at(*_CLOSE):
                bracket = self.next().text
                names = self.names()
                if bracket == "[" and names and not self.at(":"):  # `[C α]`: an anonymous instance
                    self.i -= len(names)
                    names = ()
                elif not names:
                    raise self.fail("a binder name")
                if names:
                    self.expect(":")
                ty = self.term(0)
                self.expect(_CLOSE[bracket])
                groups.append(Binder(names, ty, bracket))
                continue
            names = self.names()
            if not names:
                raise self.fail(f"a binder or {' / '.join(map(repr, stop))}")
            ty = None
            if self.at(":"):
                self.i += 1
                ty = self.term(0)
                if not self.at(*stop):
                    raise self.fail(" / ".join(map(repr, stop)))
            groups.append(Binder(names, ty, ""))
        if not groups:
            raise self.fail("a binder")
        return tuple(groups)


def _app(fn: Term, args: tuple[Term, ...]) -> App:
    if isinstance(fn, App):
        return App(fn.fn, fn.args + args)
    return App(fn, args)


def parse_term(text: str) -> Term:
    """Read one term; :class:`~lean_env.errors.TermParseError` (with ``offset``) when it is outside the notation
    listed in the module docstring, or when text is left over."""
    reader = _Reader(text)
    if reader.tok.kind == "eof":
        raise TermParseError("empty term", text=text, offset=0)
    try:
        term = reader.term(0)
    except RecursionError:
        raise TermParseError("term nested too deeply", text=text, offset=reader.tok.pos) from None
    if reader.tok.kind != "eof":
        raise reader.fail("the end of the term (or an operator)")
    return term


# ------------------------------------------------------------------------------------------------ printing


def _prec(t: Term) -> int:
    if isinstance(t, BinOp):
        return INFIX[t.op][0]
    if isinstance(t, UnOp):
        return PREFIX[t.op][0]
    if isinstance(t, App):
        return LEAD_PREC
    if isinstance(t, Quant):
        return MAX_PREC if t.kind in ("fun", "∃") else LEAD_PREC
    return MAX_PREC


def _absorbs(t: Term, follow: int | None) -> bool:
    """Would ``t``'s open right end swallow what follows it (an operator or application of precedence
    ``follow``)?  Binders take everything; ``¬``/``-`` take what binds at least as tightly as their argument."""
    if follow is None:
        return False
    if isinstance(t, Quant):
        return True
    if isinstance(t, UnOp) and t.op != "↑":
        return follow >= PREFIX[t.op][1]
    return False


def _fmt(t: Term, need: int, follow: int | None) -> str:
    """``t`` where a term of precedence >= ``need`` stands and something of precedence ``follow`` comes next
    (``None``: nothing does, up to a closing bracket or the end)."""
    if _prec(t) < need or _absorbs(t, follow):
        return "(" + _fmt(t, 0, None) + ")"
    if isinstance(t, Ident):
        return t.name
    if isinstance(t, Num):
        return str(t.value)
    if isinstance(t, BinOp):
        _, lp, rp = INFIX[t.op]
        return f"{_fmt(t.lhs, lp, INFIX[t.op][0])} {t.op} {_fmt(t.rhs, rp, follow)}"
    if isinstance(t, UnOp):
        return t.op + _fmt(t.arg, PREFIX[t.op][1], follow)
    if isinstance(t, App):
        parts = [_fmt(t.fn, MAX_PREC, LEAD_PREC)]
        parts += [_fmt(a, MAX_PREC, LEAD_PREC) for a in t.args[:-1]]
        parts.append(_fmt(t.args[-1], MAX_PREC, follow))
        return " ".join(parts)
    if isinstance(t, Quant):
        sep = ", " if t.kind in ("∀", "∃") else " => "
        return f"{t.kind} {' '.join(_fmt_binder(b) for b in t.binders)}{sep}{_fmt(t.body, 0, None)}"
    if isinstance(t, Typed):
        return f"({_fmt(t.term, 0, None)} : {_fmt(t.type, 0, None)})"
    if isinstance(t, Anon):
        return "⟨" + ", ".join(_fmt(x, 0, None) for x in t.items) + "⟩"
    raise TypeError(f"format_term: not a term: {t!r}")


def _fmt_binder(b: Binder) -> str:
    names = " ".join(b.names)
    if b.type is None:
        return names
    ty = _fmt(b.type, 0, None)
    if not b.bracket:
        return f"{names} : {ty}"
    inside = f"{names} : {ty}" if b.names else ty
    return f"{b.bracket}{inside}{_CLOSE[b.bracket]}"


def format_term(term: Term) -> str:
    """``term`` in Lean's notation, with the fewest parentheses that read back to the same tree."""
    return _fmt(term, 0, None)
