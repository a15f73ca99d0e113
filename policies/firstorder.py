"""Goal-directed proposals for first-order goals: equality, ``∃``, ``∀``, and Nat/Int facts of core lemmas.

:class:`FirstOrderProposer` reads a goal with :func:`lean_env.goals.parse_goal` and :func:`lean_env.terms.parse_term`.
A goal whose target the propositional reader understands (atoms, ``¬ ∧ ∨ → ↔``) goes to the wrapped
:class:`~policies.proposers.PropositionalProposer` unchanged; any other goal gets a *main line* (the first rule
below that applies, weight ``main_weight``), alternates (``alternate_weight``) and extras (``extra_weight``),
normalised into priors as the propositional proposer does:

1. **close**: ``exact h`` (a hypothesis is the target, up to renaming of bound variables); ``rfl`` (``a = a``);
   ``decide`` / ``rfl`` (a closed arithmetic target); ``exact h.symm`` (``h : b = a`` for ``a = b``);
   ``exact h1.trans (h2.symm)…`` (a path of hypothesis equalities from ``a`` to ``b``); ``exact h t … p …``
   or ``exact (h t).2`` (a hypothesis ``∀ x, P → C`` whose conclusion -- or an ``∧``-part of it, or an
   equation's mirror image with ``.symm`` -- matches the target, with its premises found among the
   hypotheses); ``exact Nat.le_trans h1 h2`` / ``exact Nat.add_comm a b``
   (the same with a core lemma of :func:`lean_env.lemmas.core_lemmas`); ``exact ⟨t, h⟩`` (an ``∃`` target whose
   body, with witness ``t``, is a hypothesis, a conjunction of hypotheses, or ``t = t``);
2. **intro** every leading ``∀`` binder and ``→`` premise of the target (``intro h n``);
3. **take apart** a hypothesis: ``cases h; rename_i x hx`` for ``∃`` (alternate: ``obtain ⟨x, hx⟩ := h``),
   ``obtain ⟨h1, h2⟩ := h`` for ``∧``/``↔``, ``rcases h with h1 | h2`` for ``∨``; ``rename_i`` names
   inaccessible hypotheses (``h✝``) so later steps can use them;
4. **split** the target: ``constructor`` (``∧``, ``↔``), ``left``/``right`` (``∨``, towards a side that is a
   hypothesis); ``refine ⟨t, ?_⟩`` for an ``∃`` target, with witnesses taken from the hypotheses' and the
   goal's terms (then ``0``);
5. **rewrite**: ``rw [h]`` / ``rw [← h]`` with a hypothesis equality whose side occurs in the target;
   ``rw [L]`` with a core equation lemma whose left side matches a subterm of the target; ``apply h`` for a
   hypothesis whose conclusion matches the target but whose premises are not at hand.

Extras on every first-order goal: ``rfl``, ``assumption``, the remaining rewrites and witnesses, ``have :=
h t`` specialisations.  Everything proposed is plain Lean 4 core syntax.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np
from lean_env.errors import GoalParseError as LeanGoalParseError
from lean_env.errors import TermParseError
from lean_env.goals import parse_goal
from lean_env.lemmas import core_lemmas
from lean_env.terms import Anon, App, BinOp, Binder, Ident, Num, Quant, Term, Typed, UnOp, format_term, parse_term

from policies.base import TacticProposal
from policies.errors import GoalParseError, StatsError
from policies.goalview import TYPE_NAMES, read_goal
from policies.proposers import PropositionalProposer, normalise

__all__ = ["FirstOrderProposer", "alpha_equal", "match_term"]

_META = "?"  # prefix of pattern variables in match_term


# ------------------------------------------------------------------------------------------------ terms


def _canon(t: Term, bound: dict[str, str], depth: list[int]) -> Term:
    """``t`` with bound variables renamed ``#0, #1, …`` by binding order and binder types dropped."""
    if isinstance(t, Ident):
        return Ident(bound.get(t.name, t.name))
    if isinstance(t, App):
        return App(_canon(t.fn, bound, depth), tuple(_canon(a, bound, depth) for a in t.args))
    if isinstance(t, BinOp):
        return BinOp(t.op, _canon(t.lhs, bound, depth), _canon(t.rhs, bound, depth))
    if isinstance(t, UnOp):
        return UnOp(t.op, _canon(t.arg, bound, depth))
    if isinstance(t, Typed):
        return _canon(t.term, bound, depth)
    if isinstance(t, Anon):
        return Anon(tuple(_canon(a, bound, depth) for a in t.items))
    if isinstance(t, Quant):
        inner = dict(bound)
        names = []
        for b in t.binders:
            for n in b.names:
                inner[n] = f"#{depth[0]}"
                names.append(inner[n])
                depth[0] += 1
        return Quant(t.kind, (Binder(tuple(names)),), _canon(t.body, inner, depth))
    return t


