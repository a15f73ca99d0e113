"""Command processing (headers, declarations, #check) and proof states, as the repl sees them."""

from __future__ import annotations

from dataclasses import dataclass, field

from .elab import Elaborator, Msg, SorryRec, repl_order
from .errors import AbortTactic, ElabError, MiniLeanError, ParseError
from .expr import PROP, Expr, Lam, MVar, Num, Pi, Sorry, Const, abstract, fresh_id, fvars_of, has_mvar, has_sorry
from .kernel import ConstInfo, Env, KernelError, LocalContext, LocalDecl, MetaCtx, Reducer
from .pretty import pp_goal, Printer
from .syntax import COMMAND_KEYWORDS, Parser, Source, Syn, parse_tactic_text
from .tactics import TacticRunner


@dataclass
class ProofState:
    env: Env
    mctx: MetaCtx
    goals: list[int]
    roots: list[int]
    aux_fids: frozenset = frozenset()

    def goal_texts(self) -> list[str]:
        return [pp_goal(self.mctx.decls[g].lctx, self.mctx.decls[g].type, self.mctx, self.mctx.decls[g].tag,
                        mathlib=self.env.mathlib, env=self.env) for g in self.goals]


@dataclass
class CommandResult:
    env: Env
    messages: list[dict] = field(default_factory=list)
    sorries: list[tuple[str, tuple | None, ProofState]] = field(default_factory=list)  # goal, (pos, endPos), state
    tactics: list[tuple[dict, ProofState]] = field(default_factory=list)  # allTactics entries (no proofState yet)


def _pos(src: Source | None, off: int | None) -> dict:
    if src is None or off is None:
        return {"line": 0, "column": 0}
    line, col = src.pos(off)
    return {"line": line, "column": col}


def message_json(src: Source | None, m: Msg, default: tuple[int, int] | None = None) -> dict:
    start, end = m.start, m.end
    if start is None and default is not None:
        start, end = default
    return {"severity": m.severity, "pos": _pos(src, start), "endPos": _pos(src, end if end is not None else start),
            "data": m.text.strip()}


def sorry_state(env: Env, mctx: MetaCtx, rec: SorryRec, aux: frozenset) -> tuple[str, ProofState]:
    """A fresh proof state whose single goal is the sorry's goal."""
    m2 = mctx.copy()
    lctx = LocalContext(tuple(LocalDecl(d.fid, d.name, m2.instantiate(d.type), d.value, d.inaccessible, d.aux)
                              for d in rec.lctx.decls))
    ty = m2.instantiate(rec.type)
    g = m2.new_mvar(lctx, ty, tag=rec.tag, synthetic=True)
    text = pp_goal(lctx, ty, m2, rec.tag, mathlib=env.mathlib, env=env)
    return text, ProofState(env, m2, [g.id], [g.id], aux)


def proof_status(ps: ProofState) -> str:
    if ps.goals:
        return "Incomplete: open goals remain"
    if len(ps.roots) != 1:
        return "Not verified: more than one initial goal"
    root = ps.roots[0]
    if root not in ps.mctx.assign:
        return "Error: Goal not assigned"
    v = ps.mctx.instantiate(MVar(root))
    if has_mvar(v):
        return "Incomplete: contains metavariable(s)"
    decl = ps.mctx.decls[root]
    bad = fvars_of(v) & set(ps.aux_fids)
    if bad:
        return ("Error: kernel type check failed: (kernel) declaration has free variables '[anonymous]', "
                f"expression: \n  _fvar.{min(bad)}")
    lctx = LocalContext(tuple(d for d in decl.lctx.decls if not d.aux))
    red = Reducer(ps.env, MetaCtx())
    try:
        ty = red.infer(v, lctx, check=True)
        if not red.is_def_eq(ty, ps.mctx.instantiate(decl.type)):
            return "Error: kernel type check failed: (kernel) declaration type mismatch"
    except KernelError as e:
        return f"Error: kernel type check failed: {e.message}"
    except RecursionError:
        return "Error: kernel type check failed: (kernel) deep recursion detected"
    if has_sorry(v):
        return "Incomplete: contains sorry"
    return "Completed"


