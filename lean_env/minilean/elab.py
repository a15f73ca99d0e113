"""Elaboration of surface syntax into core expressions: names, implicit arguments, unification, notation."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ElabError
from .expr import (ANY_LEVEL, App, BVar, BOOL, Const, DLam, Expr, FVar, INT, Lam, MVar, NAT, Num, PROP, Pi, Sort, Sorry,
                   TYPE, abstract, abstract_term, fresh_id, fvars_of, get_app_fn_args, instantiate, mk_app)
from .kernel import Env, LocalContext, LocalDecl, MetaCtx, Reducer
from .pretty import Printer, pp_goal
from .syntax import Binder, Syn

ARITH_OPS = {"+": "HAdd.hAdd", "-": "HSub.hSub", "*": "HMul.hMul", "/": "HDiv.hDiv", "%": "HMod.hMod",
             "^": "HPow.hPow"}
ARITH_CLASS = {"+": "HAdd", "-": "HSub", "*": "HMul", "/": "HDiv", "%": "HMod", "^": "HPow"}
REL_OPS = {"<": "LT.lt", "≤": "LE.le", ">": "GT.gt", "≥": "GE.ge"}
PROP_OPS = {"∧": "And", "∨": "Or", "↔": "Iff"}
PROJ_ALIASES = {("And", "1"): "left", ("And", "2"): "right", ("Iff", "1"): "mp", ("Iff", "2"): "mpr"}


@dataclass(slots=True)
class Msg:
    severity: str
    start: int | None
    end: int | None
    text: str


@dataclass(slots=True)
class SorryRec:
    """A `sorry` met while elaborating: its goal (context, type, case tag) and source range."""

    lctx: LocalContext
    type: Expr
    tag: str
    start: int | None
    end: int | None
    tactic: bool = False  # the `sorry` tactic (listed before term sorries, as the repl's info-tree walk does)


@dataclass(slots=True)
class PendingBy:
    mvar: MVar
    seq: Syn
    by_syn: Syn


def repl_order(recs: list["SorryRec"]) -> list["SorryRec"]:
    """The order the repl lists sorries in: tactic sorries first, then term sorries (each in source order)."""
    return [r for r in recs if r.tactic] + [r for r in recs if not r.tactic]


@dataclass(slots=True)
class TacticRecord:
    """One substantive tactic as the repl's `allTactics` reports it: syntax, goals and metavariables before."""

    syn: Syn
    goals: list[int]
    mctx_before: object
    used_constants: list[str] = field(default_factory=list)


@dataclass
class ElabState:
    """Everything one elaboration run accumulates (messages, sorries, holes, nested tactic blocks)."""

    messages: list[Msg] = field(default_factory=list)
    sorries: list[SorryRec] = field(default_factory=list)
    numerals: list[int] = field(default_factory=list)
    tactic_log: list | None = None  # with `allTactics`: TacticRecord per substantive tactic run
    holes: list[tuple[int, Syn]] = field(default_factory=list)
    pending: list[PendingBy] = field(default_factory=list)