def canonical(t: Term) -> Term:
    """``t`` up to renaming of bound variables (binder types dropped, ``∀ x y`` and ``∀ x, ∀ y`` kept apart)."""
    return _canon(t, {}, [0])


def alpha_equal(a: Term, b: Term) -> bool:
    """True when ``a`` and ``b`` differ at most in the names of bound variables and in binder types."""
    return canonical(a) == canonical(b)


def _children(t: Term) -> tuple[Term, ...]:
    if isinstance(t, App):
        return (t.fn, *t.args)
    if isinstance(t, BinOp):
        return (t.lhs, t.rhs)
    if isinstance(t, UnOp):
        return (t.arg,)
    if isinstance(t, Typed):
        return (t.term,)
    if isinstance(t, Anon):
        return t.items
    if isinstance(t, Quant):
        return (t.body,)
    return ()


def match_term(
    pattern: Term, term: Term, metas: frozenset[str], subst: dict[str, Term] | None = None
) -> dict[str, Term] | None:
    """First-order matching: a substitution for the identifiers ``metas`` of ``pattern`` that makes it equal to
    ``term``, extending ``subst``; ``None`` when there is none.  Both sides are compared as given (canonicalise
    them first to ignore bound-variable names)."""
    out = dict(subst or {})
    stack = [(pattern, term)]
    while stack:
        p, t = stack.pop()
        if isinstance(p, Ident) and p.name in metas:
            if p.name in out:
                if out[p.name] != t:
                    return None
            else:
                out[p.name] = t
            continue
        if type(p) is not type(t):
            return None
        if isinstance(p, (Ident, Num)):
            if p != t:
                return None
            continue
        if isinstance(p, BinOp) and p.op != t.op or isinstance(p, UnOp) and p.op != t.op:
            return None
        if isinstance(p, Quant) and (p.kind != t.kind or p.binders != t.binders):
            return None
        pc, tc = _children(p), _children(t)
        if len(pc) != len(tc):
            return None
        stack.extend(zip(pc, tc))
    return out


def substitute(t: Term, subst: dict[str, Term]) -> Term:
    """``t`` with the identifiers of ``subst`` replaced (no capture check: the names are fresh metas)."""
    if isinstance(t, Ident):
        return subst.get(t.name, t)
    if isinstance(t, App):
        fn = substitute(t.fn, subst)
        args = tuple(substitute(a, subst) for a in t.args)
        return App(fn.fn, fn.args + args) if isinstance(fn, App) else App(fn, args)
    if isinstance(t, BinOp):
        return BinOp(t.op, substitute(t.lhs, subst), substitute(t.rhs, subst))
    if isinstance(t, UnOp):
        return UnOp(t.op, substitute(t.arg, subst))
    if isinstance(t, Typed):
        return Typed(substitute(t.term, subst), t.type)
    if isinstance(t, Anon):
        return Anon(tuple(substitute(a, subst) for a in t.items))
    if isinstance(t, Quant):
        inner = {k: v for k, v in subst.items() if all(k not in b.names for b in t.binders)}
        return Quant(t.kind, t.binders, substitute(t.body, inner))
    return t


def _subterms(t: Term) -> Iterator[Term]:
    stack = [t]
    while stack:
        s = stack.pop()
        yield s
        stack.extend(reversed(_children(s)))


