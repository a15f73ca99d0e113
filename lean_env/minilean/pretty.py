"""Lean-style pretty printing of expressions and goals (notation, precedence, unicode, binder grouping)."""

from __future__ import annotations

from .expr import (subterms, App, BVar, Const, Decide, DLam, Expr, FVar, Lam, MVar, Num, Pi, Sort, Sorry, get_app_fn_args,
                   has_loose_bvar)
from .kernel import LocalContext, MetaCtx

INFIX = {  # const name (with type argument first) -> (symbol, prec, lhs prec, rhs prec)
    "Eq": ("=", 50, 51, 51), "Ne": ("≠", 50, 51, 51), "LT.lt": ("<", 50, 51, 51), "LE.le": ("≤", 50, 51, 51),
    "GT.gt": (">", 50, 51, 51), "GE.ge": ("≥", 50, 51, 51),
    "HAdd.hAdd": ("+", 65, 65, 66), "HSub.hSub": ("-", 65, 65, 66), "HMul.hMul": ("*", 70, 70, 71),
    "HDiv.hDiv": ("/", 70, 70, 71), "HMod.hMod": ("%", 70, 70, 71), "HPow.hPow": ("^", 75, 76, 75),
}
PROP_INFIX = {"And": ("∧", 35, 36, 35), "Or": ("∨", 30, 31, 30), "Iff": ("↔", 20, 21, 21)}
FIELD_NOTATION = {"Nat.succ", "Int.natAbs", "Nat.pred", "Int.toNat"}
SUPERSCRIPT = "⁰¹²³⁴⁵⁶⁷⁸⁹"
MAX = 1024


def _sup(n: int) -> str:
    return "".join(SUPERSCRIPT[int(c)] for c in str(n))


def display_names(lctx: LocalContext) -> dict[int, str]:
    """User-facing names of the locals: shadowed and inaccessible ones get `✝` (`✝¹`, ... for older ones)."""
    out: dict[int, str] = {}
    daggered: dict[str, list[int]] = {}
    seen_later: set[str] = set()
    for d in reversed(lctx.decls):
        if d.aux:
            continue
        if d.inaccessible or d.name in seen_later:
            daggered.setdefault(d.name, []).append(d.fid)
        else:
            out[d.fid] = d.name
        seen_later.add(d.name)
    for name, fids in daggered.items():
        for k, fid in enumerate(fids):
            out[fid] = f"{name}✝" + (_sup(k) if k else "")
    return out


