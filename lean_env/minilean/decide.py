"""Evaluation of closed decidable propositions (the `decide` tactic, and the kernel's check of it)."""

from __future__ import annotations

from .errors import MiniLeanError
from .expr import Const, Expr, FALSE, Num, Pi, TRUE, get_app_fn_args, has_loose_bvar


class Undecidable(MiniLeanError):
    """The proposition is not closed, or not built from decidable parts."""


def evaluate(red, prop: Expr, lctx) -> bool:
    """True/False for a closed decidable proposition; raises :class:`Undecidable` otherwise."""
    e = red.whnf_core(red.mctx.instantiate(prop) if red.mctx.assign else prop)
    if e == TRUE:
        return True
    if e == FALSE:
        return False
    if type(e) is Pi:
        if has_loose_bvar(e.body):
            raise Undecidable("quantifier")
        a = evaluate(red, e.ty, lctx)
        return (not a) or evaluate(red, e.body, lctx)
    fn, args = get_app_fn_args(e)
    if type(fn) is Const:
        n = fn.name
        if n == "And" and len(args) == 2:
            return evaluate(red, args[0], lctx) and evaluate(red, args[1], lctx)
        if n == "Or" and len(args) == 2:
            return evaluate(red, args[0], lctx) or evaluate(red, args[1], lctx)
        if n == "Not" and len(args) == 1:
            return not evaluate(red, args[0], lctx)
        if n == "Iff" and len(args) == 2:
            return evaluate(red, args[0], lctx) == evaluate(red, args[1], lctx)
        if n in ("Eq", "Ne", "LT.lt", "LE.le", "GT.gt", "GE.ge") and len(args) == 3:
            a = _value(red, args[1])
            b = _value(red, args[2])
            r = {"Eq": a == b, "Ne": a != b}.get(n)
            if r is None:
                if not (isinstance(a, int) and isinstance(b, int)):
                    raise Undecidable("order on non-numbers")
                r = {"LT.lt": a < b, "LE.le": a <= b, "GT.gt": a > b, "GE.ge": a >= b}[n]
            return r
    raise Undecidable("not decidable")


def _value(red, e: Expr):
    v = red.whnf(e)
    if type(v) is Num:
        return v.value
    if type(v) is Const and v.name in ("Bool.true", "Bool.false", "Unit.unit"):
        return v.name
    raise Undecidable("not a closed value")
