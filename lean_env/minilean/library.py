"""Header modules: the core prelude (always) and the bundled lemma library behind `import Mathlib`.

Importing the library does real work, linear in its size: generate N lemma sources deterministically, parse them,
elaborate them, kernel-check their proofs and index them by the head symbol of their conclusion.
"""

from __future__ import annotations

import os

from .elab import Elaborator
from .errors import ElabError
from .expr import Const, Pi, get_app_fn_args
from .kernel import ConstInfo, Env, LocalContext, MetaCtx, Reducer
from .prelude import CORE_DEFINITIONS, CORE_SIGNATURES
from .syntax import Parser

DEFAULT_LIBRARY_SIZE = 3000
EMBEDDING_DIM = 36352  # features per lemma in the premise index (float32): what makes the import Mathlib-sized
LIGHT_MODULES = ("Init", "Lean", "Std", "Batteries", "Aesop", "Qq")
HEAVY_MODULES = ("Mathlib",)

_PRELUDE: dict[str, ConstInfo] | None = None


class UnknownModule(ElabError):
    def __init__(self, module: str) -> None:
        root = module.split(".")[0]
        super().__init__(f"unknown module prefix '{root}'\n\nNo directory '{root}' or file '{root}.olean' in the "
                         f"search path entries:\n<minilean>/library")
        self.module = module


def _parse_sig(line: str):
    p = Parser(line)
    name = p.advance().text
    p.expect_sym(":")
    ty = p.term()
    val = None
    if p.is_sym(":="):
        p.advance()
        val = p.term()
    return name, ty, val


def prelude() -> dict[str, ConstInfo]:
    """The core declarations (built once per process)."""
    global _PRELUDE
    if _PRELUDE is not None:
        return _PRELUDE
    base: dict[str, ConstInfo] = {}
    todo = [(line, "axiom") for line in CORE_SIGNATURES.strip().splitlines()]
    todo += [(line, "def") for line in CORE_DEFINITIONS.strip().splitlines()]
    while todo:
        deferred = []
        for line, kind in todo:
            name, ty_s, val_s = _parse_sig(line)
            el = Elaborator(Env(base), MetaCtx())
            try:
                ty = el.elab_type(ty_s, LocalContext())
                el.default_numerals()
                ty = el.mctx.instantiate(ty)
                val = None
                if val_s is not None:
                    val = el.mctx.instantiate(el.elab(val_s, ty, LocalContext()))
            except ElabError:
                deferred.append((line, kind))
                continue
            base[name] = ConstInfo(name, ty, val, kind)
        if len(deferred) == len(todo):
            raise ElabError("prelude does not elaborate: " + deferred[0][0])
        todo = deferred
    _PRELUDE = base
    return base


TEMPLATES = [
    ("(p q : Prop) : p ∧ q → q ∧ p", "fun p q h => ⟨h.2, h.1⟩"),
    ("(p q : Prop) : p ∨ q → q ∨ p", "fun p q h => Or.elim h (fun hp => Or.inr hp) (fun hq => Or.inl hq)"),
    ("(p q r : Prop) : (p → q) → (q → r) → p → r", "fun p q r f g x => g (f x)"),
    ("(p : Prop) : p → ¬¬p", "fun p hp hn => hn hp"),
    ("(p q : Prop) : (p ↔ q) → q → p", "fun p q h hq => h.mpr hq"),
    ("(n k : Nat) : n + k = k + n", "fun n k => Nat.add_comm n k"),
    ("(a b : Int) : a = b → b = a", "fun a b h => Eq.symm h"),
    ("(p q : Prop) : ¬(p ∨ q) → ¬p", "fun p q h hp => h (Or.inl hp)"),
    ("(n : Nat) : n + 0 = n", "fun n => Nat.add_zero n"),
    ("(p q r : Prop) : p ∧ q ∧ r → r", "fun p q r h => h.2.2"),
]


def lemma_source(i: int) -> str:
    """The i-th generated lemma, deterministically."""
    k = i % (len(TEMPLATES) + 1)
    if k == len(TEMPLATES):
        a, b = (i * 7919) % 1000, (i * 104729) % 1000
        return f"theorem Mathlib.Gen.num_{i} : {a} + {b} = {a + b} := rfl"
    sig, proof = TEMPLATES[k]
    return f"theorem Mathlib.Gen.t{k}_{i} {sig} := {proof}"


