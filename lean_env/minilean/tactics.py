"""The tactic engine: goals are metavariables; each tactic assigns the main goal a term over new goals."""

from __future__ import annotations

from .decide import Undecidable, evaluate
from .elab import Elaborator, Msg, SorryRec, TacticRecord
from .pretty import display_names as display_names_for
from .errors import AbortTactic, ElabError
from .expr import (consts_of, head_beta, App, BOOL, Const, Decide, DLam, Expr, FALSE, FVar, Lam, MVar, NAT, Num, PROP, Pi, Sorry, TRUE,
                   abstract, abstract_term, app_of, fresh_id, fvars_of, get_app_fn_args, has_loose_bvar, has_loose_bvars,
                   has_mvar, instantiate, mk_app, mvars_of, subterms)
from .kernel import LocalContext, LocalDecl
from .syntax import Syn

MAX_REPEAT = 64
STRUCTURAL = {"seq", "focus", "paren_tac", "then_all"}  # not listed by `allTactics` (the repl's isSubstantive)


class TacticRunner:
    """Runs tactic syntax against a goal list, on one elaborator (environment + metavariable context)."""

    def __init__(self, el: Elaborator, goals: list[int]) -> None:
        self.el = el
        self.goals = list(goals)
        self.recover = True

    # -- state save/restore for backtracking combinators
    def save(self):
        st = self.el.st
        return (list(self.goals), dict(self.el.mctx.decls), dict(self.el.mctx.assign), len(st.messages),
                len(st.sorries))

    def restore(self, s) -> None:
        goals, decls, assign, nmsg, nsorry = s
        self.goals = list(goals)
        self.el.mctx.decls.clear()
        self.el.mctx.decls.update(decls)
        self.el.mctx.assign.clear()
        self.el.mctx.assign.update(assign)
        del self.el.st.messages[nmsg:]
        del self.el.st.sorries[nsorry:]

    # -- helpers
    def main(self, s: Syn) -> int:
        self.prune()
        if not self.goals:
            raise ElabError("No goals to be solved", s.start, s.end)
        return self.goals[0]

    def prune(self) -> None:
        self.goals = [g for g in self.goals if g not in self.el.mctx.assign]

    def decl(self, g: int):
        return self.el.mctx.decls[g]

    def new_goal(self, lctx: LocalContext, ty: Expr, tag: str = "") -> MVar:
        return self.el.mctx.new_mvar(lctx, ty, tag=tag, synthetic=True)

    def assign(self, g: int, v: Expr) -> None:
        """Assign goal `g`; a goal closed by itself (`apply ?g`) stays an unassigned metavariable, as in Lean."""
        iv = self.instantiated(v)
        if iv == MVar(g):
            return
        if g in mvars_of(iv):
            raise ElabError("occurs check failed: the goal's own metavariable occurs in its proof")
        self.el.mctx.assign[g] = v

    def replace_main(self, new: list[int]) -> None:
        self.goals = new + self.goals[1:]

    def fail(self, tactic: str, msg: str, g: int, s: Syn) -> ElabError:
        head = f"Tactic `{tactic}` failed" + (f": {msg}" if msg else "")
        return ElabError(f"{head}\n\n{self.el.pp_goal(g)}", s.start, s.end)

    def whnf(self, e: Expr) -> Expr:
        return self.el.whnf(e)

    def instantiated(self, e: Expr) -> Expr:
        return self.el.mctx.instantiate(e)

    # -- running
    def run_seq(self, seq: Syn) -> None:
        for t in seq.args[0]:
            self.run(t)

    def run(self, s: Syn) -> None:
        k = s.kind
        meth = getattr(self, "t_" + k.replace("'", "_").replace("?", "_q"), None)
        if meth is None:
            raise ElabError(f"MiniLean: tactic `{k}` is outside the supported fragment", s.start, s.end)
        log = self.el.st.tactic_log
        if log is None or k in STRUCTURAL:
            meth(s)
            return
        self.prune()
        rec = TacticRecord(s, list(self.goals), self.el.mctx.copy())
        log.append(rec)
        meth(s)
        used: set[str] = set()
        for g in rec.goals:
            used |= consts_of(self.instantiated(MVar(g)))
        rec.used_constants = sorted(used)

    def elab_term(self, s: Syn, expected: Expr | None, lctx: LocalContext) -> Expr:
        """Elaborate a term inside a tactic; with recovery, errors are logged and the term becomes `sorry`."""
        el = self.el
        try:
            e = el.elab(s, expected, lctx)
            el.default_numerals()
            el.check_holes()
            self.run_pending()
        except ElabError as err:
            if not self.recover or expected is None:
                raise
            el.log(err)
            el.st.holes = []
            el.st.numerals = []
            return Sorry(expected, True, fresh_id())
        return e

    def run_pending(self) -> None:
        el = self.el
        while el.st.pending:
            p = el.st.pending.pop(0)
            sub = TacticRunner(el, [p.mvar.id])
            sub.recover = self.recover
            sub.run_block(p.seq, p.by_syn)

    def run_block(self, seq: Syn, by_syn: Syn) -> None:
        """A nested `by` block: run it and report unsolved goals at the `by` term."""
        self.run_seq(seq)
        self.prune()
        if self.goals:
            err = ElabError("unsolved goals\n" + "\n\n".join(self.el.pp_goal(g) for g in self.goals),
                            by_syn.start, by_syn.end)
            if not self.recover:
                raise err
            self.el.log(err)
            self.admit_all()

    def admit_all(self) -> None:
        for g in self.goals:
            if g not in self.el.mctx.assign:
                self.assign(g, Sorry(self.decl(g).type, True, fresh_id()))
        self.goals = []

    def new_mvars_as_goals(self, e: Expr, before: set[int]) -> list[int]:
        out = []
        for mid in mvars_of(self.instantiated(e)):
            if mid not in before and mid not in self.el.mctx.assign:
                self.normalize_goal(mid)
                out.append(mid)
        return out

    def normalize_goal(self, mid: int) -> None:
        """Instantiate and head-beta-reduce a new goal's type (as Lean shows new goals)."""
        d = self.decl(mid)
        d.type = head_beta(self.instantiated(d.type))

    # -- basic tactics
    def t_skip(self, s: Syn) -> None:
        pass

    def t_done(self, s: Syn) -> None:
        self.prune()
        if self.goals:
            raise ElabError("unsolved goals\n" + "\n\n".join(self.el.pp_goal(g) for g in self.goals), s.start, s.end)

    def t_sorry(self, s: Syn) -> None:
        g = self.main(s)
        d = self.decl(g)
        self.el.st.sorries.append(SorryRec(d.lctx, d.type, d.tag, s.start, s.end, tactic=True))
        self.assign(g, Sorry(d.type, False, fresh_id()))
        self.goals.pop(0)

    t_admit = t_sorry

    def t_intro(self, s: Syn) -> None:
        names = s.args[0]
        if not names:
            names = [None]
        for n in names:
            self.intro1(n, s)

    def t_intros(self, s: Syn) -> None:
        names = s.args[0]
        if names:
            for n in names:
                self.intro1(n, s)
            return
        while True:
            g = self.main(s)
            t = self.instantiated(self.decl(g).type)
            if type(t) is not Pi and not (app_of(t, "Not", 1)):
                return
            self.intro1(None, s)

    def intro1(self, n, s: Syn) -> None:
        g = self.main(s)
        d = self.decl(g)
        t = self.instantiated(d.type)
        if type(t) is not Pi:
            t2 = self.whnf(t)
            if type(t2) is not Pi:
                raise ElabError(
                    f"Tactic `introN` failed: There are no additional binders or `let` bindings in the goal to "
                    f"introduce\n\n{self.el.pp_goal(g)}", s.start, s.end)
            t = t2
        fid = fresh_id()
        if n is None:
            name, inacc = (t.name.rstrip("✝") if t.name else "a"), True
        else:
            name, inacc = n[0], n[0] == "_"
        lctx = d.lctx.add(LocalDecl(fid, name, t.ty, inaccessible=inacc))
        ng = self.new_goal(lctx, instantiate(t.body, FVar(fid)), d.tag)
        self.assign(g, DLam(fid, name, t.ty, ng))
        self.replace_main([ng.id])

    def t_exact(self, s: Syn) -> None:
        g = self.main(s)
        d = self.decl(g)
        before = set(self.el.mctx.decls)
        e = self.elab_term(s.args[0], d.type, d.lctx)
        new = self.new_mvars_as_goals(e, before)
        if new:
            self.goals.pop(0)
            raise ElabError("don't know how to synthesize placeholder for argument\ncontext:\n"
                            + self.el.pp_goal(new[0]), s.args[0].start, s.args[0].end)
        self.assign(g, e)
        self.goals.pop(0)

    def t_refine(self, s: Syn) -> None:
        g = self.main(s)
        d = self.decl(g)
        before = set(self.el.mctx.decls)
        e = self.elab_term(s.args[0], d.type, d.lctx)
        new = self.new_mvars_as_goals(e, before)
        for m in new:
            md = self.decl(m)
            if not md.synthetic:
                raise ElabError("don't know how to synthesize placeholder\ncontext:\n" + self.el.pp_goal(m),
                                s.args[0].start, s.args[0].end)
        self.assign(g, e)
        if len(new) == 1 and not self.decl(new[0]).tag:
            self.decl(new[0]).tag = d.tag
        self.replace_main(new)

    t_refine_ = t_refine

    def t_apply(self, s: Syn) -> None:
        g = self.main(s)
        d = self.decl(g)
        el = self.el
        before = set(el.mctx.decls)
        try:
            el.bare_ident_mode = True
            try:
                e = el.elab(s.args[0], None, d.lctx)
            finally:
                el.bare_ident_mode = False
            el.default_numerals()
            el.st.holes = []  # `_` left open by `apply` become new goals, as in Lean
            self.run_pending()
        except ElabError as err:
            if not self.recover:
                raise
            el.log(err)
            self.assign(g, Sorry(d.type, True, fresh_id()))
            self.goals.pop(0)
            return
        ety = self.instantiated(el.infer(e, d.lctx))
        # count binders available
        n = 0
        t = ety
        while True:
            tw = self.whnf(t)
            if type(tw) is not Pi:
                break
            n += 1
            t = tw.body if not has_loose_bvar(tw.body) else instantiate(tw.body, Const("_"))
        tgt_arity = 0
        t = d.type
        while type(t) is Pi:
            tgt_arity += 1
            t = t.body
        order = [max(0, n - tgt_arity)] + [k for k in range(n + 1) if k != max(0, n - tgt_arity)]
        saved = self.save()
        for k in order:
            self.restore(saved)
            f = e
            fty = ety
            new: list[tuple[int, str, bool]] = []
            for _ in range(k):
                fw = self.whnf(fty)
                m = el.mctx.new_mvar(d.lctx, fw.ty, tag=fw.name, synthetic=False)
                new.append((m.id, fw.name, fw.implicit))
                f = App(f, m)
                fty = instantiate(fw.body, m)
            if el.unify(fty, d.type):
                break
        else:
            self.restore(saved)
            what = "conclusion" if n else "type"
            shown = f"@{e.name}" if type(e) is Const else el.pp(e, d.lctx)
            self.restore(saved)
            concl = self._conclusion_with_mvars(e, ety, n, d.lctx)
            full = el.env.get(e.name).type if type(e) is Const else ety
            note = f"\n\nNote: The full type of `{shown}` is\n  {el.pp(full, d.lctx)}" if n else ""
            raise ElabError(
                f"Tactic `apply` failed: could not unify the {what} of `{shown}`\n  "
                f"{el.pp(concl, d.lctx)}\nwith the goal\n  {el.pp(d.type, d.lctx)}{note}\n\n"
                f"{el.pp_goal(g)}", s.start, s.end)
        self.assign(g, f)
        inst = [(mid, name, imp) for mid, name, imp in new if mid not in el.mctx.assign]
        # hole mvars created by the term itself (`?_`) become goals too
        extra = [m for m in self.new_mvars_as_goals(e, before) if m not in {x[0] for x in new}]
        dep = set()
        for mid, _, _ in inst:
            for mid2, _, _ in inst:
                if mid2 != mid and mid in mvars_of(self.instantiated(self.decl(mid2).type)):
                    dep.add(mid)
        ordered = [x for x in inst if x[0] not in dep] + [x for x in inst if x[0] in dep]
        goals = []
        for mid, name, imp in ordered:
            self.normalize_goal(mid)
            md = self.decl(mid)
            md.synthetic = True
            if len(new) == 1:
                md.tag = d.tag
            elif d.tag:
                md.tag = f"{d.tag}.{name}"
            else:
                md.tag = name
            goals.append(mid)
        self.replace_main(goals + extra)

    def _conclusion_with_mvars(self, e: Expr, ety: Expr, n: int, lctx: LocalContext) -> Expr:
        fty = ety
        for _ in range(n):
            fw = self.whnf(fty)
            m = self.el.mctx.new_mvar(lctx, fw.ty, tag=fw.name if not fw.name.endswith("✝") else "")
            fty = instantiate(fw.body, m)
        return fty

    def t_constructor(self, s: Syn) -> None:
        g = self.main(s)
        t = self.whnf(self.decl(g).type)
        fn, args = get_app_fn_args(t)
        name = fn.name if type(fn) is Const else None
        ctor = {"And": "And.intro", "Iff": "Iff.intro", "True": "True.intro", "Exists": "Exists.intro", "Or": "Or.inl",
                "Nat": "Nat.zero", "Unit": "Unit.unit", "Bool": "Bool.false", "Eq": "Eq.refl"}.get(name)
        if ctor is None:
            if name == "False":
                raise self.fail("constructor", "no applicable constructor found", g, s)
            raise self.fail("constructor", "target is not an inductive datatype", g, s)
        if ctor == "Eq.refl":
            if not self.el.unify(args[1], args[2]):
                raise self.fail("constructor", "no applicable constructor found", g, s)
        if name == "False":
            raise self.fail("constructor", "no applicable constructor found", g, s)
        self.apply_const(ctor, g, s, "constructor")

    def apply_const(self, name: str, g: int, s: Syn, tactic: str) -> None:
        fake = Syn("apply", s.start, s.end, (Syn("ident", s.start, s.end, (name,)),))
        try:
            self.t_apply(fake)
        except ElabError as err:
            raise ElabError(err.message.replace("Tactic `apply`", f"Tactic `{tactic}`"), s.start, s.end) from err

    def t_left(self, s: Syn) -> None:
        self._or_side(s, "Or.inl", "left")

    def t_right(self, s: Syn) -> None:
        self._or_side(s, "Or.inr", "right")

    def _or_side(self, s: Syn, ctor: str, tac: str) -> None:
        g = self.main(s)
        t = self.whnf(self.decl(g).type)
        if app_of(t, "Or", 2) is None:
            raise self.fail(tac, f"`{tac}` tactic works for inductive types with exactly 2 constructors", g, s)
        self.apply_const(ctor, g, s, tac)
        gg = self.goals[0]
        self.decl(gg).tag = "h"

    def t_exfalso(self, s: Syn) -> None:
        g = self.main(s)
        d = self.decl(g)
        ng = self.new_goal(d.lctx, FALSE, d.tag)
        self.assign(g, mk_app(Const("False.elim"), d.type, ng))
        self.replace_main([ng.id])

    def t_assumption(self, s: Syn) -> None:
        g = self.main(s)
        d = self.decl(g)
        for h in reversed(d.lctx.decls):
            if h.aux:
                continue
            if self.el.unify(h.type, d.type):
                self.assign(g, FVar(h.fid))
                self.goals.pop(0)
                return
        raise self.fail("assumption", "", g, s)

    def t_contradiction(self, s: Syn) -> None:
        g = self.main(s)
        d = self.decl(g)
        hyps = [h for h in d.lctx.decls if not h.aux]
        for h in hyps:
            t = self.whnf(h.type)
            if t == FALSE:
                self.assign(g, mk_app(Const("False.elim"), d.type, FVar(h.fid)))
                self.goals.pop(0)
                return
            eq = app_of(self.instantiated(h.type), "Ne", 3)
            if eq is not None and self.el.unify(eq[1], eq[2]):
                pf = App(FVar(h.fid), mk_app(Const("Eq.refl"), eq[0], eq[1]))
                self.assign(g, mk_app(Const("False.elim"), d.type, pf))
                self.goals.pop(0)
                return
            # decidably false closed hypothesis
            try:
                if evaluate(self.el.red, h.type, d.lctx) is False:
                    pf = App(Decide(App(Const("Not"), h.type)), FVar(h.fid))
                    self.assign(g, mk_app(Const("False.elim"), d.type, pf))
                    self.goals.pop(0)
                    return
            except Undecidable:
                pass
        for h in hyps:
            ht = self.el.red.whnf_core(self.instantiated(h.type))
            neg = app_of(ht, "Not", 1)
            if neg is None and type(ht) is Pi and not has_loose_bvar(ht.body) and self.whnf(ht.body) == FALSE:
                neg = [ht.ty]
            if neg is None:
                continue
            for h2 in hyps:
                if self.el.unify(h2.type, neg[0]):
                    self.assign(g, mk_app(Const("absurd"), neg[0], d.type, FVar(h2.fid), FVar(h.fid)))
                    self.goals.pop(0)
                    return
        raise self.fail("contradiction", "", g, s)

    def t_rfl(self, s: Syn) -> None:
        g = self.main(s)
        d = self.decl(g)
        t = self.whnf(d.type)
        eq = app_of(t, "Eq", 3)
        if eq is not None:
            if self.el.unify(eq[1], eq[2]):
                self.assign(g, mk_app(Const("Eq.refl"), eq[0], eq[1]))
                self.goals.pop(0)
                return
            raise ElabError(
                f"Tactic `rfl` failed: The left-hand side\n  {self.el.pp(eq[1], d.lctx)}\nis not definitionally equal "
                f"to the right-hand side\n  {self.el.pp(eq[2], d.lctx)}\n\n{self.el.pp_goal(g)}", s.start, s.end)
        iff = app_of(t, "Iff", 2)
        if iff is not None and self.el.unify(iff[0], iff[1]):
            self.assign(g, App(Const("Iff.refl"), iff[0]))
            self.goals.pop(0)
            return
        for rel in ("LE.le",):
            r = app_of(t, rel, 3)
            if r is not None and self.el.unify(r[1], r[2]) and self.whnf(r[0]) in (NAT, Const("Int")):
                lemma = "Nat.le_refl" if self.whnf(r[0]) == NAT else "Int.le_refl"
                self.assign(g, App(Const(lemma), r[1]))
                self.goals.pop(0)
                return
        raise ElabError(f"The rfl tactic failed. Possible reasons:\n- The goal is not a reflexive relation "
                        f"(neither `=` nor a relation with a @[refl] lemma).\n- Or the goal is a reflexive relation, "
                        f"but the two sides are not definitionally equal.\n\n{self.el.pp_goal(g)}", s.start, s.end)

    def t_decide(self, s: Syn) -> None:
        g = self.main(s)
        d = self.decl(g)
        t = self.instantiated(d.type)
        if has_mvar(t):
            raise ElabError(f"Expected type must not contain metavariables\n  {self.el.pp(t, d.lctx)}", s.start, s.end)
        if fvars_of(t):
            raise ElabError(f"Expected type must not contain free variables\n  {self.el.pp(t, d.lctx)}\n\nHint: Use "
                            f"the `+revert` option to automatically clean up and revert free variables", s.start, s.end)
        try:
            v = evaluate(self.el.red, t, d.lctx)
        except Undecidable:
            raise ElabError(f"failed to synthesize\n  Decidable ({self.el.pp(t, d.lctx)})", s.start, s.end) from None
        if not v:
            raise ElabError(f"Tactic `decide` proved that the proposition\n  {self.el.pp(t, d.lctx)}\nis false",
                            s.start, s.end)
        self.assign(g, Decide(t))
        self.goals.pop(0)

    def t_trivial(self, s: Syn) -> None:
        for alt in (self.t_rfl, self._true_intro, self.t_assumption, self.t_decide, self._and_trivial):
            saved = self.save()
            try:
                alt(s)
                return
            except ElabError:
                self.restore(saved)
        self.main(s)
        raise ElabError("The `trivial` tactic failed to close the goal", s.start, s.end)

    def _true_intro(self, s: Syn) -> None:
        g = self.main(s)
        if self.whnf(self.decl(g).type) != TRUE:
            raise ElabError("not True", s.start, s.end)
        self.assign(g, Const("True.intro"))
        self.goals.pop(0)

    def _and_trivial(self, s: Syn) -> None:
        g = self.main(s)
        if app_of(self.whnf(self.decl(g).type), "And", 2) is None:
            raise ElabError("not And", s.start, s.end)
        self.apply_const("And.intro", g, s, "trivial")
        self.t_trivial(s)
        self.t_trivial(s)

    def t_show(self, s: Syn) -> None:
        self.prune()
        if not self.goals:
            raise ElabError("No goals to be solved", s.start, s.end)
        for i, g in enumerate(self.goals):
            d = self.decl(g)
            saved = self.save()
            try:
                ty = self.el.elab_type(s.args[0], d.lctx)
                self.el.default_numerals()
            except ElabError:
                self.restore(saved)
                if i == 0:
                    raise
                continue
            if self.el.unify(ty, d.type):
                ng = self.new_goal(d.lctx, self.instantiated(ty), d.tag)
                self.assign(g, ng)
                self.goals = [ng.id] + self.goals[:i] + self.goals[i + 1:]
                return
            self.restore(saved)
        g = self.goals[0]
        raise ElabError(f"type mismatch\n  this\nhas type\n  ?\nbut is expected to have type\n  "
                        f"{self.el.pp(self.decl(g).type, self.decl(g).lctx)}", s.start, s.end)

    def t_have(self, s: Syn) -> None:
        g = self.main(s)
        d = self.decl(g)
        name, ty_s, val_s = s.args
        el = self.el
        ty = None
        if ty_s is not None:
            try:
                ty = el.elab_type(ty_s, d.lctx)
                el.default_numerals()
            except ElabError as err:
                if not self.recover:
                    raise
                el.log(err)
                raise AbortTactic() from err
        nm = name[0] if name else "this"
        fid = fresh_id()
        if val_s is None:
            if ty is None:
                raise ElabError("`have` needs a type or a value", s.start, s.end)
            pg = self.new_goal(d.lctx, ty, "")
            lctx = d.lctx.add(LocalDecl(fid, nm, ty))
            ng = self.new_goal(lctx, d.type, d.tag)
            self.assign(g, App(DLam(fid, nm, ty, ng), pg))
            self.replace_main([pg.id, ng.id])
            return
        if ty is None:
            val = el.elab(val_s, None, d.lctx)
            el.default_numerals()
            el.check_holes()
            self.run_pending()
            ty = self.instantiated(el.infer(val, d.lctx))
        else:
            val = self.elab_term(val_s, ty, d.lctx)
        lctx = d.lctx.add(LocalDecl(fid, nm, ty))
        ng = self.new_goal(lctx, d.type, d.tag)
        self.assign(g, App(DLam(fid, nm, ty, ng), val))
        self.replace_main([ng.id])

    def t_by_cases(self, s: Syn) -> None:
        g = self.main(s)
        d = self.decl(g)
        name, p_s = s.args
        p = self.el.elab_type(p_s, d.lctx)
        self.el.default_numerals()
        p = self.instantiated(p)
        nm, inacc = (name[0], False) if name else ("h", True)
        f1, f2 = fresh_id(), fresh_id()
        notp = App(Const("Not"), p)
        g1 = self.new_goal(d.lctx.add(LocalDecl(f1, nm, p, inaccessible=inacc)), d.type, "pos")
        g2 = self.new_goal(d.lctx.add(LocalDecl(f2, nm, notp, inaccessible=inacc)), d.type, "neg")
        self.assign(g, mk_app(Const("Or.elim"), p, notp, d.type, App(Const("Classical.em"), p),
                              DLam(f1, nm, p, g1), DLam(f2, nm, notp, g2)))
        self.replace_main([g1.id, g2.id])

    def t_by_contra(self, s: Syn) -> None:
        g = self.main(s)
        d = self.decl(g)
        name = s.args[0]
        nm, inacc = (name[0], False) if name else ("x", True)
        fid = fresh_id()
        notp = App(Const("Not"), d.type)
        ng = self.new_goal(d.lctx.add(LocalDecl(fid, nm, notp, inaccessible=inacc)), FALSE, d.tag)
        self.assign(g, mk_app(Const("Classical.byContradiction"), d.type, DLam(fid, nm, notp, ng)))
        self.replace_main([ng.id])

    # -- cases / rcases / obtain
    def t_cases(self, s: Syn) -> None:
        g = self.main(s)
        d = self.decl(g)
        e_s, alts = s.args
        h = self.el.elab(e_s, None, d.lctx)
        self.el.default_numerals()
        names_for: dict[str, list] = {}
        if alts:
            for tag, names, seq, _ in alts:
                names_for[tag] = [n[0] for n in names]
        results = self.destruct(g, h, lambda tag, i: (names_for.get(tag, [])[i] if i < len(names_for.get(tag, []))
                                                       else None), s)
        if alts:
            self._run_alternatives(results, alts, s)

    def t_induction(self, s: Syn) -> None:
        g = self.main(s)
        d = self.decl(g)
        e_s, alts = s.args
        h = self.el.elab(e_s, None, d.lctx)
        ty = self.whnf(self.instantiated(self.el.infer(h, d.lctx)))
        if ty != NAT or type(h) is not FVar:
            raise ElabError(f"MiniLean: `induction` supports a Nat variable, got\n  {self.el.pp(h, d.lctx)} : "
                            f"{self.el.pp(ty, d.lctx)}", s.start, s.end)
        for other in d.lctx.decls:
            if other.fid != h.id and not other.aux and any(type(x) is FVar and x.id == h.id for x in subterms(other.type)):
                raise ElabError("MiniLean: `induction` on a variable that other hypotheses mention is not supported",
                                s.start, s.end)
        names = {tag: [n[0] for n in ns] for tag, ns, _, _ in (alts or [])}
        lctx = d.lctx.remove(h.id)
        motive = Lam("x", NAT, abstract(self.instantiated(d.type), h.id))
        tag = (lambda t: f"{d.tag}.{t}" if d.tag else t)
        g1 = self.new_goal(lctx, instantiate(motive.body, Num(0, NAT)), tag("zero"))
        sn = names.get("succ", [])
        fn, fi = fresh_id(), fresh_id()
        n_name = sn[0] if len(sn) > 0 and sn[0] != "_" else "n"
        i_name = sn[1] if len(sn) > 1 and sn[1] != "_" else "a"
        l2 = lctx.add(LocalDecl(fn, n_name, NAT, inaccessible=not (len(sn) > 0 and sn[0] != "_")))
        ih_ty = instantiate(motive.body, FVar(fn))
        l2 = l2.add(LocalDecl(fi, i_name, ih_ty, inaccessible=not (len(sn) > 1 and sn[1] != "_")))
        succ = mk_app(Const("HAdd.hAdd"), NAT, FVar(fn), Num(1, NAT))
        g2 = self.new_goal(l2, instantiate(motive.body, succ), tag("succ"))
        self.assign(g, mk_app(Const("Nat.rec"), motive, g1, DLam(fn, n_name, NAT, DLam(fi, i_name, ih_ty, g2)), h))
        self.replace_main([g1.id, g2.id])
        if alts:
            self._run_alternatives([g1.id, g2.id], alts, s)

    def _run_alternatives(self, results: list[int], alts, s: Syn) -> None:
        rest = self.goals[len(results):]
        done = []
        for tag, names, seq, _ in alts:
            match = [r for r in results if self.decl(r).tag.split(".")[-1] == tag]
            if not match:
                raise ElabError(f"Invalid alternative name '{tag}': Expected "
                                + " or ".join(f"'{self.decl(r).tag.split('.')[-1]}'" for r in results), s.start, s.end)
            sub = TacticRunner(self.el, [match[0]])
            sub.recover = self.recover
            sub.run_seq(seq)
            sub.prune()
            done.extend(sub.goals)
        self.goals = done + rest

    def t_calc(self, s: Syn) -> None:
        log = self.el.st.tactic_log
        if log is not None:  # the repl also lists the steps block, with no goals
            first = s.args[0][0][0]
            log.append(TacticRecord(Syn("calc_steps", first.start, s.end), [], self.el.mctx.copy()))
        self.t_exact(Syn("exact", s.start, s.end, (s,)))

    def t_specialize(self, s: Syn) -> None:
        """`specialize h a b`: replace the hypothesis `h` by `h a b`."""
        g = self.main(s)
        d = self.decl(g)
        e_s = s.args[0]
        head = e_s.args[0] if e_s.kind == "app" else e_s
        h = _find(d.lctx, head.args[0]) if head.kind == "ident" else None
        if h is None:
            raise ElabError("'specialize' requires a term of the form `h x_1 .. x_n` where `h` appears in the "
                            "local context", s.start, s.end)
        e = self.el.elab(e_s, None, d.lctx)
        self.el.default_numerals()
        self.el.check_holes()
        ty = self.instantiated(self.el.infer(e, d.lctx))
        fid = fresh_id()
        lctx = d.lctx.replace(h.fid, LocalDecl(fid, h.name, ty))
        ng = self.new_goal(lctx, d.type, d.tag)
        self.assign(g, App(DLam(fid, h.name, ty, ng), self.instantiated(e)))
        self.replace_main([ng.id])

    def t_revert(self, s: Syn) -> None:
        for name, st, en in reversed(s.args[0]):
            g = self.main(s)
            d = self.decl(g)
            h = _find(d.lctx, name)
            if h is None:
                raise ElabError(f"Unknown identifier `{name}`", st, en)
            later = d.lctx.decls[d.lctx.decls.index(h) + 1:]
            if any(h.fid in fvars_of(x.type) for x in later if not x.aux):
                raise ElabError(f"MiniLean: cannot revert `{name}`: later hypotheses depend on it", st, en)
            target = Pi(h.name, h.type, abstract(self.instantiated(d.type), h.fid))
            ng = self.new_goal(d.lctx.remove(h.fid), target, d.tag)
            self.assign(g, App(ng, FVar(h.fid)))
            self.replace_main([ng.id])

    def t_clear(self, s: Syn) -> None:
        for name, st, en in s.args[0]:
            g = self.main(s)
            d = self.decl(g)
            h = _find(d.lctx, name)
            if h is None:
                raise ElabError(f"Unknown identifier `{name}`", st, en)
            others = [x.type for x in d.lctx.decls if x.fid != h.fid and not x.aux] + [self.instantiated(d.type)]
            if any(h.fid in fvars_of(self.instantiated(t)) for t in others):
                raise ElabError(f"Tactic `clear` failed: variable `{name}` depends on other hypotheses or the "
                                f"goal\n\n{self.el.pp_goal(g)}", st, en)
            ng = self.new_goal(d.lctx.remove(h.fid), d.type, d.tag)
            self.assign(g, ng)
            self.replace_main([ng.id])

    def t_rename_i(self, s: Syn) -> None:
        """Name the most recent inaccessible hypotheses (`rename_i x y`)."""
        g = self.main(s)
        d = self.decl(g)
        inacc = [x for x in d.lctx.decls if x.inaccessible and not x.aux]
        names = s.args[0]
        if len(names) > len(inacc):
            raise ElabError("Too many variable names provided", s.start, s.end)
        lctx = d.lctx
        for x, (n, _, _) in zip(inacc[len(inacc) - len(names):], names):
            lctx = lctx.replace(x.fid, LocalDecl(x.fid, n, x.type, x.value, inaccessible=n == "_"))
        ng = self.new_goal(lctx, d.type, d.tag)
        self.assign(g, ng)
        self.replace_main([ng.id])

    def t_exists(self, s: Syn) -> None:
        """`exists a, b`: `refine ⟨a, b, ?_⟩; try trivial`."""
        items = s.args[0]
        hole = Syn("synth_hole", s.end, s.end, ("_",))
        anon = Syn("anon", s.start, s.end, (list(items) + [hole],))
        self.t_refine(Syn("refine", s.start, s.end, (anon,)))
        self.t_try(Syn("try", s.start, s.end, (Syn("seq", s.start, s.end, ([Syn("trivial", s.start, s.end)],)),)))

    def t_intro_pats(self, s: Syn) -> None:
        for pat in s.args[0]:
            if pat.kind == "pat_name":
                self.intro1((pat.args[0], pat.start, pat.end), s)
                continue
            self.intro1(None, s)
            g = self.main(s)
            last = self.decl(g).lctx.decls[-1]
            self.rcases_on(FVar(last.fid), pat, s)

    def destruct(self, g: int, h: Expr, namer, s: Syn) -> list[int]:
        """Case-split the main goal on `h` (a proof of ∧ ∨ ∃ ↔ False, or a Nat/Bool variable)."""
        el = self.el
        d = self.decl(g)
        ty = self.whnf(self.instantiated(el.infer(h, d.lctx)))
        fn, args = get_app_fn_args(ty)
        cname = fn.name if type(fn) is Const else None
        lctx = d.lctx
        clear = type(h) is FVar
        if clear and cname in ("And", "Iff", "Or", "Exists"):
            # a proof that other hypotheses or the target mention stays (Lean would rewrite them with the
            # constructor; removing it would leave them pointing at a variable out of scope)
            others = [x.type for x in d.lctx.decls if x.fid != h.id] + [self.instantiated(d.type)]
            clear = not any(h.id in fvars_of(self.instantiated(t)) for t in others)
        if clear:
            lctx = lctx.remove(h.id)

        def hyp(lc, i, tag, default, t):
            n = namer(tag, i)
            fid = fresh_id()
            if n is None or n == "_":
                return lc.add(LocalDecl(fid, default, t, inaccessible=True)), fid, default
            return lc.add(LocalDecl(fid, n, t)), fid, n

        def tagged(t):
            return f"{d.tag}.{t}" if d.tag else t

        if cname == "And" or cname == "Iff":
            a, b = args
            l1, f1, n1 = hyp(lctx, 0, "intro", "left" if cname == "And" else "mp", a if cname == "And" else Pi("a", a, b))
            t2 = b if cname == "And" else Pi("a", b, a)
            l2, f2, n2 = hyp(l1, 1, "intro", "right" if cname == "And" else "mpr", t2)
            ng = self.new_goal(l2, d.type, tagged("intro"))
            t1 = a if cname == "And" else Pi("a", a, b)
            p1 = mk_app(Const("And.left" if cname == "And" else "Iff.mp"), a, b, h)
            p2 = mk_app(Const("And.right" if cname == "And" else "Iff.mpr"), a, b, h)
            self.assign(g, mk_app(DLam(f1, n1, t1, DLam(f2, n2, t2, ng)), p1, p2))
            self.replace_main([ng.id])
            return [ng.id]
        if cname == "Or":
            a, b = args
            l1, f1, n1 = hyp(lctx, 0, "inl", "h", a)
            l2, f2, n2 = hyp(lctx, 0, "inr", "h", b)
            g1 = self.new_goal(l1, d.type, tagged("inl"))
            g2 = self.new_goal(l2, d.type, tagged("inr"))
            self.assign(g, mk_app(Const("Or.elim"), a, b, d.type, h, DLam(f1, n1, a, g1), DLam(f2, n2, b, g2)))
            self.replace_main([g1.id, g2.id])
            return [g1.id, g2.id]
        if cname == "Exists":
            alpha, p = args
            l1, f1, n1 = hyp(lctx, 0, "intro", "w", alpha)
            body = self.whnf(App(p, FVar(f1))) if type(p) is Lam else App(p, FVar(f1))
            body = el.red.whnf_core(App(p, FVar(f1)))
            l2, f2, n2 = hyp(l1, 1, "intro", "h", body)
            ng = self.new_goal(l2, d.type, tagged("intro"))
            self.assign(g, mk_app(Const("Exists.elim"), alpha, p, d.type, h,
                                  DLam(f1, n1, alpha, DLam(f2, n2, body, ng))))
            self.replace_main([ng.id])
            return [ng.id]
        if ty == FALSE:
            self.assign(g, mk_app(Const("False.elim"), d.type, h))
            self.goals.pop(0)
            return []
        if ty in (NAT, BOOL):
            if type(h) is FVar:
                for other in d.lctx.decls:
                    if other.fid != h.id and any(type(x) is FVar and x.id == h.id for x in subterms(other.type)):
                        raise ElabError("MiniLean: `cases` on a variable that other hypotheses mention is not "
                                        "supported", s.start, s.end)
                motive = Lam("x", ty, abstract(self.instantiated(d.type), h.id))
            else:  # a term: generalize its occurrences in the target
                fid = fresh_id()
                h = self.instantiated(h)
                motive = Lam("x", ty, abstract(abstract_term(self.instantiated(d.type), h, fid), fid))
            if ty == NAT:
                g1 = self.new_goal(lctx, instantiate(motive.body, Num(0, NAT)), tagged("zero"))
                l2, f2, n2 = hyp(lctx, 0, "succ", "n", NAT)
                succ = mk_app(Const("HAdd.hAdd"), NAT, FVar(f2), Num(1, NAT))
                g2 = self.new_goal(l2, instantiate(motive.body, succ), tagged("succ"))
                self.assign(g, mk_app(Const("Nat.casesOn"), motive, h, g1, DLam(f2, n2, NAT, g2)))
            else:
                g1 = self.new_goal(lctx, instantiate(motive.body, Const("Bool.false")), tagged("false"))
                g2 = self.new_goal(lctx, instantiate(motive.body, Const("Bool.true")), tagged("true"))
                self.assign(g, mk_app(Const("Bool.casesOn"), motive, h, g1, g2))
            self.replace_main([g1.id, g2.id])
            return [g1.id, g2.id]
        raise ElabError(f"MiniLean: `cases` on a term of type\n  {el.pp(ty, d.lctx)}\nis outside the supported "
                        f"fragment", s.start, s.end)

    def t_rcases(self, s: Syn) -> None:
        g = self.main(s)
        d = self.decl(g)
        e_s, pat = s.args
        h = self.el.elab(e_s, None, d.lctx)
        self.el.default_numerals()
        self.rcases_on(h, pat, s)

    def t_obtain(self, s: Syn) -> None:
        pat, ty_s, val_s = s.args
        g = self.main(s)
        d = self.decl(g)
        if val_s is None:
            if ty_s is None:
                raise ElabError("`obtain` needs a type or a value", s.start, s.end)
            ty = self.el.elab_type(ty_s, d.lctx)
            self.el.default_numerals()
            pg = self.new_goal(d.lctx, ty, "")
            fid = fresh_id()
            ng = self.new_goal(d.lctx.add(LocalDecl(fid, "h", ty, inaccessible=True)), d.type, d.tag)
            self.assign(g, App(DLam(fid, "h", ty, ng), pg))
            self.replace_main([pg.id, ng.id])
            # continue destructing in the second goal
            self.goals = [ng.id] + self.goals[2:]
            self.rcases_on(FVar(fid), pat, s)
            self.goals = [pg.id] + self.goals
            return
        ty = self.el.elab_type(ty_s, d.lctx) if ty_s is not None else None
        h = self.elab_term(val_s, ty, d.lctx)
        if pat is None:
            pat = Syn("pat_name", s.start, s.end, ("this",))
        self.rcases_on(h, pat, s)

    def rcases_on(self, h: Expr, pat: Syn | None, s: Syn) -> None:
        """Destructure `h` in the main goal following an rcases pattern; the resulting goals replace it."""
        g = self.main(s)
        if pat is None:
            pat = Syn("pat_name", s.start, s.end, ("_",))
        if pat.kind == "pat_name":
            name = pat.args[0]
            d = self.decl(g)
            if type(h) is FVar and (name == "_" or name == "-"):
                return
            old = d.lctx.get(h.id) if type(h) is FVar else None
            if old is not None:
                # a hypothesis: name it where it stands, keeping its free variable, so that the hypotheses and
                # the target that mention it (the witness of an ∃) keep printing and checking
                if old.name == name and not old.inaccessible:
                    return
                lctx = d.lctx.replace(h.id, LocalDecl(h.id, name, old.type, old.value, aux=old.aux))
                ng = self.new_goal(lctx, d.type, d.tag)
                self.assign(g, ng)
                self.replace_main([ng.id])
                return
            ty = self.instantiated(self.el.infer(h, d.lctx))
            fid = fresh_id()
            lctx = d.lctx
            ng = self.new_goal(lctx.add(LocalDecl(fid, name, ty, inaccessible=name == "_")), d.type, d.tag)
            self.assign(g, App(DLam(fid, name, ty, ng), h))
            self.replace_main([ng.id])
            return
        if pat.kind == "pat_alts":
            alts = pat.args[0]
            d = self.decl(g)
            ty = self.whnf(self.instantiated(self.el.infer(h, d.lctx)))
            if app_of(ty, "Or", 2) is None:
                if len(alts) == 1:
                    return self.rcases_on(h, alts[0], s)
                raise ElabError(f"MiniLean: alternative patterns need an `∨`, got\n  {self.el.pp(ty, d.lctx)}",
                                s.start, s.end)
            first = alts[0]
            rest = alts[1:]
            rest_pat = rest[0] if len(rest) == 1 else Syn("pat_alts", rest[0].start, rest[-1].end, (rest,))
            names = {"inl": _field_name(first), "inr": _field_name(rest_pat)}
            gs = self.destruct(g, h, lambda tag, i: names.get(tag), s)
            g1, g2 = gs
            tail = self.goals[2:]
            out = []
            for goal, p in ((g1, first), (g2, rest_pat)):
                self.goals = [goal]
                d2 = self.decl(goal)
                hv = FVar(d2.lctx.decls[-1].fid)
                self.rcases_on(hv, p, s)
                out.extend(self.goals)
            self.goals = out + tail
            return
        if pat.kind == "pat_tuple":
            items = pat.args[0]
            if not items:
                return
            if len(items) == 1:
                return self.rcases_on(h, items[0], s)
            d = self.decl(g)
            ty = self.whnf(self.instantiated(self.el.infer(h, d.lctx)))
            if self.whnf(ty) == FALSE:
                self.destruct(g, h, lambda t, i: None, s)
                return
            fn, args = get_app_fn_args(ty)
            if not (type(fn) is Const and fn.name in ("And", "Exists", "Iff")):
                raise ElabError(f"MiniLean: tuple pattern on a term of type\n  {self.el.pp(ty, d.lctx)}\nis outside "
                                f"the supported fragment", s.start, s.end)
            rest = items[1:]
            rest_pat = rest[0] if len(rest) == 1 else Syn("pat_tuple", rest[0].start, rest[-1].end, (rest,))
            # as Lean's rcases: the fields get the pattern's names when the case split introduces them (a
            # witness named afterwards would leave the hypotheses about it pointing at a variable out of scope)
            fields = (_field_name(items[0]), _field_name(rest_pat))
            gs = self.destruct(g, h, lambda tag, i: fields[i], s)
            ng = gs[0]
            d2 = self.decl(ng)
            f1 = d2.lctx.decls[-2].fid
            f2 = d2.lctx.decls[-1].fid
            tail = self.goals[1:]
            self.goals = [ng]
            self.rcases_on(FVar(f1), items[0], s)
            out = []
            for goal in list(self.goals):
                self.goals = [goal]
                d3 = self.decl(goal)
                if d3.lctx.get(f2) is not None:
                    self.rcases_on(FVar(f2), rest_pat, s)
                out.extend(self.goals)
            self.goals = out + tail
            return
        raise ElabError("unsupported rcases pattern", s.start, s.end)

    # -- combinators
    def t_first(self, s: Syn) -> None:
        last = None
        saved = self.save()
        old = self.recover
        for alt in s.args[0]:
            self.restore(saved)
            self.recover = False
            try:
                self.run_seq(alt)
                self.recover = old
                return
            except (ElabError, AbortTactic) as err:
                last = err
            finally:
                self.recover = old
        self.restore(saved)
        raise last

    def t_try(self, s: Syn) -> None:
        saved = self.save()
        old = self.recover
        self.recover = False
        try:
            self.run_seq(s.args[0])
        except (ElabError, AbortTactic):
            self.restore(saved)
        finally:
            self.recover = old

    def t_repeat(self, s: Syn) -> None:
        self._repeat(s.args[0], 0)

    def _repeat(self, seq: Syn, depth: int) -> None:
        self.prune()
        if depth > MAX_REPEAT or not self.goals:
            return
        saved = self.save()
        old = self.recover
        self.recover = False
        try:
            first, rest = self.goals[0], self.goals[1:]
            self.goals = [first]
            self.run_seq(seq)
            self.prune()
        except (ElabError, AbortTactic):
            self.restore(saved)
            return
        finally:
            self.recover = old
        produced = list(self.goals)
        if produced == [first]:
            self.goals = produced + rest
            return
        out = []
        for g in produced:
            self.goals = [g]
            self._repeat(seq, depth + 1)
            out.extend(self.goals)
        self.goals = out + rest

    def t_all_goals(self, s: Syn) -> None:
        self.prune()
        out = []
        for g in list(self.goals):
            if g in self.el.mctx.assign:
                continue
            self.goals = [g]
            self.run_seq(s.args[0])
            self.prune()
            out.extend(self.goals)
        self.goals = out

    def t_any_goals(self, s: Syn) -> None:
        self.prune()
        out = []
        ok = False
        last = None
        old = self.recover
        for g in list(self.goals):
            saved = self.save()
            self.goals = [g]
            self.recover = False
            try:
                self.run_seq(s.args[0])
                self.prune()
                ok = True
                out.extend(self.goals)
            except (ElabError, AbortTactic) as err:
                last = err
                self.restore(saved)
                out.append(g)
            finally:
                self.recover = old
        self.goals = out
        if not ok:
            raise last if last is not None else ElabError("any_goals failed", s.start, s.end)

    def t_then_all(self, s: Syn) -> None:
        left, right = s.args
        g = self.main(s)
        rest = self.goals[1:]
        self.goals = [g]
        self.run(left)
        self.prune()
        out = []
        for ng in list(self.goals):
            self.goals = [ng]
            self.run(right)
            self.prune()
            out.extend(self.goals)
        self.goals = out + rest

    def t_focus(self, s: Syn) -> None:
        g = self.main(s)
        self._closing_block(g, s.args[0], s.start, s.end)
        self.goals = [x for x in self.goals if x != g]

    def _closing_block(self, g: int, seq: Syn, estart: int, eend: int) -> None:
        sub = TacticRunner(self.el, [g])
        sub.recover = self.recover
        try:
            sub.run_seq(seq)
            sub.prune()
            if sub.goals:
                raise ElabError("unsolved goals\n" + "\n\n".join(self.el.pp_goal(x) for x in sub.goals), estart, eend)
        except ElabError as err:
            if not self.recover:
                raise
            self.el.log(err)
            sub.admit_all()
            if g not in self.el.mctx.assign:
                self.assign(g, Sorry(self.decl(g).type, True, fresh_id()))
        except AbortTactic:
            if not self.recover:
                raise
            sub.admit_all()
            if g not in self.el.mctx.assign:
                self.assign(g, Sorry(self.decl(g).type, True, fresh_id()))

    def t_brace(self, s: Syn) -> None:
        seq, rs, re = s.args
        g = self.main(s)
        self._closing_block(g, seq, rs, re)
        self.goals = [x for x in self.goals if x != g]

    def t_paren_tac(self, s: Syn) -> None:
        self.run_seq(s.args[0])

    def t_case(self, s: Syn) -> None:
        tag, names, seq, arrow = s.args
        self.prune()
        if tag is None or tag == "_":
            if not self.goals:
                raise ElabError("No goals to be solved", s.start, s.end)
            g = self.goals[0]
        else:
            found = [x for x in self.goals if self.decl(x).tag == tag or self.decl(x).tag.endswith("." + tag)]
            if not found:
                note = ("Note: There are no cases to select." if not self.goals else
                        "Available tags:" + "".join(f"\n  {self.decl(x).tag}" for x in self.goals if self.decl(x).tag))
                raise ElabError(f"Case tag `{tag}` not found.\n\n{note}", s.start, s.end)
            g = found[0]
        if names:
            d = self.decl(g)
            inacc = [x for x in d.lctx.decls if x.inaccessible and not x.aux]
            pick = inacc[-len(names):] if len(names) <= len(inacc) else inacc
            lctx = d.lctx
            for dd, (n, _, _) in zip(pick, names[-len(pick):] if pick else []):
                lctx = lctx.replace(dd.fid, LocalDecl(dd.fid, n, dd.type, dd.value, inaccessible=(n == "_")))
            ng = self.new_goal(lctx, d.type, d.tag)
            self.assign(g, ng)
            self.goals = [ng.id if x == g else x for x in self.goals]
            g = ng.id
        d = self.decl(g)
        ng = self.new_goal(d.lctx, d.type, "")
        self.assign(g, ng)
        self.goals = [ng.id if x == g else x for x in self.goals]
        g = ng.id
        self._closing_block(g, seq, s.start, s.end)
        self.goals = [x for x in self.goals if x != g]

    # -- rewriting
    def t_rw(self, s: Syn) -> None:
        self._rewrite(s, try_rfl=True)

    def t_rewrite(self, s: Syn) -> None:
        self._rewrite(s, try_rfl=False)

    def t_rwa(self, s: Syn) -> None:
        self._rewrite(s, try_rfl=False)
        self.t_assumption(s)

    def _rewrite(self, s: Syn, *, try_rfl: bool) -> None:
        rules, loc = s.args
        for rev, rule in rules:
            g = self.main(s)
            self.rewrite1(g, rev, rule, loc, s)
        if try_rfl:
            self.prune()
            if self.goals:
                g = self.goals[0]
                d = self.decl(g)
                eq = app_of(self.instantiated(d.type), "Eq", 3)
                if eq is not None and self._syntactic_eq(eq[1], eq[2]):
                    self.assign(g, mk_app(Const("Eq.refl"), eq[0], eq[1]))
                    self.goals.pop(0)
                    return
                iff = app_of(self.instantiated(d.type), "Iff", 2)
                if iff is not None and iff[0] == iff[1]:
                    self.assign(g, App(Const("Iff.refl"), iff[0]))
                    self.goals.pop(0)

    def _syntactic_eq(self, a: Expr, b: Expr) -> bool:
        a, b = self.instantiated(a), self.instantiated(b)
        if a == b:
            return True
        red = self.el.red
        x, y = red.whnf_core(a), red.whnf_core(b)
        return type(x) is Num and type(y) is Num and x.value == y.value

    def rewrite1(self, g: int, rev: bool, rule: Syn, loc, s: Syn) -> None:
        el = self.el
        d = self.decl(g)
        e = el.elab(rule, None, d.lctx)
        el.default_numerals()
        ety = self.instantiated(el.infer(e, d.lctx))
        while True:
            tw = self.whnf(ety)
            if type(tw) is not Pi:
                break
            m = el.mctx.new_mvar(d.lctx, tw.ty)
            e = App(e, m)
            ety = instantiate(tw.body, m)
        eq = app_of(self.whnf(ety), "Eq", 3)
        iff = app_of(self.whnf(ety), "Iff", 2)
        if eq is not None:
            alpha, lhs, rhs = eq
        elif iff is not None:
            alpha, (lhs, rhs) = PROP, iff
            e = mk_app(Const("propext"), lhs, rhs, e)
        else:
            raise ElabError(f"Tactic `rewrite` failed: equality or iff proof expected\n  {el.pp(ety, d.lctx)}\n\n"
                            f"{el.pp_goal(g)}", rule.start, rule.end)
        if rev:
            e = mk_app(Const("Eq.symm"), alpha, lhs, rhs, e)
            lhs, rhs = rhs, lhs
        if loc is None:
            target = self.instantiated(d.type)
            hyp = None
        else:
            hd = _find(d.lctx, loc[0])
            if hd is None:
                raise ElabError(f"Unknown identifier `{loc[0]}`", loc[1], loc[2])
            target = self.instantiated(hd.type)
            hyp = hd
        inst = self.find_instance(lhs, target)
        if inst is None:
            raise ElabError(
                f"Tactic `rewrite` failed: Did not find an occurrence of the pattern\n  {el.pp(lhs, d.lctx)}\n"
                f"in the target expression\n  {el.pp(target, d.lctx)}\n\n{el.pp_goal(g)}", s.start, s.end)
        lhs_i = self.instantiated(lhs)
        rhs_i = self.instantiated(rhs)
        e = self.instantiated(e)
        alpha = self.instantiated(alpha)
        fid = fresh_id()
        body = abstract_term(target, lhs_i, fid)
        motive = Lam("_a", alpha, abstract(body, fid))
        new_t = instantiate(motive.body, rhs_i)
        congr = mk_app(Const("congrArg"), alpha, PROP, lhs_i, rhs_i, motive, e)
        if hyp is None:
            ng = self.new_goal(d.lctx, new_t, d.tag)
            self.assign(g, mk_app(Const("Eq.mpr"), target, new_t, congr, ng))
            self.replace_main([ng.id] + self.rw_side_goals(e))
        else:
            nf = fresh_id()
            lctx = d.lctx.replace(hyp.fid, LocalDecl(nf, hyp.name, new_t))
            ng = self.new_goal(lctx, d.type, d.tag)
            pf = mk_app(Const("Eq.mp"), target, new_t, congr, FVar(hyp.fid))
            self.assign(g, App(DLam(nf, hyp.name, new_t, ng), pf))
            self.replace_main([ng.id])

    def rw_side_goals(self, e: Expr) -> list[int]:
        out = []
        for mid in mvars_of(e):
            if mid not in self.el.mctx.assign:
                self.decl(mid).synthetic = True
                out.append(mid)
        return out

    def find_instance(self, pat: Expr, target: Expr):
        pat = self.instantiated(pat)
        for sub in _sub_closed(target):
            saved = dict(self.el.mctx.assign)
            if _same_head(pat, sub) and self.el.red.is_def_eq(pat, sub):
                return sub
            self.el.mctx.assign.clear()
            self.el.mctx.assign.update(saved)
        return None

    # -- unsupported
    def t_unsupported(self, s: Syn) -> None:
        raise ElabError(f"MiniLean: tactic `{s.args[0]}` is outside the supported fragment", s.start, s.end)

    def t_exact_q(self, s: Syn) -> None:
        """`exact?`: close the main goal with `rfl`, a hypothesis, or a lemma whose premises are hypotheses."""
        g = self.main(s)
        d = self.decl(g)
        el = self.el
        for text, term in self._exact_candidates(g):
            saved = self.save()
            try:
                e = term()
                if e is not None and not any(m not in el.mctx.assign for m in mvars_of(self.instantiated(e))):
                    e = self.instantiated(e)
                    self.assign(g, e)
                    self.goals.pop(0)
                    shown = el.pp(e, d.lctx) if type(e) is not Const or e.name != "Eq.refl" else "rfl"
                    el.st.messages.append(Msg("info", s.start, s.end, f"Try this:\n  [apply] exact {shown}"))
                    return
            except ElabError:
                pass
            self.restore(saved)
        raise ElabError("`exact?` could not close the goal. Try `apply?` to see partial suggestions.", s.start, s.end)

    def _exact_candidates(self, g: int):
        el = self.el
        d = self.decl(g)
        target = self.instantiated(d.type)
        eq = app_of(self.whnf(target), "Eq", 3)
        if eq is not None:
            yield (lambda: "rfl"), (lambda: mk_app(Const("rfl"), eq[0], eq[1]) if el.unify(eq[1], eq[2]) else None)
        hyps = [h for h in reversed(d.lctx.decls) if not h.aux]
        names = display_names_for(d.lctx)
        for h in hyps:
            yield (lambda h=h: names.get(h.fid, h.name)), (lambda h=h: FVar(h.fid) if el.unify(h.type, target) else None)
        head = get_app_fn_args(self.whnf(target))[0]
        hname = head.name if type(head) is Const else None
        pool = []
        idx = el.env.options.get("premise_index")
        if idx is not None and hname is not None:
            pool.extend(idx[0].get(hname, ())[:200])
        pool.extend(n for n, c in list(el.env.local.items()) + list(el.env.base.items())[:400]
                    if c.kind in ("theorem", "axiom") and n not in pool)
        for n in pool:
            c = el.env.get(n)
            if c is None:
                continue
            concl = c.type
            while type(concl) is Pi:
                concl = concl.body
            ch = get_app_fn_args(concl)[0]
            if type(ch) is Const and hname is not None and ch.name != hname:
                continue
            if type(ch) is not Const:
                continue
            yield from [((lambda n=n, args=None: n), (lambda n=n: self._close_with(n, g)))]

    def _close_with(self, name: str, g: int):
        """`name` applied to mvars unified with the goal, its remaining explicit premises closed by hypotheses."""
        el = self.el
        d = self.decl(g)
        c = el.env.get(name)
        f: Expr = Const(name)
        fty = c.type
        prem: list[MVar] = []
        while True:
            fw = self.whnf(fty)
            if type(fw) is not Pi:
                break
            m = el.mctx.new_mvar(d.lctx, fw.ty)
            if not fw.implicit:
                prem.append(m)
            f = App(f, m)
            fty = instantiate(fw.body, m)
        if not el.unify(fty, d.type):
            return None
        for m in prem:
            if m.id in el.mctx.assign:
                continue
            mt = self.instantiated(el.mctx.decls[m.id].type)
            for h in reversed(d.lctx.decls):
                if not h.aux and el.unify(h.type, mt):
                    el.mctx.assign[m.id] = FVar(h.fid)
                    break
            else:
                return None
        return f

    def t_apply_q(self, s: Syn) -> None:
        raise ElabError("`apply?` is outside MiniLean's fragment", s.start, s.end)


