"""Environments, local contexts, metavariable contexts, reduction, definitional equality, type inference.

``infer(..., check=True)`` is the kernel: every declaration and every completed proof state is re-checked from
scratch with it, so a tactic or elaborator bug can at worst make a proof fail, never make a wrong proof pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ElabError
from .expr import (ANY_LEVEL, App, BVar, Const, Decide, DLam, Expr, FVar, INT, Lam, MVar, NAT, Num, Pi, PROP, Sort,
                   Sorry, abstract, fresh_id, get_app_fn_args, instantiate, mk_app, head_beta)


class KernelError(ElabError):
    """A proof term that does not type-check."""


# ---------------------------------------------------------------- environment

@dataclass(slots=True)
class ConstInfo:
    name: str
    type: Expr
    value: Expr | None = None  # definitions unfold by delta; theorems and axioms do not
    kind: str = "axiom"  # 'axiom' | 'def' | 'theorem' | 'ctor' | 'inductive'
    uses_sorry: bool = False


class Env:
    """A base (imported, shared, never mutated) plus the declarations added on top (small, copied)."""

    __slots__ = ("base", "local", "imports", "options")

    def __init__(self, base: dict[str, ConstInfo], local: dict[str, ConstInfo] | None = None,
                 imports: tuple[str, ...] = (), options: dict | None = None) -> None:
        self.base = base
        self.local = local or {}
        self.imports = imports
        self.options = options or {}

    def get(self, name: str) -> ConstInfo | None:
        c = self.local.get(name)
        if c is None:
            c = self.base.get(name)
        return c

    def __contains__(self, name: str) -> bool:
        return name in self.local or name in self.base

    def add(self, info: ConstInfo) -> "Env":
        local = dict(self.local)
        local[info.name] = info
        return Env(self.base, local, self.imports, self.options)

    def with_option(self, key: str, value) -> "Env":
        opts = dict(self.options)
        opts[key] = value
        return Env(self.base, self.local, self.imports, opts)

    @property
    def namespace(self) -> str:
        return self.options.get("namespace", "")

    @property
    def opens(self) -> tuple[str, ...]:
        return self.options.get("open", ())

    @property
    def variables(self) -> tuple:
        """Section variables: (fid, name, type, implicit), types over earlier variables' free variables."""
        return self.options.get("variables", ())

    def resolve_global(self, name: str) -> str | None:
        """The full name `name` denotes: itself, or prefixed by the current or an opened namespace."""
        ns = self.namespace
        while ns:
            full = f"{ns}.{name}"
            if full in self:
                return full
            ns = ns.rpartition(".")[0]
        if name in self:
            return name
        for o in self.opens:
            full = f"{o}.{name}"
            if full in self:
                return full
        return None

    @property
    def mathlib(self) -> bool:
        return any(m == "Mathlib" or m.startswith("Mathlib.") for m in self.imports)


# ---------------------------------------------------------------- local context

@dataclass(frozen=True, slots=True)
class LocalDecl:
    fid: int
    name: str
    type: Expr
    value: Expr | None = None
    inaccessible: bool = False
    aux: bool = False  # the declaration being defined (recursive reference); hidden in goals


class LocalContext:
    __slots__ = ("decls", "by_id")

    def __init__(self, decls: tuple[LocalDecl, ...] = ()) -> None:
        self.decls = decls
        self.by_id = {d.fid: d for d in decls}

    def add(self, d: LocalDecl) -> "LocalContext":
        return LocalContext(self.decls + (d,))

    def get(self, fid: int) -> LocalDecl | None:
        return self.by_id.get(fid)

    def find_name(self, name: str) -> LocalDecl | None:
        for d in reversed(self.decls):
            if d.name == name and not d.inaccessible:
                return d
        return None

    def replace(self, fid: int, new: LocalDecl) -> "LocalContext":
        return LocalContext(tuple(new if d.fid == fid else d for d in self.decls))

    def remove(self, fid: int) -> "LocalContext":
        return LocalContext(tuple(d for d in self.decls if d.fid != fid))


@dataclass(slots=True)
class MVarDecl:
    lctx: LocalContext
    type: Expr
    tag: str = ""
    synthetic: bool = False  # `?_` / goals: not assigned by unification


@dataclass(slots=True)
class MetaCtx:
    decls: dict[int, MVarDecl] = field(default_factory=dict)
    assign: dict[int, Expr] = field(default_factory=dict)

    def copy(self) -> "MetaCtx":
        return MetaCtx(dict(self.decls), dict(self.assign))

    def new_mvar(self, lctx: LocalContext, ty: Expr, *, tag: str = "", synthetic: bool = False) -> MVar:
        mid = fresh_id()
        self.decls[mid] = MVarDecl(lctx, ty, tag, synthetic)
        return MVar(mid)

    def instantiate(self, e: Expr) -> Expr:
        from .expr import instantiate_mvars
        return instantiate_mvars(e, self.assign)