class StepFailed(MiniLeanError):
    """A tactic step the repl answers with {"message": "Lean error:\\n..."}."""


def run_tactic(ps: ProofState, text: str) -> tuple[ProofState, list[dict], list[tuple[str, ProofState]]]:
    try:
        seq = parse_tactic_text(text)
    except ParseError as e:
        line, col = Source(text).pos(e.offset)
        raise StepFailed(f"Lean error:\n<input>:{line}:{col + 1 if e.message == 'unknown tactic' else col}: "
                         f"{e.message}") from e
    mctx = ps.mctx.copy()
    el = Elaborator(ps.env, mctx)
    el.source = text
    runner = TacticRunner(el, ps.goals)
    try:
        runner.run_seq(seq)
    except ElabError as e:
        raise StepFailed("Lean error:\n" + e.message) from e
    except AbortTactic as e:
        last = el.st.messages[-1].text if el.st.messages else "tactic failed"
        raise StepFailed("Lean error:\n" + last) from e
    except RecursionError as e:
        raise StepFailed("Lean error:\nmaximum recursion depth has been reached") from e
    runner.prune()
    new = ProofState(ps.env, mctx, runner.goals, ps.roots, ps.aux_fids)
    msgs = [message_json(None, m) for m in el.st.messages]
    sorries = [sorry_state(ps.env, mctx, rec, ps.aux_fids) for rec in repl_order(el.st.sorries)]
    return new, msgs, sorries


