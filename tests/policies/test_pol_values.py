"""Value estimates stay in [0, 1] and prefer fewer, smaller goals."""

from __future__ import annotations

import math

import pytest

from policies import ConstantValue, GoalParseError, GoalSizeValue, StatsError

SMALL = "p : Prop\n⊢ p"
BIG = "p q r : Prop\n⊢ (p → q) ∧ (q → r) → p → r"


def test_constant_value():
    assert ConstantValue(0.3).value([SMALL]) == 0.3
    assert ConstantValue(0.3).value([]) == 1.0
    with pytest.raises(StatsError, match="must be in \\[0, 1\\]"):
        ConstantValue(1.5)


def test_goal_size_value_by_hand_and_ordering():
    v = GoalSizeValue(goal_weight=0.5, size_weight=0.1)
    assert v.value([]) == 1.0
    assert v.value([SMALL]) == pytest.approx(math.exp(-0.1 * 1))
    assert v.value([SMALL, SMALL]) == pytest.approx(math.exp(-(0.5 + 0.1 * 2)))
    assert 0 < v.value([BIG]) < v.value([SMALL]) < 1
    assert v.value([SMALL, SMALL]) < v.value([SMALL])
    with pytest.raises(StatsError, match=">= 0"):
        GoalSizeValue(goal_weight=-1)


def test_goal_size_value_reads_goals_with_lean_env_goals():
    """The target is the goal's `⊢` entry, however Lean wrapped it; a text that is not a goal is an error."""
    v = GoalSizeValue(goal_weight=0.5, size_weight=0.1)
    assert v.value(["h : p ∧\n    q\n⊢ p ∧\n    q"]) == pytest.approx(math.exp(-0.1 * 3))
    with pytest.raises(GoalParseError, match="GoalSizeValue: no `⊢` target"):
        v.value(["p : Prop"])
