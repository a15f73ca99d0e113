"""The core arithmetic lemmas MiniLean's prelude states, as ``(name, statement)`` texts.  Pure.

This is the documented export through which code outside ``lean_env`` (the first-order proposer in
``policies``) learns lemma names without importing ``lean_env.minilean``.  Every name is a Lean 4 core
(``Init``) lemma with the same statement, so proposals built from it run on a real Lean too.  Only the
``Nat.``/``Int.`` lemmas whose statement is a proposition (``=``, ``≤``, ``<``, ``≠``, ``¬``, possibly under
``∀`` binders and premises) are listed; constructors and recursors are not.

    >>> dict(core_lemmas())["Nat.add_comm"]
    '∀ (n m : Nat), n + m = m + n'

The generated ``Mathlib.Gen.*`` lemmas of MiniLean's ``import Mathlib`` are not listed: they are found by a
premise index, not by name.
"""

from __future__ import annotations

import functools

__all__ = ["core_lemmas"]

_NAMESPACES = ("Nat.", "Int.")
_RELATIONS = ("=", "≤", "<", "≠", "¬")


@functools.cache
def core_lemmas() -> tuple[tuple[str, str], ...]:
    """``(name, statement)`` of every Nat/Int lemma in MiniLean's prelude, in prelude order."""
    from lean_env.minilean.prelude import CORE_SIGNATURES

    out: list[tuple[str, str]] = []
    for line in CORE_SIGNATURES.splitlines():
        name, sep, statement = line.partition(" : ")
        name, statement = name.strip(), statement.strip()
        if not sep or not name.startswith(_NAMESPACES):
            continue
        conclusion = statement.rsplit(",", 1)[-1].rsplit("→", 1)[-1]
        if "motive" in statement or not any(r in conclusion for r in _RELATIONS):
            continue
        out.append((name, statement))
    return tuple(out)
