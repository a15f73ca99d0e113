"""Core expressions of MiniLean (locally nameless: bound variables are de Bruijn indices).

Nodes are immutable and compare structurally.  ``FVar`` ids are process-unique integers; ``MVar`` ids too.
``DLam`` is a lambda that binds an ``FVar`` by id; it only appears inside metavariable assignments made by
tactics and is turned into an ordinary ``Lam`` by :func:`instantiate_mvars`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

_ids = itertools.count(1)


def fresh_id() -> int:
    """A new process-unique id for a free variable or metavariable."""
    return next(_ids)


def bump_ids(at_least: int) -> None:
    """Make every later :func:`fresh_id` larger than ``at_least`` (after unpickling stored ids)."""
    global _ids
    current = next(_ids)
    _ids = itertools.count(max(current, at_least + 1))


class Expr:
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class BVar(Expr):
    idx: int


@dataclass(frozen=True, slots=True)
class FVar(Expr):
    id: int


@dataclass(frozen=True, slots=True)
class MVar(Expr):
    id: int


ANY_LEVEL = -1  # level of ``Sort u`` in a constant's signature: any universe is accepted


@dataclass(frozen=True, slots=True)
class Sort(Expr):
    level: int  # 0 = Prop, 1 = Type, ANY_LEVEL = universe parameter


@dataclass(frozen=True, slots=True)
class Const(Expr):
    name: str


@dataclass(frozen=True, slots=True)
class App(Expr):
    fn: Expr
    arg: Expr


@dataclass(frozen=True, slots=True)
class Lam(Expr):
    name: str
    ty: Expr
    body: Expr
    implicit: bool = False


@dataclass(frozen=True, slots=True)
class Pi(Expr):
    name: str
    ty: Expr
    body: Expr
    implicit: bool = False


@dataclass(frozen=True, slots=True)
class Num(Expr):
    """A numeric literal ``value`` of type ``ty`` (``Nat`` or ``Int``; an ``MVar`` while elaborating)."""

    value: int
    ty: Expr


@dataclass(frozen=True, slots=True)
class Sorry(Expr):
    """``sorryAx ty``; ``synthetic`` marks sorries inserted by error recovery."""

    ty: Expr
    synthetic: bool = False
    uid: int = 0


@dataclass(frozen=True, slots=True)
class Decide(Expr):
    """A proof of the closed decidable proposition ``prop`` by evaluation (``of_decide_eq_true``)."""

    prop: Expr


@dataclass(frozen=True, slots=True)
class DLam(Expr):
    fvar: int
    name: str
    ty: Expr
    body: Expr


PROP = Sort(0)
TYPE = Sort(1)
NAT = Const("Nat")
INT = Const("Int")
BOOL = Const("Bool")
UNIT = Const("Unit")
TRUE = Const("True")
FALSE = Const("False")


def mk_app(fn: Expr, *args: Expr) -> Expr:
    for a in args:
        fn = App(fn, a)
    return fn


def get_app_fn_args(e: Expr) -> tuple[Expr, list[Expr]]:
    args = []
    while isinstance(e, App):
        args.append(e.arg)
        e = e.fn
    args.reverse()
    return e, args


def app_of(e: Expr, name: str, n: int) -> list[Expr] | None:
    """The arguments if ``e`` is ``Const(name)`` applied to exactly ``n`` arguments, else None."""
    fn, args = get_app_fn_args(e)
    if isinstance(fn, Const) and fn.name == name and len(args) == n:
        return args
    return None


def instantiate(e: Expr, val: Expr, depth: int = 0) -> Expr:
    """Replace bound variable ``depth`` by the closed term ``val`` (lowering the higher ones)."""
    t = type(e)
    if t is BVar:
        if e.idx == depth:
            return val
        if e.idx > depth:
            return BVar(e.idx - 1)
        return e
    if t is App:
        return App(instantiate(e.fn, val, depth), instantiate(e.arg, val, depth))
    if t is Pi:
        return Pi(e.name, instantiate(e.ty, val, depth), instantiate(e.body, val, depth + 1), e.implicit)
    if t is Lam:
        return Lam(e.name, instantiate(e.ty, val, depth), instantiate(e.body, val, depth + 1), e.implicit)
    if t is Num:
        return Num(e.value, instantiate(e.ty, val, depth))
    if t is Sorry:
        return Sorry(instantiate(e.ty, val, depth), e.synthetic, e.uid)
    if t is Decide:
        return Decide(instantiate(e.prop, val, depth))
    if t is DLam:
        return DLam(e.fvar, e.name, instantiate(e.ty, val, depth), instantiate(e.body, val, depth))
    return e


def abstract(e: Expr, fid: int, depth: int = 0) -> Expr:
    """Replace free variable ``fid`` by bound variable ``depth``."""
    t = type(e)
    if t is FVar:
        return BVar(depth) if e.id == fid else e
    if t is App:
        return App(abstract(e.fn, fid, depth), abstract(e.arg, fid, depth))
    if t is Pi:
        return Pi(e.name, abstract(e.ty, fid, depth), abstract(e.body, fid, depth + 1), e.implicit)
    if t is Lam:
        return Lam(e.name, abstract(e.ty, fid, depth), abstract(e.body, fid, depth + 1), e.implicit)
    if t is Num:
        return Num(e.value, abstract(e.ty, fid, depth))
    if t is Sorry:
        return Sorry(abstract(e.ty, fid, depth), e.synthetic, e.uid)
    if t is Decide:
        return Decide(abstract(e.prop, fid, depth))
    if t is DLam:
        return DLam(e.fvar, e.name, abstract(e.ty, fid, depth), abstract(e.body, fid, depth))
    return e


def abstract_term(e: Expr, pat: Expr, fid: int) -> Expr:
    """Replace every occurrence of the closed term ``pat`` in ``e`` by free variable ``fid`` (``abstract`` for a
    term instead of a variable: the motive of a rewrite)."""
    if e == pat:
        return FVar(fid)
    t = type(e)
    if t is App:
        return App(abstract_term(e.fn, pat, fid), abstract_term(e.arg, pat, fid))
    if t is Pi:
        return Pi(e.name, abstract_term(e.ty, pat, fid), abstract_term(e.body, pat, fid), e.implicit)
    if t is Lam:
        return Lam(e.name, abstract_term(e.ty, pat, fid), abstract_term(e.body, pat, fid), e.implicit)
    if t is Num:
        return Num(e.value, abstract_term(e.ty, pat, fid))
    if t is Sorry:
        return Sorry(abstract_term(e.ty, pat, fid), e.synthetic, e.uid)
    if t is Decide:
        return Decide(abstract_term(e.prop, pat, fid))
    if t is DLam:
        return DLam(e.fvar, e.name, abstract_term(e.ty, pat, fid), abstract_term(e.body, pat, fid))
    return e


def has_loose_bvars(e: Expr, depth: int = 0) -> bool:
    """True when ``e`` has a bound variable pointing outside ``depth`` binders (index >= ``depth``): ``e`` is not
    closed.  (:func:`has_loose_bvar` asks about one index.)"""
    t = type(e)
    if t is BVar:
        return e.idx >= depth
    if t is App:
        return has_loose_bvars(e.fn, depth) or has_loose_bvars(e.arg, depth)
    if t is Pi or t is Lam:
        return has_loose_bvars(e.ty, depth) or has_loose_bvars(e.body, depth + 1)
    if t is Num or t is Sorry:
        return has_loose_bvars(e.ty, depth)
    if t is Decide:
        return has_loose_bvars(e.prop, depth)
    if t is DLam:
        return has_loose_bvars(e.ty, depth) or has_loose_bvars(e.body, depth)
    return False


def has_loose_bvar(e: Expr, depth: int = 0) -> bool:
    t = type(e)
    if t is BVar:
        return e.idx == depth
    if t is App:
        return has_loose_bvar(e.fn, depth) or has_loose_bvar(e.arg, depth)
    if t is Pi or t is Lam:
        return has_loose_bvar(e.ty, depth) or has_loose_bvar(e.body, depth + 1)
    if t is Num:
        return has_loose_bvar(e.ty, depth)
    if t is Sorry:
        return has_loose_bvar(e.ty, depth)
    if t is Decide:
        return has_loose_bvar(e.prop, depth)
    return False


def subterms(e: Expr):
    """Every subterm of ``e`` (pre-order)."""
    stack = [e]
    while stack:
        x = stack.pop()
        yield x
        t = type(x)
        if t is App:
            stack.append(x.arg)
            stack.append(x.fn)
        elif t is Pi or t is Lam:
            stack.append(x.body)
            stack.append(x.ty)
        elif t is DLam:
            stack.append(x.body)
            stack.append(x.ty)
        elif t is Num or t is Sorry:
            stack.append(x.ty)
        elif t is Decide:
            stack.append(x.prop)


def has_fvar(e: Expr, fid: int) -> bool:
    return any(type(x) is FVar and x.id == fid for x in subterms(e))


def fvars_of(e: Expr) -> set[int]:
    return {x.id for x in subterms(e) if type(x) is FVar}


def has_mvar(e: Expr) -> bool:
    return any(type(x) is MVar for x in subterms(e))


def mvars_of(e: Expr) -> list[int]:
    seen: list[int] = []
    for x in subterms(e):
        if type(x) is MVar and x.id not in seen:
            seen.append(x.id)
    return seen


def has_sorry(e: Expr) -> bool:
    return any(type(x) is Sorry for x in subterms(e))


def consts_of(e: Expr) -> set[str]:
    return {x.name for x in subterms(e) if type(x) is Const}


def replace_fvar(e: Expr, fid: int, val: Expr) -> Expr:
    """Substitute the closed term ``val`` for free variable ``fid``."""
    return instantiate(abstract(e, fid), val)


def instantiate_mvars(e: Expr, assign: dict[int, Expr]) -> Expr:
    """Replace assigned metavariables (recursively) and turn ``DLam`` nodes into ``Lam``, in one pass.

    A ``DLam`` binding free variable ``f`` at binder depth ``d`` turns every ``FVar(f)`` below it, at depth ``k``,
    into ``BVar(k - d - 1)``; assigned values are closed over bound variables, so they are walked in place.
    """
    if not assign and not any(type(x) is DLam for x in subterms(e)):
        return e
    cache: dict[tuple[int, int, int], Expr] = {}
    scopes = itertools.count(1)

    def go(x: Expr, depth: int, binds: dict[int, int], scope: int) -> Expr:
        t = type(x)
        if t is MVar:
            v = assign.get(x.id)
            if v is None:
                return x
            key = (x.id, depth, scope)
            r = cache.get(key)
            if r is None:
                r = go(v, depth, binds, scope)
                cache[key] = r
            return r
        if t is FVar:
            level = binds.get(x.id)
            return x if level is None else BVar(depth - level - 1)
        if t is App:
            return App(go(x.fn, depth, binds, scope), go(x.arg, depth, binds, scope))
        if t is Pi:
            return Pi(x.name, go(x.ty, depth, binds, scope), go(x.body, depth + 1, binds, scope), x.implicit)
        if t is Lam:
            return Lam(x.name, go(x.ty, depth, binds, scope), go(x.body, depth + 1, binds, scope), x.implicit)
        if t is DLam:
            inner = dict(binds)
            inner[x.fvar] = depth
            return Lam(x.name, go(x.ty, depth, binds, scope), go(x.body, depth + 1, inner, next(scopes)), False)
        if t is Num:
            return Num(x.value, go(x.ty, depth, binds, scope))
        if t is Sorry:
            return Sorry(go(x.ty, depth, binds, scope), x.synthetic, x.uid)
        if t is Decide:
            return Decide(go(x.prop, depth, binds, scope))
        return x

    return go(e, 0, {}, 0)


def head_beta(e: Expr) -> Expr:
    """Reduce `(fun x => b) a ...` at the head."""
    while True:
        fn, args = get_app_fn_args(e)
        if type(fn) is not Lam or not args:
            return e
        body = fn
        i = 0
        while type(body) is Lam and i < len(args):
            body = instantiate(body.body, args[i])
            i += 1
        e = mk_app(body, *args[i:])