# ---------------------------------------------------------------- reduction

ARITH = {"HAdd.hAdd": lambda a, b: a + b, "HMul.hMul": lambda a, b: a * b, "HSub.hSub": lambda a, b: a - b,
         "HDiv.hDiv": None, "HMod.hMod": None,
         "HPow.hPow": lambda a, b: a ** b if 0 <= b and abs(a).bit_length() * b <= MAX_POW_BITS else None}
MAX_POW_BITS = 1 << 20  # literal powers are evaluated only up to a million bits (bigger ones stay symbolic)
NAT_UNFOLD_LIMIT = 256  # literal second arguments up to this unfold symbolically (x + 3 ≡ ((x + 0).succ.succ).succ)
REL = {"LT.lt": lambda a, b: a < b, "LE.le": lambda a, b: a <= b}


def _num_value(e: Expr) -> int | None:
    return e.value if type(e) is Num else None


def _ediv(a: int, b: int) -> int:
    q = a // b
    if a - q * b < 0:
        q += 1 if b < 0 else -1
    return q if a - q * b >= 0 else q


def _emod(a: int, b: int) -> int:
    if b == 0:
        return a
    return a - b * _ediv(a, b)


class Reducer:
    """whnf / definitional equality / inference over one environment and metavariable context."""

    def __init__(self, env: Env, mctx: MetaCtx) -> None:
        self.env = env
        self.mctx = mctx

    # -- whnf
    def whnf_core(self, e: Expr) -> Expr:
        while True:
            t = type(e)
            if t is MVar:
                v = self.mctx.assign.get(e.id)
                if v is None:
                    return e
                e = v
                continue
            if t is App:
                fn, args = get_app_fn_args(e)
                if type(fn) is MVar and fn.id in self.mctx.assign:
                    e = mk_app(self.mctx.assign[fn.id], *args)
                    continue
                if type(fn) is Lam:
                    e = head_beta(e)
                    continue
                if type(fn) is Const:
                    r = self.eval_builtin(fn.name, args)
                    if r is not None:
                        e = r
                        continue
                return e
            return e

    def eval_builtin(self, name: str, args: list[Expr]) -> Expr | None:
        n = len(args)
        if name in ARITH and n == 3:
            a = self.whnf(args[1])
            b = self.whnf(args[2])
            if type(a) is Num and type(b) is Num:
                ty = self.whnf(args[0])
                tname = ty.name if type(ty) is Const else None
                if tname not in ("Nat", "Int"):
                    return None
                x, y = a.value, b.value
                if name == "HDiv.hDiv":
                    v = (x // y if y else 0) if tname == "Nat" else (_ediv(x, y) if y else 0)
                elif name == "HMod.hMod":
                    v = (x % y if y else x) if tname == "Nat" else _emod(x, y)
                elif name == "HSub.hSub" and tname == "Nat":
                    v = max(0, x - y)
                else:
                    v = ARITH[name](x, y)
                    if v is None:
                        return None
                return Num(v, ty)
            if (type(b) is Num and 0 <= b.value <= NAT_UNFOLD_LIMIT and name in ("HAdd.hAdd", "HMul.hMul", "HSub.hSub")
                    and self.whnf(args[0]) == NAT):
                return self._nat_recursion(name, args[1], b.value)
            return None
        if name == "Neg.neg" and n == 2:
            a = self.whnf(args[1])
            if type(a) is Num:
                return Num(-a.value, a.ty)
            return None
        if name == "Nat.succ" and n == 1:
            a = self._inst_head(args[0])
            if type(a) is Num:
                return Num(a.value + 1, NAT)
            return None
        if name == "Nat.pred" and n == 1:
            a = self.whnf(args[0])
            if type(a) is Num:
                return Num(max(0, a.value - 1), NAT)
            fa, aa = get_app_fn_args(a)
            if type(fa) is Const and fa.name == "Nat.succ" and len(aa) == 1:
                return aa[0]
            return None
        if name == "Int.natAbs" and n == 1:
            a = self.whnf(args[0])
            if type(a) is Num:
                return Num(abs(a.value), NAT)
            return None
        if name == "Int.ofNat" and n == 1:
            a = self.whnf(args[0])
            if type(a) is Num:
                return Num(a.value, INT)
            return None
        return None

    def _nat_recursion(self, name: str, x: Expr, k: int) -> Expr | None:
        """One step of Nat.add/mul/sub's recursion on a literal second argument (x + 0 = x, x + (k+1) = (x + k).succ,
        x * 0 = 0, x * (k+1) = x * k + x, x - 0 = x, x - (k+1) = (x - k).pred), as Lean's definitions reduce."""
        if name == "HAdd.hAdd":
            return x if k == 0 else App(Const("Nat.succ"), mk_app(Const(name), NAT, x, Num(k - 1, NAT)))
        if name == "HMul.hMul":
            if k == 0:
                return Num(0, NAT)
            return mk_app(Const("HAdd.hAdd"), NAT, mk_app(Const(name), NAT, x, Num(k - 1, NAT)), x)
        return x if k == 0 else App(Const("Nat.pred"), mk_app(Const(name), NAT, x, Num(k - 1, NAT)))

    def unfold(self, e: Expr) -> Expr | None:
        fn, args = get_app_fn_args(e)
        if type(fn) is Const:
            c = self.env.get(fn.name)
            if c is not None and c.value is not None and c.kind == "def":
                return mk_app(c.value, *args)
        return None

    def whnf(self, e: Expr) -> Expr:
        while True:
            e = self.whnf_core(e)
            u = self.unfold(e)
            if u is None:
                return e
            e = u

    # -- definitional equality
    def is_def_eq(self, a: Expr, b: Expr) -> bool:
        saved = dict(self.mctx.assign)
        ok = self._def_eq(a, b, 0)
        if not ok:
            self.mctx.assign.clear()
            self.mctx.assign.update(saved)
        return ok

    def _assign(self, m: MVar, v: Expr) -> bool:
        v = self.mctx.instantiate(v)
        if any(type(x) is MVar and x.id == m.id for x in _walk(v)):
            return False
        decl = self.mctx.decls.get(m.id)
        if decl is not None:
            for x in _walk(v):
                if type(x) is FVar and decl.lctx.get(x.id) is None:
                    return False
        self.mctx.assign[m.id] = v
        return True

    def _def_eq(self, a: Expr, b: Expr, depth: int) -> bool:
        if a is b or a == b:
            return True
        if depth > 200:
            return False
        a = self._inst_head(a)
        b = self._inst_head(b)
        if a == b:
            return True
        ta, tb = type(a), type(b)
        if ta is MVar and self._assignable(a):
            return self._assign(a, b)
        if tb is MVar and self._assignable(b):
            return self._assign(b, a)
        if ta is Sort and tb is Sort:
            return a.level == b.level or a.level == ANY_LEVEL or b.level == ANY_LEVEL
        if ta is Pi and tb is Pi or ta is Lam and tb is Lam:
            if not self._def_eq(a.ty, b.ty, depth + 1):
                return False
            fid = fresh_id()
            x = FVar(fid)
            return self._def_eq(instantiate(a.body, x), instantiate(b.body, x), depth + 1)
        if ta is Num and tb is Num:
            return a.value == b.value and self._def_eq(a.ty, b.ty, depth + 1)
        if ta is Sorry and tb is Sorry:
            return self._def_eq(a.ty, b.ty, depth + 1)
        if ta is App and tb is App:
            fa, aa = get_app_fn_args(a)
            fb, ab = get_app_fn_args(b)
            if len(aa) == len(ab) and (fa == fb or (type(fa) is MVar or type(fb) is MVar)):
                saved = dict(self.mctx.assign)
                if self._def_eq(fa, fb, depth + 1) and all(self._def_eq(x, y, depth + 1) for x, y in zip(aa, ab)):
                    return True
                self.mctx.assign.clear()
                self.mctx.assign.update(saved)
        # eta for lambdas
        if ta is Lam and tb is not Lam:
            fid = fresh_id()
            return self._def_eq(instantiate(a.body, FVar(fid)), App(b, FVar(fid)), depth + 1)
        if tb is Lam and ta is not Lam:
            fid = fresh_id()
            return self._def_eq(App(a, FVar(fid)), instantiate(b.body, FVar(fid)), depth + 1)
        # reduce and retry
        a2 = self.whnf_core(a)
        b2 = self.whnf_core(b)
        if a2 != a or b2 != b:
            return self._def_eq(a2, b2, depth + 1)
        ua = self.unfold(a)
        ub = self.unfold(b)
        if ua is not None or ub is not None:
            return self._def_eq(ua if ua is not None else a, ub if ub is not None else b, depth + 1)
        # Nat literal against successor
        if ta is Num and tb is App:
            return self._num_vs_app(a, b, depth)
        if tb is Num and ta is App:
            return self._num_vs_app(b, a, depth)
        return False

    def _num_vs_app(self, n: Num, e: Expr, depth: int) -> bool:
        fn, args = get_app_fn_args(e)
        if type(fn) is Const and fn.name == "Nat.succ" and len(args) == 1 and n.value > 0:
            return self._def_eq(Num(n.value - 1, NAT), args[0], depth + 1)
        if type(fn) is Const and fn.name == "HAdd.hAdd" and len(args) == 3:
            rhs = self.whnf(args[2])
            if type(rhs) is Num and 0 <= rhs.value <= n.value and self.whnf(args[0]) == NAT:
                return self._def_eq(Num(n.value - rhs.value, NAT), args[1], depth + 1)
        return False

    def _assignable(self, m: MVar) -> bool:
        if m.id in self.mctx.assign:
            return False
        d = self.mctx.decls.get(m.id)
        return d is None or not d.synthetic

    def _inst_head(self, e: Expr) -> Expr:
        while type(e) is MVar and e.id in self.mctx.assign:
            e = self.mctx.assign[e.id]
        if type(e) is App:
            fn, args = get_app_fn_args(e)
            if type(fn) is MVar and fn.id in self.mctx.assign:
                return self.whnf_core(e)
        return e

    # -- inference
    def infer(self, e: Expr, lctx: LocalContext, *, check: bool = False) -> Expr:
        t = type(e)
        if t is FVar:
            d = lctx.get(e.id)
            if d is None:
                raise KernelError(f"(kernel) declaration has free variables '[anonymous]', expression: \n  _fvar.{e.id}")
            return d.type
        if t is MVar:
            d = self.mctx.decls.get(e.id)
            if d is None:
                raise KernelError(f"unknown metavariable '?m.{e.id}'")
            return d.type
        if t is Sort:
            return Sort(ANY_LEVEL if e.level == ANY_LEVEL else e.level + 1)
        if t is Const:
            c = self.env.get(e.name)
            if c is None:
                raise KernelError(f"(kernel) unknown constant '{e.name}'")
            return c.type
        if t is Num:
            if check:
                ty = self.whnf(e.ty)
                if ty not in (NAT, INT) or (ty == NAT and e.value < 0):
                    raise KernelError("(kernel) ill-typed numeral")
            return e.ty
        if t is Sorry:
            return e.ty
        if t is Decide:
            if check:
                from .decide import Undecidable, evaluate
                try:
                    v = evaluate(self, e.prop, lctx)
                except Undecidable as err:
                    raise KernelError("(kernel) decide: proposition is not decidable by evaluation") from err
                if v is not True:
                    raise KernelError("(kernel) decide: proposition did not evaluate to true")
            return e.prop
        if t is App:
            fn, args = get_app_fn_args(e)
            fty = self.infer(fn, lctx, check=check)
            for a in args:
                fty = self.whnf(fty)
                if type(fty) is not Pi:
                    raise KernelError("(kernel) function expected")
                if check:
                    aty = self.infer(a, lctx, check=True)
                    if not self.is_def_eq(aty, fty.ty):
                        raise KernelError("(kernel) application type mismatch")
                fty = instantiate(fty.body, a)
            return fty
        if t is Lam or t is Pi:
            if check:
                self.ensure_sort(e.ty, lctx, check)
            fid = fresh_id()
            lctx2 = lctx.add(LocalDecl(fid, e.name, e.ty))
            body = instantiate(e.body, FVar(fid))
            if t is Lam:
                bty = self.infer(body, lctx2, check=check)
                return Pi(e.name, e.ty, abstract(bty, fid), e.implicit)
            s1 = self.ensure_sort(e.ty, lctx, check)
            s2 = self.ensure_sort(body, lctx2, check)
            if s2 == 0:
                return PROP
            if s1 == ANY_LEVEL or s2 == ANY_LEVEL:
                return Sort(ANY_LEVEL)
            return Sort(max(s1, s2, 1))
        if t is DLam:
            raise KernelError("(kernel) unexpected delayed abstraction")
        if t is BVar:
            raise KernelError("(kernel) loose bound variable")
        raise KernelError(f"(kernel) unknown expression {e!r}")

    def ensure_sort(self, e: Expr, lctx: LocalContext, check: bool) -> int:
        ty = self.whnf(self.infer(e, lctx, check=check))
        if type(ty) is not Sort:
            if type(ty) is MVar:
                return 1
            raise KernelError("(kernel) type expected")
        return ty.level

    def is_prop(self, ty: Expr, lctx: LocalContext) -> bool:
        try:
            s = self.whnf(self.infer(ty, lctx))
        except ElabError:
            return False
        return s == PROP


def _walk(e: Expr):
    from .expr import subterms
    return subterms(e)
