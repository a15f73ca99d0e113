"""A deterministic generator of classical propositional tautologies in Lean 4 syntax.

Each :class:`Tautology` comes from a *family*: a classical schema (Peirce, excluded middle, de Morgan,
distributivity, contraposition, ...) with its metavariables replaced by random formulas, a random formula
kept only when the truth table says it is valid, or a tautology *weakened* with random formulas over further
atoms (``R → T``, ``T ∨ R``, ``T ∧ T'``).  Every generated formula is checked by
:func:`policies.formula.is_tautology` (a truth table over at most 8 atoms) before it is returned.

Atom names come from pools chosen to stress a proposer: single letters, words, primes and subscripts,
Greek letters, capitals, and names such as ``h1`` that look like hypothesis names.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence

from policies.errors import PolicyError
from policies.formula import BOTTOM, Atom, Binary, Formula, Not, Op, atoms, is_lean_identifier, is_tautology, render

__all__ = ["Tautology", "FAMILIES", "NAME_POOLS", "generate_tautologies", "random_formula", "theorem_text", "suite_text"]

MAX_ATOMS = 8

#: Atom-name pools; each tautology draws its atom names from one pool.
NAME_POOLS: dict[str, tuple[str, ...]] = {
    "letters": ("p", "q", "r", "s", "t", "u", "v", "w"),
    "words": ("rain", "wet", "cold", "snow", "sunny", "windy", "foo_bar", "isOpen"),
    "primed": ("p'", "q'", "x₁", "x₂", "a1", "b2", "c_3", "d''"),
    "greek": ("α", "β", "γ", "δ", "ε", "ζ", "η", "θ"),
    "capitals": ("P", "Q", "R", "S", "A", "B", "C", "D"),
    "hyp_like": ("h", "h1", "h2", "h3", "hp", "hq", "this_", "h_1"),
}


def _and(a: Formula, b: Formula) -> Formula:
    return Binary(Op.AND, a, b)


def _or(a: Formula, b: Formula) -> Formula:
    return Binary(Op.OR, a, b)


def _imp(a: Formula, b: Formula) -> Formula:
    return Binary(Op.IMP, a, b)


def _iff(a: Formula, b: Formula) -> Formula:
    return Binary(Op.IFF, a, b)


# schema name -> (number of metavariables, builder)
FAMILIES: dict[str, tuple[int, Callable[..., Formula]]] = {
    "peirce": (2, lambda a, b: _imp(_imp(_imp(a, b), a), a)),
    "excluded_middle": (1, lambda a: _or(a, Not(a))),
    "double_negation": (1, lambda a: _imp(Not(Not(a)), a)),
    "clavius": (1, lambda a: _imp(_imp(Not(a), a), a)),
    "de_morgan_and": (2, lambda a, b: _iff(Not(_and(a, b)), _or(Not(a), Not(b)))),
    "de_morgan_or": (2, lambda a, b: _iff(Not(_or(a, b)), _and(Not(a), Not(b)))),
    "distrib_and_or": (3, lambda a, b, c: _iff(_and(a, _or(b, c)), _or(_and(a, b), _and(a, c)))),
    "distrib_or_and": (3, lambda a, b, c: _iff(_or(a, _and(b, c)), _and(_or(a, b), _or(a, c)))),
    "contraposition": (2, lambda a, b: _iff(_imp(a, b), _imp(Not(b), Not(a)))),
    "material_implication": (2, lambda a, b: _iff(_imp(a, b), _or(Not(a), b))),
    "syllogism": (3, lambda a, b, c: _imp(_imp(a, b), _imp(_imp(b, c), _imp(a, c)))),
    "curry": (3, lambda a, b, c: _iff(_imp(_and(a, b), c), _imp(a, _imp(b, c)))),
    "case_analysis": (3, lambda a, b, c: _imp(_imp(a, c), _imp(_imp(b, c), _imp(_or(a, b), c)))),
    "iff_comm": (2, lambda a, b: _imp(_iff(a, b), _iff(b, a))),
    "explosion": (2, lambda a, b: _imp(_and(a, Not(a)), b)),
    "linearity": (2, lambda a, b: _or(_imp(a, b), _imp(b, a))),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Tautology:
    """One generated tautology: theorem name, atom names (in binder order), formula, family."""

    name: str
    atoms: tuple[str, ...]
    formula: Formula
    family: str

    @property
    def statement(self) -> str:
        """The Lean 4 source ``theorem name (p q : Prop) : formula := by sorry``."""
        return theorem_text(self.name, self.atoms, self.formula)


def theorem_text(name: str, atom_names: Sequence[str], formula: Formula, *, proof: str = "by sorry") -> str:
    """``theorem name (atoms : Prop) : formula := proof`` (no binder when there are no atoms)."""
    binders = f" ({' '.join(atom_names)} : Prop)" if atom_names else ""
    return f"theorem {name}{binders} : {render(formula)} := {proof}"


def random_formula(rng: random.Random, names: Sequence[str], *, depth: int, used: set[str] | None = None) -> Formula:
    """A random formula over ``names`` of nesting depth at most ``depth`` (connectives weighted towards
    ``→``, ``∧``, ``∨``; ``False`` rarely).  Leaves prefer names not yet in ``used`` (updated in place), so
    formulas with enough leaves use many atoms."""
    used = set() if used is None else used
    if depth <= 0 or rng.random() < 0.2:
        if rng.random() < 0.03:
            return BOTTOM
        fresh = [n for n in names if n not in used]
        name = rng.choice(fresh) if fresh and rng.random() < 0.7 else rng.choice(list(names))
        used.add(name)
        return Atom(name)
    kind = rng.choices(["not", "and", "or", "imp", "iff"], weights=[2, 3, 3, 4, 1])[0]
    if kind == "not":
        return Not(random_formula(rng, names, depth=depth - 1, used=used))
    op = {"and": Op.AND, "or": Op.OR, "imp": Op.IMP, "iff": Op.IFF}[kind]
    left = random_formula(rng, names, depth=depth - 1, used=used)
    return Binary(op, left, random_formula(rng, names, depth=depth - 1, used=used))


def _family_instance(rng: random.Random, names: Sequence[str], family: str, depth: int) -> Formula:
    arity, build = FAMILIES[family]
    used: set[str] = set()
    return build(*[random_formula(rng, names, depth=depth, used=used) for _ in range(arity)])


def _random_valid(rng: random.Random, names: Sequence[str], depth: int, attempts: int = 400) -> Formula | None:
    for _ in range(attempts):
        f = random_formula(rng, names, depth=depth)
        if isinstance(f, Binary) and is_tautology(f):
            return f
    return None


def _weaken(rng: random.Random, base: Formula, names: Sequence[str], depth: int) -> Formula:
    extra = random_formula(rng, names, depth=depth)
    kind = rng.choice(["premise", "left_or", "right_or", "and"])
    if kind == "premise":
        return _imp(extra, base)
    if kind == "left_or":
        return _or(base, extra)
    if kind == "right_or":
        return _or(extra, base)
    other = _family_instance(rng, names, rng.choice(sorted(FAMILIES)), max(depth - 1, 0))
    return _and(base, other)


def generate_tautologies(
    count: int,
    *,
    seed: int = 0,
    min_atoms: int = 1,
    max_atoms: int = MAX_ATOMS,
    max_depth: int = 3,
    families: Sequence[str] | None = None,
    pools: Sequence[str] | None = None,
    prefix: str = "taut",
) -> list[Tautology]:
    """``count`` tautologies, the same list for the same arguments.

    Families cycle through ``families`` (default: every schema in :data:`FAMILIES`, then ``"random"`` and
    ``"weakened"``); each item picks ``min_atoms``..``max_atoms`` atom names from one pool in ``pools``
    (default: all of :data:`NAME_POOLS`) and subformulas of depth up to ``max_depth``; a formula that ends up
    using fewer than ``min_atoms`` atoms is drawn again.  Names are ``{prefix}_{index}_{family}``.
    """
    if not 1 <= min_atoms <= max_atoms <= MAX_ATOMS:
        raise PolicyError(f"need 1 <= min_atoms ({min_atoms}) <= max_atoms ({max_atoms}) <= {MAX_ATOMS} "
                          "(truth tables stay small)")
    if max_depth < 0:
        raise PolicyError(f"max_depth={max_depth} must be >= 0")
    kinds = list(families) if families is not None else sorted(FAMILIES) + ["random", "weakened"]
    unknown = [k for k in kinds if k not in FAMILIES and k not in ("random", "weakened")]
    if unknown:
        raise PolicyError(f"unknown tautology families {unknown}; known: {sorted(FAMILIES) + ['random', 'weakened']}")
    pool_names = list(pools) if pools is not None else sorted(NAME_POOLS)
    bad_pools = [p for p in pool_names if p not in NAME_POOLS]
    if bad_pools:
        raise PolicyError(f"unknown name pools {bad_pools}; known: {sorted(NAME_POOLS)}")
    rng = random.Random(seed)
    out: list[Tautology] = []
    index = 0
    max_draws = 1000 * max(count, 1)
    while len(out) < count:
        if index >= max_draws:
            raise PolicyError(f"drew {index} formulas for {count} tautologies of families {kinds} with "
                              f">= {min_atoms} atoms and found only {len(out)}; lower min_atoms or add families")
        family = kinds[index % len(kinds)]
        pool = NAME_POOLS[pool_names[(index // len(kinds)) % len(pool_names)]]
        n_atoms = rng.randint(min_atoms, max_atoms)
        names = rng.sample(pool, n_atoms)
        depth = rng.randint(0, max_depth)
        if family == "random":
            formula = _random_valid(rng, names[: min(n_atoms, 3)], max(depth, 2))
        elif family == "weakened":
            base = _family_instance(rng, names, rng.choice(sorted(FAMILIES)), max(depth - 1, 0))
            formula = _weaken(rng, base, names, depth)
        else:
            formula = _family_instance(rng, names, family, depth)
        index += 1
        if formula is None:
            continue
        if len(atoms(formula)) < min_atoms:
            continue
        if not is_tautology(formula):
            raise PolicyError(f"internal error: family {family!r} produced a non-tautology {render(formula)!r}")
        used = atoms(formula)
        binder_order = tuple(n for n in names if n in used)
        if not all(is_lean_identifier(n) for n in binder_order):
            raise PolicyError(f"internal error: atom names {binder_order} are not all Lean identifiers")
        out.append(Tautology(f"{prefix}_{len(out)}_{family}", binder_order, formula, family))
    return out


def suite_text(items: Sequence[Tautology], *, title: str = "generated tautologies") -> str:
    """The tautologies as a Lean suite file: a header comment, then one theorem per block."""
    lines = [f"-- cryo suite: {title} (policies.tautologies; every theorem is a classical tautology)", ""]
    for t in items:
        lines += [f"-- family: {t.family}, atoms: {len(t.atoms)}", t.statement, ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m policies tautologies --count N --seed S``: print a suite of generated tautologies."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m policies tautologies",
                                     description="Print a Lean suite of generated classical tautologies.")
    parser.add_argument("--count", type=int, default=20, help="number of theorems (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--min-atoms", type=int, default=1)
    parser.add_argument("--max-atoms", type=int, default=MAX_ATOMS)
    parser.add_argument("--max-depth", type=int, default=3)
    parser.add_argument("--family", action="append", dest="families", help="only this family (repeatable)")
    args = parser.parse_args(argv)
    try:
        items = generate_tautologies(args.count, seed=args.seed, min_atoms=args.min_atoms, max_atoms=args.max_atoms,
                                     max_depth=args.max_depth, families=args.families)
    except PolicyError as e:
        parser.error(str(e))
    print(suite_text(items, title=f"{args.count} tautologies, seed {args.seed}"))
    return 0