def build_library(n: int, base: dict[str, ConstInfo]) -> tuple[dict[str, ConstInfo], dict[str, list[str]]]:
    """Generate, parse, elaborate, kernel-check and index n lemmas on top of ``base``."""
    lib = dict(base)
    index: dict[str, list[str]] = {}
    env = Env(lib)
    for i in range(n):
        src = lemma_source(i)
        p = Parser(src)
        p.advance()
        name = p.advance().text
        binders = p.binders(allow_bare_typed=False)
        p.expect_sym(":")
        ty_s = p.term()
        p.expect_sym(":=")
        val_s = p.term()
        el = Elaborator(env, MetaCtx())
        lctx, bs = el.elab_binders(binders, LocalContext())
        ty = el.elab_type(ty_s, lctx)
        el.default_numerals()
        from .expr import abstract
        full = el.mctx.instantiate(ty)
        for fid, nm, bty, imp in reversed(bs):
            full = Pi(nm, bty, abstract(full, fid), imp)
        val = el.mctx.instantiate(el.elab(val_s, full, LocalContext()))
        red = Reducer(env, MetaCtx())
        vty = red.infer(val, LocalContext(), check=True)
        if not red.is_def_eq(vty, full):
            raise ElabError(f"library lemma {name} failed to check")
        lib[name] = ConstInfo(name, full, val, "theorem")
        concl = full
        while type(concl) is Pi:
            concl = concl.body
        head, _ = get_app_fn_args(concl)
        index.setdefault(head.name if type(head) is Const else "_", []).append(name)
    return lib, index


def premise_index(names: list[str], lib: dict[str, ConstInfo], dim: int = EMBEDDING_DIM):
    """A dense premise-selection index: one row per lemma, a hashed bag of the constants of its statement.

    Rows are written in full (every page touched), so the index occupies real memory like an imported library.
    """
    import zlib

    import numpy as np

    rows = np.empty((len(names), dim), dtype=np.float32)
    freqs = np.arange(1, dim + 1, dtype=np.float32) / dim
    h = np.array([zlib.crc32(" ".join([n] + _features(lib[n])).encode()) % 9973 + 1 for n in names],
                 dtype=np.float32)
    chunk = 512
    for s in range(0, len(names), chunk):
        np.sin(np.outer(h[s:s + chunk], freqs), out=rows[s:s + chunk])
    return rows


def _features(c: ConstInfo) -> list[str]:
    from .expr import consts_of
    return sorted(consts_of(c.type)) or ["_"]


def library_size_setting(explicit: int | None) -> int:
    if explicit is not None:
        return explicit
    v = os.environ.get("CRYO_MINILEAN_LIBRARY_SIZE")
    if v:
        try:
            return int(v)
        except ValueError as e:
            raise ValueError(f"CRYO_MINILEAN_LIBRARY_SIZE must be an integer, got {v!r}") from e
    return DEFAULT_LIBRARY_SIZE


class Loader:
    """Resolves a header's modules into an environment; heavy modules build the lemma library each time."""

    def __init__(self, *, library_size: int, heavy: tuple[str, ...] = HEAVY_MODULES,
                 light: tuple[str, ...] = LIGHT_MODULES) -> None:
        self.library_size = library_size
        self.heavy = heavy  # module roots whose import builds the lemma library
        self.light = light  # module roots that import only the prelude

    def known(self, module: str) -> bool:
        root = module.split(".")[0]
        return root in self.heavy or root in self.light

    def __call__(self, imports: list[str]) -> Env:
        for m in imports:
            if not self.known(m):
                raise UnknownModule(m)
        base = prelude()
        if any(m.split(".")[0] in self.heavy for m in imports):
            lib, index = build_library(self.library_size, base)
            names = [n for ns in index.values() for n in ns]
            return Env(lib, {}, tuple(imports), {"premise_index": (index, names, premise_index(names, lib))})
        return Env(base, {}, tuple(imports))