def _conclusion(r: TacticRunner, ty: Expr, n: int) -> Expr:
    t = ty
    for _ in range(n):
        tw = r.whnf(t)
        if type(tw) is not Pi:
            break
        t = instantiate(tw.body, Const("_")) if has_loose_bvar(tw.body) else tw.body
    return t


def _field_name(pat: Syn) -> str | None:
    """The name a constructor field gets from its rcases pattern (Lean's `RCasesPatt.name?`): the pattern's
    own name, None for a tuple or a real alternative (the field is then inaccessible and destructed further)."""
    if pat.kind == "pat_name":
        return pat.args[0]
    if pat.kind == "pat_alts" and len(pat.args[0]) == 1:
        return _field_name(pat.args[0][0])
    return None


def _find(lctx: LocalContext, name: str):
    for d in reversed(lctx.decls):
        if d.name == name and not d.inaccessible:
            return d
    return None


def _sub_closed(e: Expr):
    """Subterms without loose bound variables, outermost first, left to right."""
    out = []

    def go(x: Expr, depth: int) -> None:
        if depth == 0 or not has_loose_bvars(x):
            out.append(x)
        t = type(x)
        if t is App:
            fn, args = get_app_fn_args(x)
            for a in args:
                go(a, depth)
        elif t is Pi or t is Lam:
            go(x.ty, depth)
            go(x.body, depth + 1)

    go(e, 0)
    return out


def _same_head(a: Expr, b: Expr) -> bool:
    fa, aa = get_app_fn_args(a)
    fb, ab = get_app_fn_args(b)
    if type(fa) is MVar:
        return True
    return fa == fb and len(aa) == len(ab) or (type(a) is Num and type(b) is Num) or type(a) is FVar and a == b