class CommandRunner:
    """Processes one `cmd` text on top of an environment (or a fresh one after its header)."""

    def __init__(self, text: str, env: Env | None, load_imports, *, root_goals: bool = False,
                 all_tactics: bool = False) -> None:
        self.text = text
        self.root_goals = root_goals
        self.all_tactics = all_tactics
        self.tactics: list[tuple[dict, ProofState]] = []
        self.root_sorries: list[tuple[str, tuple, ProofState]] = []
        self.src = Source(text)
        self.env0 = env
        self.load_imports = load_imports
        self.messages: list[dict] = []
        self.sorries: list[tuple[str, tuple, ProofState]] = []

    def msg(self, severity: str, text: str, start: int | None, end: int | None) -> None:
        self.messages.append(message_json(self.src, Msg(severity, start, end, text)))

    def run(self) -> CommandResult:
        p = Parser(self.text)
        env = self.env0
        if env is None:
            mods = []
            while p.is_kw("import"):
                t = p.advance()
                m = p.tok
                if m.kind != "ident":
                    self.msg("error", "unexpected token; expected identifier", m.start, m.end)
                    break
                p.advance()
                mods.append((m.text, t.start, m.end))
            try:
                env = self.load_imports([m for m, _, _ in mods])
            except ElabError as e:
                # as Lean's processHeader: one message at the header's start, no end position, and an empty
                # environment (so later declarations fail too)
                line, col = self.src.pos(mods[0][1] if mods else 0)
                self.messages.append({"severity": "error", "pos": {"line": line, "column": col},
                                      "data": e.message.strip()})
                env = Env({}, {}, ())
        self.header_env = env
        while p.tok.kind != "eof":
            start_tok = p.tok
            try:
                env = self.command(p, env)
            except ParseError as e:
                self.msg("error", e.message, e.offset, e.end)
                self.skip_to_command(p, start_tok)
            except ElabError as e:
                self.msg("error", e.message, e.start, e.end)
                self.skip_to_command(p, start_tok)
        return CommandResult(env, self.messages, self.sorries + self.root_sorries, self.tactics)

    def skip_to_command(self, p: Parser, start_tok) -> None:
        if p.tok is start_tok:
            p.advance()
        while p.tok.kind != "eof" and not (p.tok.kind == "ident" and p.tok.text in COMMAND_KEYWORDS
                                           and p.tok.first_on_line):
            p.advance()

    def command(self, p: Parser, env: Env) -> Env:
        t = p.tok
        if t.kind == "sym" and t.text == "#":
            p.advance()
            k = p.tok
            if k.kind != "ident" or k.start != t.end:
                raise ParseError("unexpected token '#'; expected command", t.start)
            p.advance()
            kw = "#" + k.text
            if kw == "#check":
                return self.check_cmd(p, env, t.start, k.end)
            if kw == "#eval":
                return self.eval_cmd(p, env, t.start, k.end)
            raise ElabError(f"MiniLean: command `{kw}` is outside the supported fragment", t.start, k.end)
        if t.kind != "ident":
            p.error_expected("command")
        kw = t.text
        if kw == "lemma" and not any(m.split(".")[0] in ("Mathlib", "Batteries") for m in env.imports):
            p.error_expected("command")  # `lemma` comes with Mathlib/Batteries, as in Lean
        if kw in ("theorem", "lemma", "example", "def", "abbrev"):
            return self.declaration(p, env)
        if kw == "import":
            raise ParseError("invalid 'import' command, it must be used in the beginning of the file", t.start)
        if kw in ("open", "namespace", "section", "end", "universe", "variable", "set_option"):
            p.advance()
            if kw == "set_option":
                p.advance()
                p.advance()
                if p.is_kw("in"):
                    p.advance()
                return env
            if kw == "variable":
                return self.variable_cmd(p, env)
            names = []
            while (p.tok.kind == "ident" and not p.tok.first_on_line and p.tok.text not in COMMAND_KEYWORDS
                   and p.tok.text != "in"):
                names.append(p.advance().text)
            if kw == "open":
                opens = list(env.opens)
                for n in names:
                    full = self._namespace_of(env, n)
                    if full is None:
                        raise ElabError(f"unknown namespace '{n}'", t.start, p.prev_end())
                    opens.append(full)
                if p.is_kw("in"):  # `open X in <command>`: only for that command
                    p.advance()
                    after = self.command(p, env.with_option("open", tuple(opens)))
                    return after.with_option("open", env.opens)
                return env.with_option("open", tuple(opens))
            if kw in ("namespace", "section"):
                stack = env.options.get("scopes", ()) + ((kw, names[0] if names else "", env.namespace,
                                                          env.opens, env.variables),)
                env = env.with_option("scopes", stack)
                if kw == "namespace" and names:
                    ns = f"{env.namespace}.{names[0]}" if env.namespace else names[0]
                    env = env.with_option("namespace", ns)
                return env
            if kw == "end":
                stack = env.options.get("scopes", ())
                if not stack:
                    raise ElabError("invalid 'end', insufficient scopes", t.start, p.prev_end())
                kind, name, ns, opens, variables = stack[-1]
                if (names[0] if names else "") != name:
                    raise ElabError(f"invalid 'end', name mismatch (expected {name or 'nothing'})", t.start,
                                    p.prev_end())
                env = env.with_option("scopes", stack[:-1]).with_option("namespace", ns)
                return env.with_option("open", opens).with_option("variables", variables)
            return env
        p.error_expected("command")

    def _namespace_of(self, env: Env, n: str) -> str | None:
        cands = [f"{env.namespace}.{n}" if env.namespace else n, n]
        for c in cands:
            prefix = c + "."
            if any(k.startswith(prefix) for k in env.local) or any(k.startswith(prefix) for k in env.base):
                return c
        return None

    def variable_cmd(self, p: Parser, env: Env) -> Env:
        binders = p.binders(allow_bare_typed=False)
        if not binders:
            p.error_expected("binder")
        el = Elaborator(env, MetaCtx())
        el.source = self.text
        lctx = LocalContext(tuple(LocalDecl(fid, n, ty) for fid, n, ty, _ in env.variables))
        lctx2, bs = el.elab_binders(binders, lctx)
        el.default_numerals()
        new = tuple((fid, n, el.mctx.instantiate(ty), imp) for fid, n, ty, imp in bs)
        return env.with_option("variables", env.variables + new)

    def eval_cmd(self, p: Parser, env: Env, start: int, end: int) -> Env:
        """`#eval e` for closed Nat/Int/Bool values and decidable propositions."""
        from .decide import Undecidable, evaluate
        s = p.term()
        el = Elaborator(env, MetaCtx())
        el.source = self.text
        lctx = LocalContext()
        e = el.elab(s, None, lctx)
        el.default_numerals()
        el.check_holes()
        e = el.mctx.instantiate(e)
        ty = el.whnf(el.infer(e, lctx))
        if ty == PROP:
            try:
                self.msg("info", "true" if evaluate(el.red, e, lctx) else "false", start, end)
            except Undecidable as err:
                raise ElabError(f"failed to synthesize\n  Decidable {el.pp_arg(e, lctx)}", s.start, s.end) from err
            return env
        v = el.whnf(e)
        if type(v) is Num:
            text = str(v.value)
        elif type(v) is Const and v.name in ("Bool.true", "Bool.false", "Unit.unit"):
            text = {"Bool.true": "true", "Bool.false": "false", "Unit.unit": "()"}[v.name]
        else:
            raise ElabError(f"could not synthesize a 'ToExpr', 'Repr', or 'ToString' instance for type\n  "
                            f"{el.pp(el.infer(e, lctx), lctx)}", s.start, s.end)
        self.msg("info", text, start, end)
        return env

    def check_cmd(self, p: Parser, env: Env, start: int, end: int) -> Env:
        s = p.term()
        el = Elaborator(env, MetaCtx())
        el.source = self.text
        lctx = LocalContext()
        if s.kind == "ident" and s.args[0] in env:
            c = env.get(s.args[0])
            self.msg("info", signature(env, s.args[0], c.type), start, end)
            return env
        e = el.elab(s, None, lctx)
        el.default_numerals()
        ty = el.infer(e, lctx)
        self.msg("info", f"{el.pp(e, lctx)} : {el.pp(ty, lctx)}", start, end)
        return env

    def declaration(self, p: Parser, env: Env) -> Env:
        saved = p.stop_col
        p.stop_col = p.tok.col  # a `by` block or term ends at a line starting at or left of the command
        try:
            return self._declaration(p, env)
        finally:
            p.stop_col = saved

    def _declaration(self, p: Parser, env: Env) -> Env:
        kw = p.advance()
        kind = kw.text
        name = None
        if kind != "example":
            nt = p.advance()
            if nt.kind != "ident":
                raise ParseError("expected identifier", nt.start)
            name = nt
        ref = (name.start, name.end) if name else (kw.start, kw.end)
        binders = p.binders(allow_bare_typed=False)
        ty_s = None
        if p.is_sym(":"):
            p.advance()
            ty_s = p.term()
        if not p.is_sym(":="):
            p.error_expected("':='")
        p.advance()
        body_s = p.term()
        mctx = MetaCtx()
        el = Elaborator(env, mctx)
        el.source = self.text
        if self.all_tactics:
            el.st.tactic_log = []
        variables = env.variables
        lctx = LocalContext(tuple(LocalDecl(fid, n, t) for fid, n, t, _ in variables))
        value: Expr | None = None
        ty: Expr | None = None
        aux = frozenset()
        full_name = None
        if name is not None:
            full_name = f"{env.namespace}.{name.text}" if env.namespace else name.text
        if full_name is not None and full_name in env:
            self.msg("error", f"'{full_name}' has already been declared", name.start, name.end)
            return env
        try:
            lctx, bs = el.elab_binders(binders, lctx)
            if ty_s is not None:
                ty = el.elab_type(ty_s, lctx)
                el.default_numerals()
                el.check_holes()
                ty = mctx.instantiate(ty)
                if kind in ("theorem", "lemma") and not el.red.is_prop(ty, lctx):
                    raise ElabError(f"type of theorem '{full_name}' is not a proposition\n  {el.pp(ty, lctx)}",
                                    ty_s.start, ty_s.end)
            if variables:
                lctx = self._used_variables(lctx, variables, ty, mctx)
            if name is not None and ty is not None:
                fid = fresh_id()
                full = ty
                for d in reversed([d for d in lctx.decls if not d.aux]):
                    full = Pi(d.name, d.type, abstract(full, d.fid))
                lctx = lctx.add(LocalDecl(fid, name.text, full, aux=True))
                aux = frozenset([fid])
            value = self.elab_body(el, body_s, ty, lctx)
            if ty is None:
                ty = mctx.instantiate(el.infer(value, lctx))
        except ElabError as e:
            el.log(e)
        except AbortTactic:
            pass
        except RecursionError:
            el.log(ElabError("maximum recursion depth has been reached", body_s.start, body_s.end))
        for m in el.st.messages:
            self.messages.append(message_json(self.src, m, ref))
        has_err = any(m.severity == "error" for m in el.st.messages)
        if value is not None:
            value = mctx.instantiate(value)
            if not has_err and has_mvar(value):
                self.msg("error", f"(kernel) declaration has metavariables '{name.text if name else '_example'}'",
                         *ref)
                has_err = True
            if aux and fvars_of(value) & aux:
                nm = name.text
                self.msg("error", f"fail to show termination for\n  {nm}\nwith errors\nfailed to infer structural "
                                  f"recursion:\nno parameters suitable for structural recursion\n\nwell-founded "
                                  f"recursion cannot be used, `{nm}` does not take any (non-fixed) arguments", *ref)
                has_err = True
        # sorries: in elaboration order, each with a proof state over the environment before this command
        before_env = self.header_env if self.env0 is None else self.env0
        for rec in repl_order(el.st.sorries):
            text, st = sorry_state(before_env, mctx, rec, aux)
            self.sorries.append((text, (rec.start, rec.end), st))
        for rec in el.st.tactic_log or ():
            self.tactics.append(self.tactic_entry(before_env, rec, aux))
        if self.root_goals and ty is not None and body_s.kind == "by":
            text, st = sorry_state(before_env, MetaCtx(), SorryRec(lctx, ty, "", body_s.start, body_s.start), aux)
            self.root_sorries.append((text, (body_s.start, body_s.start), st))
        if not has_err and value is not None and has_sorry(value):
            self.msg("warning", "declaration uses `sorry`", *ref)
        if ty is None:
            return env
        full_ty = mctx.instantiate(ty)
        full_val = value if value is not None and not has_err else Sorry(ty, True, 0)
        for d in reversed([d for d in lctx.decls if not d.aux]):
            full_ty = Pi(d.name, mctx.instantiate(d.type), abstract(full_ty, d.fid))
            full_val = Lam(d.name, mctx.instantiate(d.type), abstract(full_val, d.fid))
        if has_mvar(full_ty) or has_mvar(full_val):
            full_val = Sorry(full_ty, True, 0)
            if has_mvar(full_ty):
                return env
        if not has_err:
            problem = kernel_check(env, full_ty, full_val)
            if problem is not None:
                self.msg("error", problem, *ref)
                return env
        if name is None:
            return env
        return env.add(ConstInfo(full_name, full_ty, full_val, "def" if kind in ("def", "abbrev") else "theorem",
                                 has_err or has_sorry(full_val)))

    def tactic_entry(self, env: Env, rec, aux: frozenset) -> tuple[dict, ProofState]:
        mctx = rec.mctx_before
        texts = [pp_goal(mctx.decls[g].lctx, mctx.decls[g].type, mctx, mctx.decls[g].tag, mathlib=env.mathlib,
                         env=env) for g in rec.goals]
        l1, c1 = self.src.pos(rec.syn.start)
        l2, c2 = self.src.pos(rec.syn.end)
        text = self.text[rec.syn.start:rec.syn.end]
        if rec.syn.kind == "calc_steps":
            text = "\n" + " " * c1 + text
        entry = {"tactic": text, "goals": "\n\n".join(texts) or "no goals",
                 "pos": {"line": l1, "column": c1}, "endPos": {"line": l2, "column": c2},
                 "usedConstants": rec.used_constants}
        return entry, ProofState(env, mctx.copy(), list(rec.goals), list(rec.goals), aux)

    def _used_variables(self, lctx: LocalContext, variables, ty: Expr | None, mctx: MetaCtx) -> LocalContext:
        """Keep the section variables the signature mentions (and those their types mention)."""
        var_ids = {fid for fid, _, _, _ in variables}
        used: set[int] = set()
        todo = [mctx.instantiate(d.type) for d in lctx.decls if d.fid not in var_ids]
        if ty is not None:
            todo.append(ty)
        while todo:
            e = todo.pop()
            for fid in fvars_of(e):
                if fid in var_ids and fid not in used:
                    used.add(fid)
                    todo.append(lctx.get(fid).type)
        return LocalContext(tuple(d for d in lctx.decls if d.fid not in var_ids or d.fid in used))

    def elab_body(self, el: Elaborator, body_s: Syn, ty: Expr | None, lctx: LocalContext) -> Expr:
        if body_s.kind == "by":
            if ty is None:
                raise ElabError("invalid 'by' tactic, expected type has not been provided", body_s.start, body_s.end)
            g = el.mctx.new_mvar(lctx, ty, synthetic=True)
            runner = TacticRunner(el, [g.id])
            try:
                runner.run_block(body_s.args[0], body_s)
            except ElabError as e:
                el.log(e)
                return Sorry(ty, True, fresh_id())
            except AbortTactic:
                return Sorry(ty, True, fresh_id())
            return MVar(g.id)
        try:
            v = el.elab(body_s, ty, lctx)
            el.default_numerals()
            el.check_holes()
            runner = TacticRunner(el, [])
            runner.run_pending()
        except ElabError as e:
            if ty is None:
                raise
            el.log(e)
            return Sorry(ty, True, fresh_id())
        return v