class Elaborator:
    def __init__(self, env: Env, mctx: MetaCtx, *, state: ElabState | None = None) -> None:
        self.env = env
        self.mctx = mctx
        self.red = Reducer(env, mctx)
        self.st = state or ElabState()
        self.source: str | None = None
        self.bare_ident_mode = False
        self.calc_prev: Expr | None = None  # `apply c`: a bare constant keeps its implicit arguments

    # -- printing helpers
    def pp(self, e: Expr, lctx: LocalContext | None = None) -> str:
        return Printer(lctx, self.mctx, mathlib=self.env.mathlib, env=self.env).pp(e)

    def pp_arg(self, e: Expr, lctx: LocalContext | None = None) -> str:
        """`e` as an application argument (parenthesised unless atomic)."""
        pr = Printer(lctx, self.mctx, mathlib=self.env.mathlib, env=self.env)
        return pr.fmt(self.mctx.instantiate(e), 1025, [])

    def pp_goal(self, mid: int) -> str:
        d = self.mctx.decls[mid]
        return pp_goal(d.lctx, d.type, self.mctx, d.tag, mathlib=self.env.mathlib, env=self.env)

    def error(self, msg: str, syn: Syn | None) -> ElabError:
        return ElabError(msg, syn.start if syn else None, syn.end if syn else None)

    def log(self, err: ElabError) -> None:
        self.st.messages.append(Msg("error", err.start, err.end, err.message))

    # -- utilities
    def whnf(self, e: Expr) -> Expr:
        return self.red.whnf(e)

    def infer(self, e: Expr, lctx: LocalContext) -> Expr:
        return self.red.infer(e, lctx)

    def unify(self, a: Expr, b: Expr) -> bool:
        return self.red.is_def_eq(a, b)

    def new_mvar(self, lctx: LocalContext, ty: Expr, **kw) -> MVar:
        return self.mctx.new_mvar(lctx, ty, **kw)

    def type_of_type(self, ty: Expr, lctx: LocalContext) -> str:
        try:
            s = self.whnf(self.infer(ty, lctx))
        except ElabError:
            return "?"
        return self.pp(s, lctx)

    def _has_type_pair(self, ety: Expr, expected: Expr, lctx: LocalContext) -> tuple[str, str]:
        a, b = self.pp(ety, lctx), self.pp(expected, lctx)
        if a == b:
            a, b = f"{a} : {self.type_of_type(ety, lctx)}", f"{b} : {self.type_of_type(expected, lctx)}"
        return a, b

    def mismatch(self, e: Expr, ety: Expr, expected: Expr, lctx: LocalContext, syn: Syn | None) -> ElabError:
        a, b = self._has_type_pair(ety, expected, lctx)
        return self.error(f"Type mismatch\n  {self.pp(e, lctx)}\nhas type\n  {a}\nbut is expected to have type\n  {b}",
                          syn)

    def ensure_type(self, e: Expr, expected: Expr | None, lctx: LocalContext, syn: Syn | None) -> Expr:
        if expected is None:
            return e
        ety = self.infer(e, lctx)
        if self.unify(ety, expected):
            return e
        coerced = self.coerce(e, ety, expected)
        if coerced is not None:
            return coerced
        raise self.mismatch(e, ety, expected, lctx, syn)

    def coerce(self, e: Expr, ety: Expr, expected: Expr) -> Expr | None:
        """Lean's coercions inside the fragment: Bool → Prop (`b = true`) and Nat → Int (`↑n`)."""
        want, have = self.whnf(expected), self.whnf(ety)
        if want == PROP and have == BOOL:
            return mk_app(Const("Eq"), BOOL, e, Const("Bool.true"))
        if want == INT and have == NAT:
            return App(Const("Int.ofNat"), e)
        return None

    # -- names
    def resolve(self, name: str, lctx: LocalContext, syn: Syn) -> Expr:
        d = _find_local(lctx, name)
        if d is not None:
            return FVar(d.fid)
        full = self.env.resolve_global(name)
        if full is not None:
            return Const(full)
        if self.env.mathlib and name in ("ℕ", "ℤ"):
            return NAT if name == "ℕ" else INT
        if name in ("true", "false"):
            return Const(f"Bool.{name}")
        if name == "Prop":
            return PROP
        if name == "Type":
            return TYPE
        parts = name.split(".")
        for k in range(len(parts) - 1, 0, -1):
            head = ".".join(parts[:k])
            d = _find_local(lctx, head)
            full = self.env.resolve_global(head) if d is None else None
            base: Expr | None = FVar(d.fid) if d is not None else (Const(full) if full is not None else None)
            if base is not None:
                e = base
                for f in parts[k:]:
                    e = self.project(e, f, lctx, syn)
                return e
        raise self.error(f"Unknown identifier `{name}`", syn)

    def project(self, e: Expr, fld: str, lctx: LocalContext, syn: Syn) -> Expr:
        ty = self.red.whnf_core(self.mctx.instantiate(self.infer(e, lctx)))
        fn, args = get_app_fn_args(ty)
        if type(fn) is not Const or self.env.get(f"{fn.name}.{PROJ_ALIASES.get((fn.name, fld), fld)}") is None:
            ty = self.whnf(ty)
            fn, args = get_app_fn_args(ty)
        if type(fn) is not Const:
            raise self.error(f"invalid field notation, type is not of the form (C ...) where C is a constant\n  "
                             f"{self.pp(e, lctx)}\nhas type\n  {self.pp(ty, lctx)}", syn)
        tname = fn.name
        fname = PROJ_ALIASES.get((tname, fld), fld)
        full = f"{tname}.{fname}"
        c = self.env.get(full)
        if c is None:
            if fld.isdigit():
                raise self.error(f"invalid projection, structure expected\n  {self.pp(e, lctx)}\nhas type\n  "
                                 f"{self.pp(ty, lctx)}", syn)
            raise self.error(f"Invalid field `{fld}`: The environment does not contain `{full}`\n  "
                             f"{self.pp(e, lctx)}\nhas type\n  {self.pp(ty, lctx)}", syn)
        # apply `full` with implicits as mvars and `e` as the first explicit argument of type `tname ...`
        f: Expr = Const(full)
        fty = c.type
        while True:
            fty_w = self.whnf(fty)
            if type(fty_w) is not Pi:
                raise self.error(f"invalid field notation `{fld}`", syn)
            if fty_w.implicit:
                m = self.new_mvar(lctx, fty_w.ty)
                f = App(f, m)
                fty = instantiate(fty_w.body, m)
                continue
            if not self.unify(fty_w.ty, ty):
                raise self.mismatch(e, ty, fty_w.ty, lctx, syn)
            return App(f, e)

    # -- terms
    def elab(self, s: Syn, expected: Expr | None, lctx: LocalContext) -> Expr:
        k = s.kind
        if k == "paren":
            return self.elab(s.args[0], expected, lctx)
        if k == "app" and s.args[0].kind == "ident" and s.args[0].args[0] == "Sort":
            return Sort(ANY_LEVEL)
        if k in ("ident", "app", "explicit", "proj"):
            return self.elab_app(s, expected, lctx)
        if k == "num":
            return self.elab_num(s, expected, lctx)
        if k == "sorry":
            ty = expected if expected is not None else self.new_mvar(lctx, Sort(ANY_LEVEL))
            self.st.sorries.append(SorryRec(lctx, ty, "", s.start, s.end))
            return Sorry(ty, False, fresh_id())
        if k == "hole":
            ty = expected if expected is not None else self.new_mvar(lctx, Sort(ANY_LEVEL))
            m = self.new_mvar(lctx, ty)
            self.st.holes.append((m.id, s))
            return m
        if k == "synth_hole":
            name = s.args[0]
            if name != "_":  # `?x` names an existing metavariable tagged x, if there is one
                for mid in reversed(list(self.mctx.decls)):
                    d = self.mctx.decls[mid]
                    if d.tag == name and mid not in self.mctx.assign:
                        if expected is not None and not self.unify(d.type, expected):
                            raise self.mismatch(MVar(mid), d.type, expected, lctx, s)
                        return MVar(mid)
            ty = expected if expected is not None else self.new_mvar(lctx, Sort(ANY_LEVEL))
            return self.new_mvar(lctx, ty, tag="" if name == "_" else name, synthetic=True)
        if k == "by":
            if expected is None:
                raise self.error("invalid 'by' tactic, expected type has not been provided", s)
            m = self.new_mvar(lctx, expected, synthetic=True)
            self.st.pending.append(PendingBy(m, s.args[0], s))
            return m
        if k == "unit":
            return self.ensure_type(Const("Unit.unit"), expected, lctx, s)
        if k == "ascribe":
            ty = self.elab_type(s.args[1], lctx)
            e = self.elab(s.args[0], ty, lctx)
            return self.ensure_type(e, expected, lctx, s)
        if k == "binop":
            return self.mctx.instantiate(self.elab_binop(s, expected, lctx))
        if k == "not":
            a = self.elab(s.args[0], PROP, lctx)
            return self.ensure_type(App(Const("Not"), a), expected, lctx, s)
        if k == "neg":
            a = self.elab_arith_operand(s.args[0], expected, lctx)
            ty = self.infer(a, lctx)
            self.check_arith_type(ty, "Neg", s, lctx, unary=True)
            return self.ensure_type(mk_app(Const("Neg.neg"), ty, a), expected, lctx, s)
        if k in ("forall", "exists"):
            return self.elab_binder_term(s, expected, lctx)
        if k == "fun":
            return self.elab_fun(s, expected, lctx)
        if k == "anon":
            return self.elab_anon(s, expected, lctx)
        if k == "show":
            ty = self.elab_type(s.args[0], lctx)
            if expected is not None and not self.unify(ty, expected):
                raise self.mismatch(Const("_"), ty, expected, lctx, s)
            if s.args[1] is None:
                raise self.error("`show T` without `from` is not supported in term mode", s)
            return self.elab(s.args[1], ty, lctx)
        if k == "have_term":
            (name, ty_s, val_s, body_s) = s.args
            ty = self.elab_type(ty_s, lctx) if ty_s is not None else None
            val = self.elab(val_s, ty, lctx)
            if ty is None:
                ty = self.infer(val, lctx)
            fid = fresh_id()
            nm = name[0] if name else "this"
            lctx2 = lctx.add(LocalDecl(fid, nm, ty))
            body = self.elab(body_s, expected, lctx2)
            return App(DLam(fid, nm, ty, body), val)
        if k == "calc":
            return self.ensure_type(self.elab_calc(s, lctx), expected, lctx, s)
        if k == "calc_prev":
            return self.calc_prev
        if k == "cdot":
            raise self.error("`·` placeholders are not supported by MiniLean", s)
        if k == "tuple":
            raise self.error("tuples are not supported by MiniLean", s)
        raise self.error(f"unsupported syntax `{k}`", s)

    def elab_calc(self, s: Syn, lctx: LocalContext) -> Expr:
        """A `calc` chain: each step `_ R c := proof` continues from the previous right-hand side."""
        rel_acc: tuple | None = None  # (name, type, lhs, rhs, proof)
        for rel_s, proof_s in s.args[0]:
            if rel_acc is not None and rel_s.kind == "binop" and rel_s.args[1].kind == "hole":
                op, _, rhs_s = rel_s.args
                rel_s = Syn("binop", rel_s.start, rel_s.end, (op, Syn("calc_prev", rel_s.start, rel_s.start), rhs_s))
                self.calc_prev = rel_acc[3]
            rel = self.mctx.instantiate(self.elab_type(rel_s, lctx))
            self.default_numerals()
            rel = self.mctx.instantiate(rel)
            parts = self._relation(rel)
            if parts is None:
                raise self.error(f"invalid 'calc' step, relation expected\n  {self.pp(rel, lctx)}", rel_s)
            if rel_acc is not None and not self.unify(parts[2], rel_acc[3]):
                raise self.error(f"invalid 'calc' step, left-hand side is\n  {self.pp(parts[2], lctx)}\nbut previous "
                                 f"right-hand side is\n  {self.pp(rel_acc[3], lctx)}", rel_s)
            proof = self.elab(proof_s, rel, lctx)
            step = (*parts, proof)
            rel_acc = step if rel_acc is None else self._trans(rel_acc, step, lctx, rel_s)
        return rel_acc[4]

    def _relation(self, rel: Expr):
        fn, args = get_app_fn_args(rel)
        if type(fn) is Const and fn.name in ("Eq", "LT.lt", "LE.le", "Ne") and len(args) == 3:
            return fn.name, args[0], args[1], args[2]
        if type(fn) is Const and fn.name in ("GT.gt", "GE.ge") and len(args) == 3:
            return fn.name, args[0], args[1], args[2]
        if type(fn) is Const and fn.name == "Iff" and len(args) == 2:
            return "Iff", PROP, args[0], args[1]
        return None

    def _trans(self, a: tuple, b: tuple, lctx: LocalContext, s: Syn) -> tuple:
        r1, ty, x, y, p1 = a
        r2, _, _, z, p2 = b
        if r1 == "Eq" and r2 == "Eq":
            return "Eq", ty, x, z, mk_app(Const("Eq.trans"), ty, x, y, z, p1, p2)
        if r1 == "Iff" and r2 == "Iff":
            return "Iff", ty, x, z, mk_app(Const("Iff.trans"), x, y, z, p1, p2)
        if r1 == "Eq":
            target = self._mk_rel(r2, ty, x, z)
            motive = Lam("_a", ty, self._mk_rel(r2, ty, BVar(0), z))
            eq = mk_app(Const("congrArg"), ty, PROP, x, y, motive, p1)
            return r2, ty, x, z, mk_app(Const("Eq.mpr"), target, self._mk_rel(r2, ty, y, z), eq, p2)
        if r2 == "Eq":
            motive = Lam("_a", ty, self._mk_rel(r1, ty, x, BVar(0)))
            eq = mk_app(Const("congrArg"), ty, PROP, y, z, motive, p2)
            return r1, ty, x, z, mk_app(Const("Eq.mp"), self._mk_rel(r1, ty, x, y), self._mk_rel(r1, ty, x, z), eq, p1)
        t = self.whnf(ty)
        prefix = "Nat" if t == NAT else "Int" if t == INT else None
        lemma = {("LT.lt", "LT.lt"): ("LT.lt", "lt_trans"), ("LE.le", "LE.le"): ("LE.le", "le_trans"),
                 ("LT.lt", "LE.le"): ("LT.lt", "lt_of_lt_of_le"),
                 ("LE.le", "LT.lt"): ("LT.lt", "lt_of_le_of_lt")}.get((r1, r2))
        if prefix is None or lemma is None:
            raise self.error(f"invalid 'calc' step, failed to synthesize `Trans` instance for the relations "
                             f"`{r1}` and `{r2}`", s)
        rel, name = lemma
        return rel, ty, x, z, mk_app(Const(f"{prefix}.{name}"), x, y, z, p1, p2)

    def _mk_rel(self, r: str, ty: Expr, a: Expr, b: Expr) -> Expr:
        return mk_app(Const(r), ty, a, b)

    def elab_type(self, s: Syn, lctx: LocalContext) -> Expr:
        e = self.elab(s, None, lctx)
        ty = self.whnf(self.infer(e, lctx))
        if type(ty) is Sort:
            return e
        if type(ty) is MVar:
            return e
        if ty == BOOL:
            return mk_app(Const("Eq"), BOOL, e, Const("Bool.true"))
        raise self.error(f"type expected, got\n  ({self.pp(e, lctx)} : {self.pp(ty, lctx)})", s)

    def elab_num(self, s: Syn, expected: Expr | None, lctx: LocalContext) -> Expr:
        n = s.args[0]
        if expected is not None:
            ty = self.whnf(expected)
            if ty in (NAT, INT):
                return Num(n, ty)
            if type(ty) is MVar:
                self.st.numerals.append(ty.id)
                return Num(n, ty)
            raise self.error(
                f"failed to synthesize\n  OfNat {self.pp_arg(expected, lctx)} {n}\nnumerals are polymorphic in Lean, "
                f"but the numeral `{n}` cannot be used in a context where the expected type is\n  "
                f"{self.pp(expected, lctx)}\ndue to the absence of the instance above", s)
        m = self.new_mvar(lctx, TYPE)
        self.st.numerals.append(m.id)
        return Num(n, m)

    def check_arith_type(self, ty: Expr, cls: str, s: Syn, lctx: LocalContext, *, unary: bool = False) -> None:
        t = self.whnf(ty)
        if type(t) is MVar:
            self.st.numerals.append(t.id)
            return
        if t in (NAT, INT) and not (cls == "Neg" and t == NAT):
            return
        shown = self.pp_arg(ty, lctx)
        if unary:
            raise self.error(f"failed to synthesize\n  {cls} {shown}", s)
        raise self.error(f"failed to synthesize\n  {cls} {shown} {shown} ?m", s)

    def elab_arith_operand(self, s: Syn, expected: Expr | None, lctx: LocalContext) -> Expr:
        if expected is not None:
            t = self.whnf(expected)
            if t in (NAT, INT) or type(t) is MVar:
                return self.elab(s, expected, lctx)
        return self.elab(s, None, lctx)

    def elab_pair(self, a_s: Syn, b_s: Syn, lctx: LocalContext, hint: Expr | None = None) -> tuple[Expr, Expr, Expr]:
        """Elaborate two operands of one common type (numerals take the other side's type)."""
        if a_s.kind == "num" and b_s.kind != "num":
            b = self.elab(b_s, hint, lctx)
            ty = self.infer(b, lctx)
            a = self.elab(a_s, ty, lctx)
        else:
            a = self.elab(a_s, hint, lctx)
            ty = self.infer(a, lctx)
            b = self.elab(b_s, ty, lctx)
            bty = self.infer(b, lctx)
            if not self.unify(bty, ty):
                raise self.mismatch(b, bty, ty, lctx, b_s)
        return a, b, ty

    def elab_binop(self, s: Syn, expected: Expr | None, lctx: LocalContext) -> Expr:
        op, a_s, b_s = s.args
        if op == "→":
            a = self.elab_type(a_s, lctx)
            fid = fresh_id()
            b = self.elab_type(b_s, lctx.add(LocalDecl(fid, "a", a, inaccessible=True)))
            return self.ensure_type(Pi("a✝", a, abstract(b, fid)), expected, lctx, s)
        if op in PROP_OPS:
            a = self.elab(a_s, PROP, lctx)
            b = self.elab(b_s, PROP, lctx)
            return self.ensure_type(mk_app(Const(PROP_OPS[op]), a, b), expected, lctx, s)
        if op in ("=", "≠"):
            a, b, ty = self.elab_pair(a_s, b_s, lctx)
            return self.ensure_type(mk_app(Const("Eq" if op == "=" else "Ne"), ty, a, b), expected, lctx, s)
        if op in REL_OPS:
            a, b, ty = self.elab_pair(a_s, b_s, lctx)
            t = self.whnf(ty)
            if type(t) is MVar:
                self.st.numerals.append(t.id)
            elif t not in (NAT, INT) and type(t) is not FVar:
                cls = "LT" if op in ("<", ">") else "LE"
                raise self.error(f"failed to synthesize\n  {cls} {self.pp_arg(ty, lctx)}", s)
            return self.ensure_type(mk_app(Const(REL_OPS[op]), ty, a, b), expected, lctx, s)
        if op == "^":
            a = self.elab_arith_operand(a_s, expected, lctx)
            ty = self.infer(a, lctx)
            self.check_arith_type(ty, "HPow", s, lctx)
            b = self.elab(b_s, NAT, lctx)
            return self.ensure_type(mk_app(Const("HPow.hPow"), ty, a, b), expected, lctx, s)
        if op in ARITH_OPS:
            hint = None
            if expected is not None and self.whnf(expected) in (NAT, INT):
                hint = expected
            a, b, ty = self.elab_pair(a_s, b_s, lctx, hint)
            self.check_arith_type(ty, ARITH_CLASS[op], s, lctx)
            return self.ensure_type(mk_app(Const(ARITH_OPS[op]), ty, a, b), expected, lctx, s)
        if op == "▸":
            return self.elab_subst(a_s, b_s, expected, lctx, s)
        if op == "∘":
            raise self.error("function composition is not supported by MiniLean", s)
        raise self.error(f"unsupported operator `{op}`", s)

    def elab_subst(self, h_s: Syn, e_s: Syn, expected: Expr | None, lctx: LocalContext, s: Syn) -> Expr:
        """`h ▸ e` with `h : a = b`: rewrite the expected type (b by a, else a by b), or e's type (a by b)."""
        h = self.elab(h_s, None, lctx)
        self.default_numerals()
        hty = self.mctx.instantiate(self.whnf(self.infer(h, lctx)))
        fn, args = get_app_fn_args(hty)
        if type(fn) is Const and fn.name == "Iff" and len(args) == 2:
            h = mk_app(Const("propext"), args[0], args[1], h)
            ty, a, b = PROP, args[0], args[1]
        elif type(fn) is Const and fn.name == "Eq" and len(args) == 3:
            ty, a, b = args
        else:
            raise self.error(f"invalid `▸` notation, argument\n  {self.pp(h, lctx)}\nhas type\n  {self.pp(hty, lctx)}\n"
                             f"equality expected", h_s)
        fid = fresh_id()
        if expected is not None:
            target = self.mctx.instantiate(expected)
            for src, dst, pf in ((b, a, h), (a, b, mk_app(Const("Eq.symm"), ty, a, b, h))):
                body = abstract_term(target, src, fid)
                if fid not in fvars_of(body):
                    continue
                motive = Lam("x", ty, abstract(body, fid))
                e = self.elab(e_s, instantiate(motive.body, dst), lctx)
                eq = mk_app(Const("congrArg"), ty, PROP, dst, src, motive, pf)
                return mk_app(Const("Eq.mp"), instantiate(motive.body, dst), target, eq, e)
            raise self.error(f"invalid `▸` notation, the equality\n  {self.pp(hty, lctx)}\ndoes not rewrite the "
                             f"expected type\n  {self.pp(target, lctx)}", s)
        e = self.elab(e_s, None, lctx)
        ety = self.mctx.instantiate(self.infer(e, lctx))
        body = abstract_term(ety, a, fid)
        if fid not in fvars_of(body):
            raise self.error(f"invalid `▸` notation, the equality\n  {self.pp(hty, lctx)}\ndoes not rewrite\n  "
                             f"{self.pp(ety, lctx)}", s)
        motive = Lam("x", ty, abstract(body, fid))
        eq = mk_app(Const("congrArg"), ty, PROP, a, b, motive, h)
        return mk_app(Const("Eq.mp"), ety, instantiate(motive.body, b), eq, e)

    def elab_binders(self, binders: list[Binder], lctx: LocalContext, *, expected_dom: list[Expr] | None = None
                     ) -> tuple[LocalContext, list[tuple[int, str, Expr, bool]]]:
        out = []
        for b in binders:
            for (name, st, en) in b.names:
                if b.ty is not None:
                    ty = self.elab_type(b.ty, lctx)
                else:
                    ty = self.new_mvar(lctx, Sort(ANY_LEVEL))
                fid = fresh_id()
                lctx = lctx.add(LocalDecl(fid, name, ty, inaccessible=(name == "_")))
                out.append((fid, name, ty, b.implicit))
        return lctx, out

    def elab_binder_term(self, s: Syn, expected: Expr | None, lctx: LocalContext) -> Expr:
        binders, body_s = s.args
        lctx2, bs = self.elab_binders(binders, lctx)
        body = self.elab_type(body_s, lctx2) if s.kind == "forall" else self.elab(body_s, PROP, lctx2)
        body = self.mctx.instantiate(body)
        bs = [(fid, name, self.mctx.instantiate(ty), imp) for fid, name, ty, imp in bs]
        for fid, name, ty, imp in reversed(bs):
            if s.kind == "forall":
                body = Pi(name, ty, abstract(body, fid), imp)
            else:
                body = mk_app(Const("Exists"), ty, Lam(name, ty, abstract(body, fid)))
        return self.ensure_type(body, expected, lctx, s)

    def elab_fun(self, s: Syn, expected: Expr | None, lctx: LocalContext) -> Expr:
        binders, body_s = s.args
        names = [(n, b) for b in binders for n in b.names]
        exp = self.whnf(expected) if expected is not None else None
        fids = []
        lctx2 = lctx
        for (name, _, _), b in names:
            if b.pattern is not None:
                name = "x"
            dom = None
            if type(exp) is Pi:
                dom = exp.ty
            if b.ty is not None:
                ty = self.elab_type(b.ty, lctx2)
                if dom is not None and not self.unify(ty, dom):
                    raise self.error(f"type mismatch in binder `{name}`: expected {self.pp(dom, lctx2)}", s)
            elif dom is not None:
                ty = dom
            else:
                ty = self.new_mvar(lctx2, Sort(ANY_LEVEL))
            fid = fresh_id()
            lctx2 = lctx2.add(LocalDecl(fid, name, ty, inaccessible=(name == "_" or b.pattern is not None)))
            fids.append((fid, name, ty))
            if type(exp) is Pi:
                exp = self.whnf(instantiate(exp.body, FVar(fid)))
            elif exp is not None:
                if type(exp) is not MVar:
                    raise self.error(f"type mismatch: `fun` where a value of type\n  {self.pp(expected, lctx)}\n"
                                     f"is expected", s)
                exp = None
        pats = [(FVar(fid), ty, b.pattern) for (fid, _, ty), (_, b) in zip(fids, names) if b.pattern is not None]
        body = self.elab_patterns(pats, lctx2, exp, body_s) if pats else self.elab(body_s, exp, lctx2)
        for fid, name, ty in reversed(fids):
            body = Lam(name, ty, abstract(self.mctx.instantiate(body), fid))
        if expected is not None and type(self.whnf(expected)) is MVar:
            return self.ensure_type(body, expected, lctx, s)
        return body

    def elab_patterns(self, pats: list, lctx: LocalContext, exp: Expr | None, body_s: Syn) -> Expr:
        """Destructure terms by anonymous-constructor patterns (∧ ↔ by projections, ∃ by Exists.elim), then the body."""
        if not pats:
            return self.elab(body_s, exp, lctx)
        (t, ty, pat), rest = pats[0], pats[1:]
        if pat.kind == "pat_name":
            name = pat.args[0]
            d = lctx.get(t.id) if type(t) is FVar else None
            if d is not None and d.inaccessible:  # a variable the pattern itself introduced: just name it
                lctx2 = lctx.replace(t.id, LocalDecl(t.id, name, d.type, inaccessible=name == "_"))
                return self.elab_patterns(rest, lctx2, exp, body_s)
            fid = fresh_id()
            lctx2 = lctx.add(LocalDecl(fid, name, ty, inaccessible=name == "_"))
            body = self.mctx.instantiate(self.elab_patterns(rest, lctx2, exp, body_s))
            return App(Lam(name, ty, abstract(body, fid)), t)
        if pat.kind != "pat_tuple":
            raise self.error("MiniLean: only ⟨...⟩ and name patterns are supported in `fun`", pat)
        items = pat.args[0]
        if len(items) == 1:
            return self.elab_patterns([(t, ty, items[0])] + rest, lctx, exp, body_s)
        tail = items[1] if len(items) == 2 else Syn("pat_tuple", items[1].start, items[-1].end, (items[1:],))
        tw = self.whnf(ty)
        fn, args = get_app_fn_args(tw)
        name = fn.name if type(fn) is Const else None
        if name in ("And", "Iff") and len(args) == 2:
            a, b = args
            if name == "And":
                first, second = (mk_app(Const("And.left"), a, b, t), a), (mk_app(Const("And.right"), a, b, t), b)
            else:
                first = (mk_app(Const("Iff.mp"), a, b, t), Pi("a✝", a, b))
                second = (mk_app(Const("Iff.mpr"), a, b, t), Pi("a✝", b, a))
            return self.elab_patterns([(*first, items[0]), (*second, tail)] + rest, lctx, exp, body_s)
        if name == "Exists" and len(args) == 2:
            if exp is None or not self.red.is_prop(exp, lctx):
                raise self.error("MiniLean: a ⟨...⟩ pattern on ∃ needs a proposition as the expected type", pat)
            alpha, p = args
            fw, fh = fresh_id(), fresh_id()
            hty = self.red.whnf_core(App(p, FVar(fw)))
            lctx2 = lctx.add(LocalDecl(fw, "w", alpha, inaccessible=True)).add(
                LocalDecl(fh, "h", hty, inaccessible=True))
            body = self.elab_patterns([(FVar(fw), alpha, items[0]), (FVar(fh), hty, tail)] + rest, lctx2, exp, body_s)
            body = self.mctx.instantiate(body)
            lam = Lam("w", alpha, abstract(Lam("h", hty, abstract(body, fh)), fw))
            return mk_app(Const("Exists.elim"), alpha, p, exp, t, lam)
        raise self.error(f"invalid pattern, constructor or constant marked with '[match_pattern]' expected for a "
                         f"term of type\n  {self.pp(ty, lctx)}", pat)

    def elab_anon(self, s: Syn, expected: Expr | None, lctx: LocalContext) -> Expr:
        items: list[Syn] = s.args[0]
        if expected is None or type(self.whnf(expected)) is MVar:
            raise self.error("invalid constructor ⟨...⟩, expected type must be known", s)
        ty = self.whnf(expected)
        fn, args = get_app_fn_args(ty)
        ctor = {"And": "And.intro", "Iff": "Iff.intro", "Exists": "Exists.intro", "True": "True.intro"}.get(
            fn.name if type(fn) is Const else "")
        if ctor is None:
            raise self.error(f"invalid constructor ⟨...⟩, expected type must be an inductive type \n  "
                             f"{self.pp(expected, lctx)}", s)
        nexplicit = {"And.intro": 2, "Iff.intro": 2, "Exists.intro": 2, "True.intro": 0}[ctor]
        if len(items) > nexplicit and nexplicit > 0:
            rest = Syn("anon", items[nexplicit - 1].start, items[-1].end, (items[nexplicit - 1:],))
            items = items[:nexplicit - 1] + [rest]
        if len(items) != nexplicit:
            raise self.error(f"invalid constructor ⟨...⟩, insufficient number of arguments, constructs "
                             f"'{ctor}' has #{nexplicit} explicit fields, but only #{len(items)} provided", s)
        head = Syn("ident", s.start, s.start, (ctor,))
        return self.elab_app(Syn("app", s.start, s.end, (head, items)) if items else head, expected, lctx)

    # -- applications
    def elab_head(self, s: Syn, lctx: LocalContext) -> tuple[Expr, bool]:
        if s.kind == "ident":
            return self.resolve(s.args[0], lctx, s), False
        if s.kind == "explicit":
            return self.resolve(s.args[0], lctx, s), True
        if s.kind == "proj":
            base = self.elab(s.args[0], None, lctx)
            return self.project(base, s.args[1], lctx, s), False
        return self.elab(s, None, lctx), False

    def elab_app(self, s: Syn, expected: Expr | None, lctx: LocalContext) -> Expr:
        if s.kind == "app":
            fn_s, arg_syns = s.args
        else:
            fn_s, arg_syns = s, []
        f, explicit = self.elab_head(fn_s, lctx)
        fty = self.infer(f, lctx)
        args = list(arg_syns)
        postponed: list[tuple[MVar, Syn, Expr, Expr]] = []
        while True:
            fty_w = self.whnf(fty)
            if type(fty_w) is Pi:
                if fty_w.implicit and not explicit:
                    if not args and expected is None and self.bare_ident_mode and fn_s.kind == "ident":
                        break
                    m = self.new_mvar(lctx, fty_w.ty)
                    f = App(f, m)
                    fty = instantiate(fty_w.body, m)
                    continue
                if not args:
                    break
                a_s = args.pop(0)
                if expected is not None or a_s.kind in ("anon", "hole", "synth_hole", "sorry", "by", "fun") or (
                        a_s.kind == "num" and has_mvar_type(self, fty_w.ty)):
                    tag = fty_w.name if a_s.kind == "synth_hole" and a_s.args[0] == "_" else ""
                    m = self.new_mvar(lctx, fty_w.ty, tag=tag, synthetic=a_s.kind == "synth_hole")
                    if a_s.kind == "synth_hole":
                        f = App(f, m)
                        fty = instantiate(fty_w.body, m)
                        continue
                    postponed.append((m, a_s, fty_w.ty, f))
                    f = App(f, m)
                    fty = instantiate(fty_w.body, m)
                    continue
                a = self.elab(a_s, fty_w.ty, lctx)
                f = App(f, a)
                fty = instantiate(fty_w.body, a)
                continue
            if args:
                if type(fty_w) is MVar:
                    raise self.error("function expected (the type of the head is not yet known)", s)
                raise self.error(f"Function expected at\n  {self.pp(f, lctx)}\nbut this term has type\n  "
                                 f"{self.pp(fty, lctx)}\n\nNote: Expected a function because this term is being "
                                 f"applied to the argument\n  {self.text_of(args[0])}", s)
            break
        if expected is not None and not postponed:
            if not self.unify(fty, expected):
                coerced = self.coerce(f, fty, expected)
                if coerced is not None:
                    return coerced
                raise self.mismatch(f, fty, expected, lctx, s)
        elif expected is not None:
            self.unify(fty, expected)
        for m, a_s, ty, f_before in postponed:
            ty = self.mctx.instantiate(ty)
            if a_s.kind in ("ident", "app", "proj", "explicit") or (a_s.kind == "paren" and
                                                                     a_s.args[0].kind in ("ident", "app", "proj")):
                self.bare_ident_mode = False
                a = self.elab(a_s, None, lctx)
                aty = self.infer(a, lctx)
                if not self.unify(aty, ty):
                    coerced = self.coerce(a, aty, ty)
                    if coerced is None:
                        raise self.app_mismatch(f_before, a, aty, ty, lctx, a_s)
                    a = coerced
            else:
                a = self.elab(a_s, ty, lctx)
            if not self.unify(m, a):
                aty = self.infer(a, lctx)
                raise self.app_mismatch(f_before, a, aty, ty, lctx, a_s)
        if expected is not None and postponed:
            if not self.unify(fty, expected):
                raise self.mismatch(f, fty, expected, lctx, s)
        return f

    def text_of(self, s: Syn) -> str:
        return self.source[s.start:s.end] if self.source is not None else "_"

    def app_mismatch(self, f: Expr, a: Expr, aty: Expr, ety: Expr, lctx: LocalContext, s: Syn) -> ElabError:
        x, y = self._has_type_pair(aty, ety, lctx)
        return self.error(f"Application type mismatch: The argument\n  {self.pp(a, lctx)}\nhas type\n  {x}\n"
                          f"but is expected to have type\n  {y}\nin the application\n  {self.pp(App(f, a), lctx)}", s)

    # -- finishing
    def default_numerals(self) -> None:
        for mid in self.st.numerals:
            v = self.mctx.instantiate(MVar(mid))
            if type(v) is MVar:
                self.mctx.assign[v.id] = NAT
        self.st.numerals.clear()

    def check_holes(self) -> None:
        for mid, syn in self.st.holes:
            v = self.mctx.instantiate(MVar(mid))
            if type(v) is MVar:
                d = self.mctx.decls[v.id]
                ctx = pp_goal(d.lctx, d.type, self.mctx, "", mathlib=self.env.mathlib, env=self.env)
                self.st.holes = []
                raise self.error(f"don't know how to synthesize placeholder\ncontext:\n{ctx}", syn)
        self.st.holes = []


def has_mvar_type(el: Elaborator, ty: Expr) -> bool:
    return type(el.whnf(ty)) is MVar


def _find_local(lctx: LocalContext, name: str) -> LocalDecl | None:
    for d in reversed(lctx.decls):
        if d.name == name and not d.inaccessible:
            return d
    return None