def _free_idents(t: Term) -> set[str]:
    return {s.name for s in _subterms(canonical(t)) if isinstance(s, Ident) and not s.name.startswith("#")}


def _arg(t: Term) -> str:
    """``t`` as an application argument (parenthesised unless atomic)."""
    text = format_term(t)
    return text if isinstance(t, (Ident, Num, Anon)) else f"({text})"


class _Schema:
    """A statement ``∀ binders, P1 → … → C`` with its binders turned into pattern variables."""

    def __init__(self, head: str, statement: Term, *, explicit_all: bool) -> None:
        self.head = head
        self.vars: list[tuple[str, bool]] = []  # (meta name, explicit)
        self.premises: list[Term] = []
        rename: dict[str, Term] = {}
        t = statement
        while True:
            if isinstance(t, Quant) and t.kind == "∀":
                for b in t.binders:
                    explicit = explicit_all or b.bracket in ("", "(")
                    for n in b.names:
                        meta = f"{_META}{len(self.vars)}"
                        self.vars.append((meta, explicit))
                        rename[n] = Ident(meta)
                t = t.body
            elif isinstance(t, BinOp) and t.op == "→":
                self.premises.append(substitute(t.lhs, rename))
                t = t.rhs
            else:
                break
        self.conclusion = canonical(substitute(t, rename))
        self.premises = [canonical(p) for p in self.premises]
        self.metas = frozenset(m for m, _ in self.vars)

    def parts(self) -> Iterator[tuple[Term, str]]:
        """The conclusion and its ``∧``-parts, each with the projection suffix that reaches it (``.1``, ``.2.1``);
        an equation also as its mirror image (suffix ``.symm``)."""
        stack = [(self.conclusion, "")]
        while stack:
            c, path = stack.pop(0)
            yield c, path
            if isinstance(c, BinOp) and c.op == "=":
                yield BinOp("=", c.rhs, c.lhs), path + ".symm"
            if isinstance(c, BinOp) and c.op == "∧":
                stack += [(c.lhs, path + ".1"), (c.rhs, path + ".2")]


# ------------------------------------------------------------------------------------------------ the proposer


class _Context:
    """One goal: data variables (name -> type), named proofs (name -> canonical type), inaccessible names."""

    def __init__(self, text: str) -> None:
        try:
            goal = parse_goal(text).one_line()
        except LeanGoalParseError as e:
            raise GoalParseError(f"cannot read goal {text!r}: {e.reason}") from e
        self.names = set(goal.names())
        self.variables: dict[str, Term | None] = {}
        self.hyps: list[tuple[str, Term]] = []
        self.inaccessible: list[str] = []
        for h in goal.hyps:
            ty = _parse(h.type)
            for name in h.names:
                if "✝" in name:
                    self.inaccessible.append(name)
                    continue
                if h.type in ("Prop", "Type") or _is_type(ty):
                    self.variables[name] = ty
                elif ty is not None and h.value is None:
                    self.hyps.append((name, canonical(ty)))
        self.target_raw = _parse(goal.target)
        self.target = canonical(self.target_raw) if self.target_raw is not None else None
        self.numeric = self._numeric()

    def _numeric(self) -> frozenset[str]:
        """The lemma namespaces (``Nat.``/``Int.``) that fit the target: those of the types of its free
        variables; ``Nat.`` for a target without variables (a literal is a ``Nat``)."""
        if self.target is None:
            return frozenset()
        kinds = set()
        for name in _free_idents(self.target):
            ty = self.variables.get(name)
            if isinstance(ty, Ident) and ty.name in _NUMERIC:
                kinds.add(_NUMERIC[ty.name])
        return frozenset(kinds or {"Nat."})

    def fresh(self, base: str) -> Iterator[str]:
        if base not in self.names and base.isidentifier():
            self.names.add(base)
            yield base
        for i in itertools.count(1):
            name = f"{base}{i}"
            if name not in self.names:
                self.names.add(name)
                yield name