def kernel_check(env: Env, ty: Expr, value: Expr) -> str | None:
    """Re-check a declaration from scratch, as Lean's kernel does on `addDecl`; the error text, or None."""
    red = Reducer(env, MetaCtx())
    try:
        red.ensure_sort(ty, LocalContext(), True)
        vty = red.infer(value, LocalContext(), check=True)
        if not red.is_def_eq(vty, ty):
            return "(kernel) declaration type mismatch"
    except KernelError as e:
        return e.message
    except RecursionError:
        return "(kernel) deep recursion detected"
    return None


def signature(env: Env, name: str, ty: Expr) -> str:
    """`name (x : A) (h : p) : T` the way `#check` prints a constant."""
    pr = Printer(None, None, mathlib=env.mathlib, env=env)
    groups: list[tuple[list[str], str, bool]] = []
    bound: list[str] = []
    cur = ty
    while type(cur) is Pi and not cur.name.endswith("✝"):
        tys = pr.fmt(cur.ty, 0, bound)
        if groups and groups[-1][1] == tys and groups[-1][2] == cur.implicit:
            groups[-1][0].append(cur.name)
        else:
            groups.append(([cur.name], tys, cur.implicit))
        bound.append(cur.name)
        cur = cur.body
    parts = [("{" if imp else "(") + " ".join(ns) + " : " + t + ("}" if imp else ")") for ns, t, imp in groups]
    head = " ".join([name] + parts)
    return f"{head} : {pr.fmt(cur, 0, bound)}"
