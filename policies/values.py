"""Value estimates: goal state -> estimated chance in [0, 1] that search proves it."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from lean_env.goals import GoalParseError as LeanGoalParseError
from lean_env.goals import parse_goal

from policies.errors import GoalParseError, StatsError

__all__ = ["ConstantValue", "GoalSizeValue", "PROVED_VALUE"]

#: The value of a state with no open goals.
PROVED_VALUE = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class ConstantValue:
    """The same value for every open state (``PROVED_VALUE`` when no goal is left)."""

    constant: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.constant <= 1.0:
            raise StatsError(f"ConstantValue constant={self.constant!r} must be in [0, 1]")

    def value(self, goals: Sequence[str]) -> float:
        """``PROVED_VALUE`` with no goals, else ``constant``."""
        return PROVED_VALUE if not goals else self.constant


def _target_length(goal: str) -> int:
    """Non-blank characters of the goal's target (read with :func:`lean_env.goals.parse_goal`)."""
    try:
        target = parse_goal(goal).target
    except LeanGoalParseError as e:
        raise GoalParseError(f"GoalSizeValue: {e}") from e
    return sum(1 for ch in target if not ch.isspace())


@dataclasses.dataclass(frozen=True, slots=True)
class GoalSizeValue:
    """Fewer and smaller goals are closer to a proof:
    ``exp(-(goal_weight * (n - 1) + size_weight * total_target_chars))`` for ``n >= 1`` goals, 1.0 for none.

    ``total_target_chars`` counts non-blank characters of each goal's target (the text after ``⊢``); the result
    is in (0, 1].  A text that is not a goal raises :class:`~policies.errors.GoalParseError`.
    """

    goal_weight: float = 0.5
    size_weight: float = 0.02

    def __post_init__(self) -> None:
        if self.goal_weight < 0 or self.size_weight < 0:
            raise StatsError(f"GoalSizeValue weights must be >= 0, got {self.goal_weight}, {self.size_weight}")

    def value(self, goals: Sequence[str]) -> float:
        """The estimate for ``goals`` (see the class docstring)."""
        if not goals:
            return PROVED_VALUE
        size = sum(_target_length(g) for g in goals)
        return math.exp(-(self.goal_weight * (len(goals) - 1) + self.size_weight * size))