class Printer:
    def __init__(self, lctx: LocalContext | None = None, mctx: MetaCtx | None = None, *, mathlib: bool = False,
                 env=None) -> None:
        self.env = env
        self.names = display_names(lctx) if lctx is not None else {}
        self.lctx = lctx
        self.mctx = mctx
        self.mathlib = mathlib
        self.mvar_names: dict[int, str] = {}

    def pp(self, e: Expr) -> str:
        if self.mctx is not None:
            e = self.mctx.instantiate(e)
        return self.fmt(e, 0, [])

    def _paren(self, s: str, cond: bool) -> str:
        return f"({s})" if cond else s

    def fmt(self, e: Expr, prec: int, bound: list[str]) -> str:
        t = type(e)
        if t is BVar:
            i = len(bound) - 1 - e.idx
            return bound[i] if 0 <= i < len(bound) else f"#{e.idx}"
        if t is FVar:
            return self.names.get(e.id) or self._fvar_fallback(e.id)
        if t is MVar:
            if self.mctx is not None:
                d = self.mctx.decls.get(e.id)
                if d is not None and d.tag:
                    return f"?{d.tag}"
            return f"?m.{e.id}"
        if t is Sort:
            return {0: "Prop", 1: "Type"}.get(e.level, "Sort u" if e.level < 0 else f"Type {e.level - 1}")
        if t is Const:
            if e.name in ("Bool.true", "Bool.false"):
                return e.name[5:]
            if self.mathlib:
                if e.name == "Nat":
                    return "ℕ"
                if e.name == "Int":
                    return "ℤ"
            return e.name
        if t is Num:
            if e.value < 0:
                return self._paren(f"-{-e.value}", prec > 75)
            return str(e.value)
        if t is Sorry:
            return "sorry"
        if t is Decide:
            return "of_decide_eq_true (Eq.refl true)"
        if t is Pi:
            return self.fmt_pi(e, prec, bound)
        if t is Lam or t is DLam:
            return self.fmt_lam(e, prec, bound)
        if t is App:
            return self.fmt_app(e, prec, bound)
        return repr(e)

    def _fvar_fallback(self, fid: int) -> str:
        if self.lctx is not None:
            d = self.lctx.get(fid)
            if d is not None:
                return d.name
        return f"_fvar.{fid}"

    def fresh_binder(self, name: str, bound: list[str], body: Expr | None = None) -> str:
        """The binder's name, renamed `x_1`... only if it would capture a name used in the body (safe shadowing)."""
        if body is None:
            used = set(bound) | set(self.names.values())
        else:
            used = set(bound) | {self.names.get(x.id, "") for x in subterms(body) if type(x) is FVar}
        if name not in used:
            return name
        k = 1
        while f"{name}_{k}" in used:
            k += 1
        return f"{name}_{k}"

    def fmt_pi(self, e: Pi, prec: int, bound: list[str]) -> str:
        if not has_loose_bvar(e.body) and not e.implicit:
            dom = self.fmt(e.ty, 26, bound)
            cod = self.fmt(e.body, 25, bound + ["_"])
            return self._paren(f"{dom} → {cod}", prec > 25)
        groups: list[tuple[list[str], str, bool]] = []
        cur = e
        b = list(bound)
        while type(cur) is Pi and (has_loose_bvar(cur.body) or cur.implicit):
            name = self.fresh_binder(cur.name, b, cur.body)
            ty = self.fmt(cur.ty, 0, b)
            if groups and groups[-1][1] == ty and groups[-1][2] == cur.implicit:
                groups[-1][0].append(name)
            else:
                groups.append(([name], ty, cur.implicit))
            b = b + [name]
            cur = cur.body
        parts = []
        for names, ty, imp in groups:
            o, c = ("{", "}") if imp else ("(", ")")
            parts.append(f"{o}{' '.join(names)} : {ty}{c}")
        body = self.fmt(cur, 0, b)
        return self._paren(f"∀ {' '.join(parts)}, {body}", prec > 0)

    def fmt_lam(self, e: Expr, prec: int, bound: list[str]) -> str:
        names = []
        b = list(bound)
        cur = e
        while type(cur) is Lam:
            name = self.fresh_binder(cur.name, b, cur.body)
            names.append(name)
            b = b + [name]
            cur = cur.body
        body = self.fmt(cur, 0, b)
        return self._paren(f"fun {' '.join(names)} => {body}", prec > 0)

    def fmt_app(self, e: App, prec: int, bound: list[str]) -> str:
        fn, args = get_app_fn_args(e)
        if type(fn) is Const:
            name = fn.name
            if name in INFIX and len(args) == 3:
                sym, p, lp, rp = INFIX[name]
                return self._paren(f"{self.fmt(args[1], lp, bound)} {sym} {self.fmt(args[2], rp, bound)}", prec > p)
            if name in PROP_INFIX and len(args) == 2:
                sym, p, lp, rp = PROP_INFIX[name]
                return self._paren(f"{self.fmt(args[0], lp, bound)} {sym} {self.fmt(args[1], rp, bound)}", prec > p)
            if name == "Not" and len(args) == 1:
                return self._paren(f"¬{self.fmt(args[0], 40, bound)}", prec > MAX)
            if name == "Int.ofNat" and len(args) == 1:
                return self._paren(f"↑{self.fmt(args[0], MAX, bound)}", prec > MAX)
            if name == "Neg.neg" and len(args) == 2:
                return self._paren(f"-{self.fmt(args[1], 75, bound)}", prec > 75)
            if name == "Exists" and len(args) == 2 and type(args[1]) is Lam:
                names = []
                b = list(bound)
                cur = args[1]
                while True:
                    nm = self.fresh_binder(cur.name, b, cur.body)
                    names.append(nm)
                    b = b + [nm]
                    body = cur.body
                    f2, a2 = get_app_fn_args(body)
                    if type(f2) is Const and f2.name == "Exists" and len(a2) == 2 and type(a2[1]) is Lam:
                        cur = a2[1]
                        continue
                    break
                return self._paren(f"∃ {' '.join(names)}, {self.fmt(body, 0, b)}", prec > 0)
            if name == "Exists" and len(args) == 2:
                return self._paren(f"Exists {self.fmt(args[1], MAX + 1, bound)}", prec > MAX)
            if name in FIELD_NOTATION and len(args) == 1:
                return f"{self.fmt(args[0], MAX, bound)}.{name.split('.')[-1]}"
            if name == "Nat.succ" and len(args) == 1:
                return f"{self.fmt(args[0], MAX, bound)}.succ"
        shown = [a for a, imp in zip(args, self._implicit_mask(fn, len(args))) if not imp]
        head = self.fmt(fn, MAX, bound)
        if not shown:
            return head
        s = head + " " + " ".join(self.fmt(a, MAX + 1, bound) for a in shown)
        return self._paren(s, prec > MAX)

    def _implicit_mask(self, fn: Expr, n: int) -> list[bool]:
        ty = None
        if type(fn) is Const and self.env is not None:
            c = self.env.get(fn.name)
            ty = c.type if c else None
        mask = []
        for _ in range(n):
            if type(ty) is Pi:
                mask.append(ty.implicit)
                ty = ty.body
            else:
                mask.append(False)
                ty = None
        return mask


def pp_expr(e: Expr, lctx: LocalContext | None = None, mctx: MetaCtx | None = None, *, mathlib: bool = False,
            env=None) -> str:
    return Printer(lctx, mctx, mathlib=mathlib, env=env).pp(e)


def pp_goal(lctx: LocalContext, target: Expr, mctx: MetaCtx | None, tag: str = "", *, mathlib: bool = False,
            env=None) -> str:
    """One goal as Lean prints it: optional `case tag`, grouped hypotheses, `⊢ target`."""
    pr = Printer(lctx, mctx, mathlib=mathlib, env=env)
    lines = []
    if tag:
        lines.append(f"case {tag}")
    group_names: list[str] = []
    group_ty: str | None = None
    group_key = None
    for d in lctx.decls:
        if d.aux:
            continue
        ty = mctx.instantiate(d.type) if mctx is not None else d.type
        name = pr.names.get(d.fid, d.name)
        if d.value is not None:
            if group_names:
                lines.append(f"{' '.join(group_names)} : {group_ty}")
                group_names, group_ty, group_key = [], None, None
            lines.append(f"{name} : {pr.fmt(ty, 0, [])} := {pr.fmt(d.value, 0, [])}")
            continue
        if group_names and ty == group_key:
            group_names.append(name)
            continue
        if group_names:
            lines.append(f"{' '.join(group_names)} : {group_ty}")
        group_names, group_ty, group_key = [name], pr.fmt(ty, 0, []), ty
    if group_names:
        lines.append(f"{' '.join(group_names)} : {group_ty}")
    lines.append(f"⊢ {pr.pp(target)}")
    return "\n".join(lines)
