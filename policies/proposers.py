"""Built-in tactic proposers: a fixed list from config, and a goal-directed propositional proposer.

:class:`PropositionalProposer` is complete for classical propositional logic under search.  Its *main line*
(the highest-prior proposal at every goal) follows a terminating strategy that proves every valid sequent:

1. **Close** when possible: ``trivial`` (target ``True``), ``exact h`` (a hypothesis is the target),
   ``contradiction`` (``h : False``), ``exact absurd h1 h2`` (``h1 : A`` and ``h2 : ¬A``).
2. **Follow a witness** when the context already decides the goal under strong Kleene evaluation, where a
   formula's value comes from its parts and, where they leave it open, from the hypotheses (``h : A`` makes
   ``A`` true, ``h : ¬A`` makes ``A`` false): *prove* a true target by its shape (``intro`` -- stopping at a
   target that is a hypothesis --, ``constructor``, ``left``/``right`` towards the true disjunct), or *refute*
   the lightest hypothesis that its parts make false (``rcases`` it, or ``exfalso`` then ``apply h`` for
   ``h : ¬A`` / ``h : A → B``, first case-splitting on ``B`` when ``¬B`` is not at hand).
3. Otherwise apply an **invertible rule**: ``intro`` (target ``→``/``¬``), ``constructor`` (target ``∧``/``↔``),
   ``rcases`` (hypothesis ``∧``/``∨``/``↔`` not yet taken apart).
4. Otherwise **case-split** with ``by_cases h : F`` (Lean is classical) on the undecided subformula of the
   goal that occurs most often (ties: the largest), or with ``split="atom"`` on the most frequent atom.

Every step keeps the goal valid; invertible steps shrink the sequent, each case split decides one more of
the finitely many subformulas, and a witness is found at the latest when every atom is decided (a valid
sequent is true under every assignment), after which each refutation targets a strictly lighter false
hypothesis.  So any search that eventually
tries the highest-prior proposal of every node it reaches (best-first, BFS, PUCT) proves every tautology.
Lower-prior alternatives (other spellings of the same step, ``left``/``right``, ``by_contra``, ``apply``)
give shorter proofs a chance.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence

import numpy as np

from policies.base import TacticProposal
from policies.errors import GoalParseError, StatsError
from policies.formula import BOTTOM, TOP, Atom, Binary, Const, Formula, Not, Op, render
from policies.goalview import GoalView, Hyp, fresh_names, read_goal

__all__ = ["FixedTactics", "PropositionalProposer", "normalise", "DEFAULT_FALLBACK_TACTICS"]

#: Tactics the propositional proposer offers for a goal it cannot read as propositional logic.
DEFAULT_FALLBACK_TACTICS = ("rfl", "trivial", "assumption", "contradiction", "constructor", "intro h")


def normalise(weighted: Sequence[tuple[str, float]]) -> list[TacticProposal]:
    """Proposals with priors proportional to the weights (first occurrence of a tactic kept), sorted by
    prior, highest first (stable: equal priors keep their order)."""
    seen: dict[str, float] = {}
    for tactic, weight in weighted:
        if tactic not in seen:
            seen[tactic] = float(weight)
    total = sum(seen.values())
    if not seen:
        return []
    if not (math.isfinite(total) and total > 0):
        raise StatsError(f"tactic weights {list(seen.items())} must be finite, >= 0 and not all zero")
    out = [TacticProposal(t, w / total) for t, w in seen.items()]
    return sorted(out, key=lambda p: -p.prior)


class FixedTactics:
    """The same tactics for every goal, with uniform priors or the given ones (normalised)."""

    def __init__(self, tactics: Sequence[str] = DEFAULT_FALLBACK_TACTICS, *, priors: Sequence[float] | None = None):
        if isinstance(tactics, str) or not tactics:
            raise StatsError(f"FixedTactics needs a non-empty list of tactic strings, got {tactics!r}")
        if priors is None:
            priors = [1.0] * len(tactics)
        if len(priors) != len(tactics):
            raise StatsError(f"FixedTactics got {len(tactics)} tactics but {len(priors)} priors; give one prior each")
        if any(not isinstance(p, (int, float)) or p < 0 for p in priors):
            raise StatsError(f"FixedTactics priors {list(priors)} must be numbers >= 0")
        self._proposals = normalise(list(zip(tactics, priors)))

    def propose(self, goals: Sequence[str], *, rng: np.random.Generator | None = None) -> list[TacticProposal]:
        """The configured proposals (none when there is no goal)."""
        return list(self._proposals) if goals else []

    def __repr__(self) -> str:
        return f"FixedTactics({[(p.tactic, round(p.prior, 4)) for p in self._proposals]})"


def _weight(f: Formula) -> int:
    """``size`` with ``↔`` counted one heavier, so both halves ``A → B``, ``B → A`` of ``A ↔ B`` weigh less."""
    if isinstance(f, Not):
        return 1 + _weight(f.arg)
    if isinstance(f, Binary):
        return (2 if f.op is Op.IFF else 1) + _weight(f.left) + _weight(f.right)
    return 1


class _Evaluator:
    """Strong Kleene evaluation where the hypotheses decide what their structure leaves open.

    ``known`` maps each hypothesis formula to True and each ``A`` with a hypothesis ``¬A`` to False.
    ``value(f)`` is ``f``'s structural value from its parts when that is decided, else ``known``'s entry.
    ``structural(f)`` ignores ``known`` for ``f`` itself (a hypothesis is false when its parts make it so).
    """

    def __init__(self, props: Sequence[Hyp]) -> None:
        self.known: dict[Formula, bool] = {}
        for h in props:
            self.known.setdefault(h.formula, True)
            inner = _negated(h.formula)
            if inner is not None:
                self.known.setdefault(inner, False)
        self._memo: dict[Formula, bool | None] = {}

    def value(self, f: Formula) -> bool | None:
        if f not in self._memo:
            v = self.structural(f)
            self._memo[f] = self.known.get(f) if v is None else v
        return self._memo[f]

    def structural(self, f: Formula) -> bool | None:
        if isinstance(f, Const):
            return f.value
        if isinstance(f, Atom):
            return None
        if isinstance(f, Not):
            v = self.value(f.arg)
            return None if v is None else not v
        a, b = self.value(f.left), self.value(f.right)
        if f.op is Op.AND:
            return False if a is False or b is False else (True if a and b else None)
        if f.op is Op.OR:
            return True if a is True or b is True else (False if a is False and b is False else None)
        if f.op is Op.IMP:
            return True if a is False or b is True else (False if a is True and b is False else None)
        return None if a is None or b is None else a == b


def _subformulas(f: Formula):
    yield f
    if isinstance(f, Not):
        yield from _subformulas(f.arg)
    elif isinstance(f, Binary):
        yield from _subformulas(f.left)
        yield from _subformulas(f.right)


def _negated(f: Formula) -> Formula | None:
    """``A`` when ``f`` is ``¬A`` or ``A → False``."""
    if isinstance(f, Not):
        return f.arg
    if isinstance(f, Binary) and f.op is Op.IMP and f.right == BOTTOM:
        return f.left
    return None


class PropositionalProposer:
    """Goal-directed proposer for MiniLean's propositional fragment (see the module docstring).

    Knobs: ``main_weight`` for the main-line step, ``alternate_weight`` for other spellings of it,
    ``extra_weight`` for other plausible tactics; priors are these weights normalised.  At most
    ``max_proposals`` proposals are returned.  ``name_prefix`` starts fresh hypothesis names (``h1``, ...,
    skipping every name in the context).  ``max_intros`` caps the names of one ``intro``; ``split`` is
    ``"subformula"`` (default) or ``"atom"`` (see the module docstring).  Goals that are not propositional
    get ``fallback`` tactics.
    """

    def __init__(
        self,
        *,
        main_weight: float = 1.0,
        alternate_weight: float = 0.002,
        extra_weight: float = 0.001,
        max_intros: int = 8,
        split: str = "subformula",
        max_proposals: int = 6,
        name_prefix: str = "h",
        fallback: Sequence[str] = DEFAULT_FALLBACK_TACTICS,
    ) -> None:
        if max_proposals < 1:
            raise StatsError(f"max_proposals={max_proposals} must be >= 1")
        if not (main_weight > 0 and alternate_weight >= 0 and extra_weight >= 0):
            raise StatsError("main_weight must be > 0 and alternate_weight, extra_weight >= 0")
        self.main_weight = main_weight
        self.alternate_weight = alternate_weight
        self.extra_weight = extra_weight
        self.max_proposals = max_proposals
        if max_intros < 1:
            raise StatsError(f"max_intros={max_intros} must be >= 1")
        self.max_intros = max_intros
        if split not in ("subformula", "atom"):
            raise StatsError(f"split={split!r} must be 'subformula' or 'atom'")
        self.split = split
        self.name_prefix = name_prefix
        self.fallback = FixedTactics(fallback)

    def __repr__(self) -> str:
        return (f"PropositionalProposer(main_weight={self.main_weight}, alternate_weight={self.alternate_weight}, "
                f"extra_weight={self.extra_weight}, max_proposals={self.max_proposals})")

    # ------------------------------------------------------------------ interface
    def propose(self, goals: Sequence[str], *, rng: np.random.Generator | None = None) -> list[TacticProposal]:
        """Proposals for the main goal ``goals[0]``, highest prior first."""
        if not goals:
            return []
        try:
            view = read_goal(goals[0])
        except GoalParseError:
            return self.fallback.propose(goals)
        if view.target is None:
            return self.fallback.propose(goals)
        main, alternates, extras = self.plan(view)
        weighted = [(t, self.main_weight) for t in main[:1]]
        weighted += [(t, self.alternate_weight) for t in main[1:] + alternates]
        weighted += [(t, self.extra_weight) for t in extras]
        if not weighted:
            return self.fallback.propose(goals)
        return normalise(weighted)[: self.max_proposals]

    # ------------------------------------------------------------------ strategy
    def plan(self, view: GoalView) -> tuple[list[str], list[str], list[str]]:
        """(main-line spellings, closing/alternate spellings, extra tactics) for one goal."""
        names = fresh_names(view.names, prefix=self.name_prefix)
        props = [h for h in view.hyps if h.formula is not None]
        target = view.target
        if target is None:
            raise GoalParseError(f"target {view.target_text!r} is not a propositional formula")
        closers = self._closers(props, target)
        if closers:
            return closers[:1], closers[1:], []
        ev = _Evaluator(props)
        main = self._witness_step(props, target, ev, names)
        if not main:
            main = self._invertible_step(props, target, ev, names)
        if not main:
            main = self._split_step(props, target, ev, names)
        extras = self._extras(props, target, names)
        return main, [], [t for t in extras if t not in main]

    @staticmethod
    def _closers(props: Sequence[Hyp], target: Formula) -> list[str]:
        out: list[str] = []
        if target == TOP:
            out.append("trivial")
        for h in props:
            if h.formula == target:
                out += [f"exact {h.name}"] if h.usable else []
                out.append("assumption")
        for h in props:
            if h.formula == BOTTOM:
                out.append("contradiction")
                if h.usable:
                    out.append(f"exact False.elim {h.name}")
        by_formula: dict[Formula, Hyp] = {}
        for h in props:
            if h.usable and h.formula is not None:
                by_formula.setdefault(h.formula, h)
        for h in props:
            inner = _negated(h.formula) if h.formula is not None else None
            if inner is not None and inner in by_formula and h.usable:
                out += [f"exact absurd {by_formula[inner].name} {h.name}", "contradiction"]
        return list(dict.fromkeys(out))

    def _witness_step(self, props: Sequence[Hyp], target: Formula, ev: _Evaluator, names) -> list[str]:
        if ev.value(target) is True:
            return self._prove(target, ev, names)
        false_hyps = [(_weight(h.formula), i, h) for i, h in enumerate(props)
                      if h.usable and ev.structural(h.formula) is False]
        if not false_hyps:
            return []
        _, _, h = min(false_hyps, key=lambda t: (t[0], t[1]))
        return self._refute(h, props, target, names)

    def _intro(self, target: Formula, names, ev: _Evaluator) -> list[str]:
        """``intro`` with one fresh name per leading ``→``/``¬`` of the target (at most ``max_intros``),
        stopping at a target that is already a hypothesis (so ``exact`` can close it next)."""
        chosen = []
        while len(chosen) < self.max_intros and target != BOTTOM:
            if chosen and ev.known.get(target) is True:
                break
            if isinstance(target, Not):
                target = BOTTOM
            elif isinstance(target, Binary) and target.op is Op.IMP:
                target = target.right
            else:
                break
            chosen.append(next(names))
        if not chosen:
            return []
        single = f"intro {chosen[0]}"
        return [f"intro {' '.join(chosen)}"] + ([single] if len(chosen) > 1 else [])

    def _prove(self, target: Formula, ev: _Evaluator, names) -> list[str]:
        if isinstance(target, Not) or (isinstance(target, Binary) and target.op is Op.IMP):
            return self._intro(target, names, ev)
        if isinstance(target, Binary) and target.op in (Op.AND, Op.IFF):
            return ["constructor"]
        if isinstance(target, Binary) and target.op is Op.OR:
            return ["left" if ev.value(target.left) is True else "right"]
        return []

    @staticmethod
    def _refute(h: Hyp, props: Sequence[Hyp], target: Formula, names) -> list[str]:
        f = h.formula
        inner = _negated(f)
        if inner is not None:
            return ["exfalso"] if target != BOTTOM else [f"apply {h.name}", f"refine {h.name} ?_"]
        if isinstance(f, Binary) and f.op in (Op.AND, Op.IFF):
            a, b = next(names), next(names)
            return [f"rcases {h.name} with ⟨{a}, {b}⟩", f"obtain ⟨{a}, {b}⟩ := {h.name}"]
        if isinstance(f, Binary) and f.op is Op.OR:
            a, b = next(names), next(names)
            return [f"rcases {h.name} with {a} | {b}", f"obtain {a} | {b} := {h.name}"]
        if isinstance(f, Binary) and f.op is Op.IMP:
            if target == f.right:
                return [f"apply {h.name}", f"refine {h.name} ?_"]
            if target != BOTTOM:
                return ["exfalso"]
            for other in props:
                if other.usable and other.formula is not None and _negated(other.formula) == f.right:
                    return [f"apply {other.name}", f"refine {other.name} ?_"]
            return [f"by_cases {next(names)} : {render(f.right)}"]
        return []  # atoms and False are closed by _closers

    def _invertible_step(self, props: Sequence[Hyp], target: Formula, ev: _Evaluator, names) -> list[str]:
        if isinstance(target, Not) or (isinstance(target, Binary) and target.op is Op.IMP):
            return self._intro(target, names, ev)
        if isinstance(target, Binary) and target.op in (Op.AND, Op.IFF):
            return ["constructor"]
        present = {h.formula for h in props}
        for h in props:
            f = h.formula
            if not h.usable or not isinstance(f, Binary):
                continue
            if f.op is Op.AND and not (f.left in present and f.right in present):
                return self._refute(h, props, target, names)
            if f.op is Op.IFF and not (Binary(Op.IMP, f.left, f.right) in present
                                       and Binary(Op.IMP, f.right, f.left) in present):
                return self._refute(h, props, target, names)
            if f.op is Op.OR and not (f.left in present or f.right in present):
                return self._refute(h, props, target, names)
        return []

    def _split_step(self, props: Sequence[Hyp], target: Formula, ev: _Evaluator, names) -> list[str]:
        """``by_cases`` on an undecided formula: the most frequent atom (``split="atom"``), or the most
        frequent, then largest, subformula of the target and hypotheses (``split="subformula"``)."""
        counts: collections.Counter[Formula] = collections.Counter()
        first_seen: dict[Formula, int] = {}
        for f in [target] + [h.formula for h in props]:
            for sub in _subformulas(f):
                if isinstance(sub, Const) or (self.split == "atom" and not isinstance(sub, Atom)):
                    continue
                if ev.value(sub) is None:
                    counts[sub] += 1
                    first_seen.setdefault(sub, len(first_seen))
        if not counts:
            return []
        best = max(counts, key=lambda f: (counts[f], _weight(f), -first_seen[f]))
        return [f"by_cases {next(names)} : {render(best)}"]

    def _extras(self, props: Sequence[Hyp], target: Formula, names) -> list[str]:
        out: list[str] = []
        if isinstance(target, Binary) and target.op is Op.OR:
            out += ["left", "right"]
        for h in props:
            f = h.formula
            if not h.usable:
                continue
            if isinstance(f, Binary) and f.op is Op.IMP and f.right == target:
                out.append(f"apply {h.name}")
            elif target == BOTTOM and _negated(f) is not None:
                out.append(f"apply {h.name}")
        if target != BOTTOM:
            out.append(f"by_contra {next(names)}")
        return out
