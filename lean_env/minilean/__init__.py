"""MiniLean: an embedded prover that speaks the Lean repl protocol (`python -m lean_env.minilean`).

Modules: ``server`` (repl loop, id stores), ``frontend`` (commands, proof states, proof status), ``syntax``
(lexer/parser), ``elab`` (elaborator), ``tactics``, ``kernel`` (reduction, definitional equality, re-checking),
``pretty`` (Lean-style goals), ``leanjson`` (Lean's JSON layout), ``library`` (prelude and `import Mathlib`),
``goals`` (`parse_goal` for proposers), ``bench``.
"""

from .goals import GoalParseError, GoalView, Hypothesis, parse_goal

__all__ = ["parse_goal", "GoalView", "Hypothesis", "GoalParseError"]