_NUMERIC = {"Nat": "Nat.", "ℕ": "Nat.", "Int": "Int.", "ℤ": "Int."}


def _parse(text: str) -> Term | None:
    try:
        return parse_term(text)
    except TermParseError:
        return None


def _is_type(t: Term | None) -> bool:
    """True for a type of data or of predicates: ``Nat``, ``Int → Prop``, ``Nat → Nat → Nat``."""
    if isinstance(t, Ident):
        return t.name in TYPE_NAMES or t.name in ("ℕ", "ℤ", "ℚ", "ℝ")
    if isinstance(t, BinOp) and t.op == "→":
        return _is_type(t.lhs) and _is_type(t.rhs)
    return False


def _is_closed_arith(t: Term) -> bool:
    return all(isinstance(s, (Num, BinOp, UnOp)) and (not isinstance(s, BinOp) or s.op in "=≠<>≤≥+-*/%^")
               for s in _subterms(t))


class FirstOrderProposer:
    """Goal-directed proposer for MiniLean's first-order fragment (see the module docstring).

    Propositional goals go to ``propositional`` (default: ``PropositionalProposer()``) unchanged.  Knobs as
    the propositional proposer's: ``main_weight``, ``alternate_weight``, ``extra_weight``, ``max_proposals``;
    ``lemmas`` is a sequence of ``(name, statement)`` (default :func:`lean_env.lemmas.core_lemmas`);
    ``max_witnesses`` bounds the ``∃`` witnesses tried per goal.  A given lemma statement that
    :func:`lean_env.terms.parse_term` cannot read is an error; default lemmas it cannot read are left out.
    """

    def __init__(
        self,
        *,
        main_weight: float = 1.0,
        alternate_weight: float = 0.002,
        extra_weight: float = 0.001,
        max_proposals: int = 8,
        max_witnesses: int = 4,
        lemmas: Sequence[tuple[str, str]] | None = None,
        propositional: PropositionalProposer | None = None,
    ) -> None:
        if max_proposals < 1 or max_witnesses < 1:
            raise StatsError(f"max_proposals={max_proposals} and max_witnesses={max_witnesses} must be >= 1")
        if not (main_weight > 0 and alternate_weight >= 0 and extra_weight >= 0):
            raise StatsError("main_weight must be > 0 and alternate_weight, extra_weight >= 0")
        self.main_weight = main_weight
        self.alternate_weight = alternate_weight
        self.extra_weight = extra_weight
        self.max_proposals = max_proposals
        self.max_witnesses = max_witnesses
        self.propositional = propositional or PropositionalProposer()
        self.lemmas: list[_Schema] = []
        for name, statement in core_lemmas() if lemmas is None else lemmas:
            term = _parse(statement)
            if term is None and lemmas is None:
                continue  # core notation lean_env.terms does not read (`(-a).natAbs`): not proposable
            if term is None:
                raise StatsError(f"lemma {name}: cannot read its statement {statement!r}")
            self.lemmas.append(_Schema(name, term, explicit_all=False))

    def __repr__(self) -> str:
        return (f"FirstOrderProposer(main_weight={self.main_weight}, alternate_weight={self.alternate_weight}, "
                f"extra_weight={self.extra_weight}, lemmas={len(self.lemmas)})")

    # ------------------------------------------------------------------ interface
    def propose(self, goals: Sequence[str], *, rng: np.random.Generator | None = None) -> list[TacticProposal]:
        """Proposals for the main goal ``goals[0]``, highest prior first."""
        if not goals:
            return []
        try:
            if read_goal(goals[0]).target is not None:
                return self.propositional.propose(goals, rng=rng)
            ctx = _Context(goals[0])
        except GoalParseError:
            return self.propositional.propose(goals, rng=rng)
        if ctx.target is None:
            return self.propositional.propose(goals, rng=rng)
        main, alternates, extras = self.plan(ctx)
        weighted = [(t, self.main_weight) for t in main[:1]]
        weighted += [(t, self.alternate_weight) for t in main[1:] + alternates]
        weighted += [(t, self.extra_weight) for t in extras]
        if not weighted:
            return self.propositional.propose(goals, rng=rng)
        return normalise(weighted)[: self.max_proposals]

    # ------------------------------------------------------------------ strategy
    def plan(self, ctx: _Context) -> tuple[list[str], list[str], list[str]]:
        """(main-line spellings, alternates, extras) for one first-order goal."""
        closers = self._closers(ctx)
        rewrites = self._rewrites(ctx)
        witnesses = self._witness_steps(ctx)
        applies = self._applies(ctx)
        extras = ["rfl", "assumption"] + rewrites + witnesses[1:] + applies + self._specialise(ctx)
        if closers:
            return closers[:1], closers[1:], extras
        for step in (self._rename, self._intro, self._take_apart, self._split):
            main = step(ctx)
            if main:
                return main[:1], main[1:], [t for t in extras if t not in main]
        main = witnesses[:1] or rewrites[:1] or applies[:1]
        return main, [], [t for t in extras if t not in main]

    def _lemmas_for(self, ctx: _Context) -> list[_Schema]:
        """The lemmas whose namespace fits the target's variables (``Nat.`` lemmas for a ``Nat`` goal)."""
        namespaces = tuple(_NUMERIC.values())
        return [s for s in self.lemmas if not s.head.startswith(namespaces) or s.head.startswith(tuple(ctx.numeric))]

    # -- close
    def _closers(self, ctx: _Context) -> list[str]:
        target = ctx.target
        out: list[str] = []
        for name, ty in ctx.hyps:
            if ty == target:
                out.append(f"exact {name}")
        if isinstance(target, BinOp) and target.op == "=":
            if target.lhs == target.rhs:
                out.append("rfl")
            for name, ty in ctx.hyps:
                if isinstance(ty, BinOp) and ty.op == "=" and (ty.lhs, ty.rhs) == (target.rhs, target.lhs):
                    out += [f"exact {name}.symm", f"exact Eq.symm {name}"]
            chain = self._eq_chain(ctx, target.lhs, target.rhs)
            if chain:
                out.append(f"exact {chain}")
        if _is_closed_arith(target):
            out += ["decide", "rfl"]
        out += self._instances(ctx, [(name, _Schema(name, ty, explicit_all=True)) for name, ty in ctx.hyps])
        out += self._instances(ctx, [(s.head, s) for s in self._lemmas_for(ctx)])
        out += self._exists_closers(ctx)
        return list(dict.fromkeys(out))

    @staticmethod
    def _eq_chain(ctx: _Context, a: Term, b: Term) -> str | None:
        """A proof term of ``a = b`` through at least two hypothesis equalities (breadth-first: shortest)."""
        edges: list[tuple[Term, Term, str]] = []
        for name, ty in ctx.hyps:
            if isinstance(ty, BinOp) and ty.op == "=":
                edges += [(ty.lhs, ty.rhs, name), (ty.rhs, ty.lhs, f"{name}.symm")]
        frontier: list[tuple[Term, list[str]]] = [(a, [])]
        seen = {a}
        while frontier:
            nxt = []
            for node, proof in frontier:
                for x, y, step in edges:
                    if x == node and y not in seen:
                        if y == b and proof:
                            return _trans_term(proof + [step])
                        seen.add(y)
                        nxt.append((y, proof + [step]))
            frontier = nxt
        return None

    def _instances(self, ctx: _Context, schemas: Sequence[tuple[str, _Schema]]) -> list[str]:
        """``exact head args… premises…`` (with ``∧`` projections) when a schema's conclusion matches the target
        and each premise is a hypothesis; the target's own hypotheses are skipped (``exact h`` covers them)."""
        out: list[str] = []
        by_type: dict[Term, str] = {}
        for name, ty in ctx.hyps:
            by_type.setdefault(ty, name)
        for head, schema in schemas:
            if not schema.vars and not schema.premises and schema.conclusion == ctx.target:
                continue
            for part, path in schema.parts():
                subst = match_term(part, ctx.target, schema.metas)
                if subst is None:
                    continue
                proofs = self._premise_proofs(schema, subst, by_type)
                if proofs is None:
                    continue
                args = []
                ok = True
                for meta, explicit in schema.vars:
                    if not explicit:
                        continue
                    if meta not in subst:
                        ok = False
                        break
                    args.append(_arg(subst[meta]))
                if not ok:
                    continue
                app = " ".join([head, *args, *proofs])
                out.append(f"exact {app}" if not path else f"exact ({app}){path}")
        return out

    @staticmethod
    def _premise_proofs(schema: _Schema, subst: dict[str, Term], by_type: dict[Term, str]) -> list[str] | None:
        """Hypothesis names proving each premise after ``subst`` (premise metas not fixed by the conclusion are
        matched against the hypotheses in order); ``None`` when one is missing."""
        proofs = []
        for prem in schema.premises:
            found = None
            for ty, name in by_type.items():
                s2 = match_term(prem, ty, schema.metas, subst)
                if s2 is not None:
                    subst.update(s2)
                    found = name
                    break
            if found is None:
                return None
            proofs.append(found)
        return proofs

    def _exists_closers(self, ctx: _Context) -> list[str]:
        t = ctx.target
        if not (isinstance(t, Quant) and t.kind == "∃" and len(t.binders[0].names) == 1):
            return []
        var = t.binders[0].names[0]
        body = t.body
        metas = frozenset({var})
        out = []
        conjuncts = _conjuncts(body)
        hyp_types = {ty: name for name, ty in ctx.hyps}
        for name, ty in ctx.hyps:
            s = match_term(body, ty, metas)
            if s is not None and var in s:
                out.append(f"exact ⟨{format_term(s[var])}, {name}⟩")
        if len(conjuncts) > 1:
            for name, ty in ctx.hyps:
                s = match_term(conjuncts[0], ty, metas)
                if s is None or var not in s:
                    continue
                parts = [hyp_types.get(canonical(substitute(c, s))) for c in conjuncts]
                if all(parts):
                    out.append(f"exact ⟨{format_term(s[var])}, {', '.join(parts)}⟩")
        if isinstance(body, BinOp) and body.op == "=":
            for side, other in ((body.lhs, body.rhs), (body.rhs, body.lhs)):
                if side == Ident(var) and var not in _free_idents(other):
                    out.append(f"exact ⟨{format_term(other)}, rfl⟩")
        return out

    # -- structural steps
    def _rename(self, ctx: _Context) -> list[str]:
        if not ctx.inaccessible:
            return []
        names = [next(ctx.fresh("x" if ctx.inaccessible[i].startswith(("w", "x", "n", "a")) else "h"))
                 for i in range(len(ctx.inaccessible))]
        return [f"rename_i {' '.join(names)}"]

    def _intro(self, ctx: _Context) -> list[str]:
        t = ctx.target_raw
        names: list[str] = []
        while len(names) < 8:
            if isinstance(t, Quant) and t.kind == "∀":
                for b in t.binders:
                    names += [next(ctx.fresh(n)) for n in b.names]
                t = t.body
            elif isinstance(t, BinOp) and t.op == "→":
                names.append(next(ctx.fresh("h")))
                t = t.rhs
            elif isinstance(t, UnOp) and t.op == "¬":
                names.append(next(ctx.fresh("h")))
                break
            else:
                break
        if not names:
            return []
        return [f"intro {' '.join(names)}"] + ([f"intro {names[0]}"] if len(names) > 1 else [])

    def _take_apart(self, ctx: _Context) -> list[str]:
        for name, ty in ctx.hyps:
            if isinstance(ty, Quant) and ty.kind == "∃":
                x, hx = next(ctx.fresh("x")), next(ctx.fresh("h"))
                return [f"cases {name}; rename_i {x} {hx}", f"obtain ⟨{x}, {hx}⟩ := {name}"]
            if isinstance(ty, BinOp) and ty.op in ("∧", "↔"):
                a, b = next(ctx.fresh("h")), next(ctx.fresh("h"))
                return [f"obtain ⟨{a}, {b}⟩ := {name}", f"rcases {name} with ⟨{a}, {b}⟩"]
            if isinstance(ty, BinOp) and ty.op == "∨":
                a, b = next(ctx.fresh("h")), next(ctx.fresh("h"))
                return [f"rcases {name} with {a} | {b}", f"obtain {a} | {b} := {name}"]
        return []

    def _split(self, ctx: _Context) -> list[str]:
        t = ctx.target
        if isinstance(t, BinOp) and t.op in ("∧", "↔"):
            return ["constructor"]
        if isinstance(t, BinOp) and t.op == "∨":
            holds = {ty for _n, ty in ctx.hyps}
            return ["right", "left"] if t.rhs in holds and t.lhs not in holds else ["left", "right"]
        return []

    def _witnesses(self, ctx: _Context) -> list[Term]:
        """Candidate ``∃`` witnesses: terms that make the body match a hypothesis first, then the variables and
        numerals of the goal (data variables of the context, then the terms under the hypotheses), then ``0``."""
        t = ctx.target
        if not (isinstance(t, Quant) and t.kind == "∃"):
            return []
        var = t.binders[0].names[0]
        out: list[Term] = []
        for _name, ty in ctx.hyps:
            for part in [t.body, *_conjuncts(t.body)]:
                s = match_term(part, ty, frozenset({var}))
                if s is not None and var in s:
                    out.append(s[var])
        for name, ty in ctx.variables.items():
            if not (isinstance(ty, BinOp) or (isinstance(ty, Ident) and ty.name in ("Prop", "Type"))):
                out.append(Ident(name))
        for _name, ty in ctx.hyps:
            out += [s for s in _subterms(ty) if isinstance(s, Num)]
        out.append(Num(0))
        return list(dict.fromkeys(out))[: self.max_witnesses]

    def _witness_steps(self, ctx: _Context) -> list[str]:
        return [f"refine ⟨{_arg(w)}, ?_⟩" for w in self._witnesses(ctx)] + \
               [f"exists {_arg(w)}" for w in self._witnesses(ctx)[:1]]

    def _rewrites(self, ctx: _Context) -> list[str]:
        target = ctx.target
        subs = set(_subterms(target))
        out: list[str] = []
        for name, ty in ctx.hyps:
            if isinstance(ty, BinOp) and ty.op == "=":
                if ty.lhs in subs:
                    out.append(f"rw [{name}]")
                if ty.rhs in subs:
                    out.append(f"rw [← {name}]")
        for schema in self._lemmas_for(ctx):
            c = schema.conclusion
            if not (isinstance(c, BinOp) and c.op == "=") or schema.premises:
                continue
            if isinstance(c.lhs, Ident):
                continue  # a bare variable matches everything
            if any(match_term(c.lhs, s, schema.metas) is not None for s in subs):
                out.append(f"rw [{schema.head}]")
        return out

    def _applies(self, ctx: _Context) -> list[str]:
        out = []
        for name, ty in ctx.hyps:
            schema = _Schema(name, ty, explicit_all=True)
            if schema.premises and match_term(schema.conclusion, ctx.target, schema.metas) is not None:
                out.append(f"apply {name}")
        return out

    def _specialise(self, ctx: _Context) -> list[str]:
        out = []
        data = [Ident(n) for n, ty in ctx.variables.items()
                if isinstance(ty, Ident) and ty.name not in ("Prop", "Type")]
        for name, ty in ctx.hyps:
            if isinstance(ty, Quant) and ty.kind == "∀":
                out += [f"have := {name} {_arg(d)}" for d in data[:2]]
        return out


def _conjuncts(t: Term) -> list[Term]:
    if isinstance(t, BinOp) and t.op == "∧":
        return [t.lhs, *_conjuncts(t.rhs)]
    return [t]


def _trans_term(steps: Sequence[str]) -> str:
    """``Eq.trans`` chain of proof terms (``h1``, ``h2.symm``, …): ``(h1.trans h2.symm).trans h3``."""
    acc = steps[0]
    for s in steps[1:]:
        acc = f"({acc}).trans {s}" if " " in acc else f"{acc}.trans {s}"
    return acc
