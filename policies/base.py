"""Types shared by every policy: node statistics and the three policy interfaces.

Types only, no search logic (cf. mctx ``_src/base.py``).  The selection math over these types lives in
:mod:`policies.selection`, proposers in :mod:`policies.proposers`, value estimates in :mod:`policies.values`.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from policies.errors import StatsError

__all__ = [
    "ROOT_DEPTH",
    "ROOT_LOG_PRIOR",
    "ROOT_ORDER",
    "NO_CHILD",
    "UNVISITED",
    "NodeStatus",
    "NodeStats",
    "SelectionScope",
    "TacticProposal",
    "Proposer",
    "Selector",
    "ValueFn",
]

#: Depth of the root node; a child is one deeper than its parent.
ROOT_DEPTH = 0
#: Cumulative log-prior of the root node (probability 1).
ROOT_LOG_PRIOR = 0.0
#: Insertion order of the root node; later nodes get larger orders.
ROOT_ORDER = 0
#: Returned by a selector when no child may be chosen (all proved or exhausted, or no children).
NO_CHILD = -1
#: Visit count of a node that was never visited.
UNVISITED = 0


class NodeStatus(enum.Enum):
    """Where a node stands in the search."""

    OPEN = "open"
    """May still be selected: not proved, not known to fail."""
    PROVED = "proved"
    """Solved: this node (and so its path) has a complete proof."""
    EXHAUSTED = "exhausted"
    """Dead: the tactic failed, or every child below is exhausted; never selected again."""


class SelectionScope(enum.Enum):
    """How a driver uses a :class:`Selector`."""

    TREE = "tree"
    """Walk down from the root, calling ``select(node, node's children)`` at every level (UCT, PUCT)."""
    FRONTIER = "frontier"
    """Call once per expansion with ``select(root, open leaves)`` (best-first, breadth-first)."""


@dataclasses.dataclass(frozen=True, slots=True)
class NodeStats:
    """The statistics a selector sees for one node.

    Attributes:
        visits: completed visits (backups) through this node.
        value_sum: sum of the values backed up through this node; each value is in [0, 1], so the mean
            value ``value_sum / visits`` is in [0, 1].
        prior: the proposer's prior for the tactic that led here (>= 0; the root has 1).
        in_flight: visits that started but did not back up yet (virtual loss). Selectors count each one as
            a visit with value ``virtual_loss`` (0 by default: a loss).
        depth: number of tactics from the root (the root has ``ROOT_DEPTH``).
        log_prior: cumulative natural-log prior of the path from the root (sum of ``log(prior)``).
        status: ``NodeStatus``; only ``OPEN`` nodes are ever selected.
        order: insertion order, unique per tree, increasing; the last tie-break (earlier wins).
    """

    visits: int = UNVISITED
    value_sum: float = 0.0
    prior: float = 1.0
    in_flight: int = 0
    depth: int = ROOT_DEPTH
    log_prior: float = ROOT_LOG_PRIOR
    status: NodeStatus = NodeStatus.OPEN
    order: int = ROOT_ORDER

    def __post_init__(self) -> None:
        problems = []
        if self.visits < 0:
            problems.append(f"visits={self.visits} is negative")
        if self.in_flight < 0:
            problems.append(f"in_flight={self.in_flight} is negative")
        if self.depth < 0:
            problems.append(f"depth={self.depth} is negative")
        if not (math.isfinite(self.prior) and self.prior >= 0.0):
            problems.append(f"prior={self.prior} is not a finite number >= 0")
        if math.isnan(self.value_sum) or math.isinf(self.value_sum):
            problems.append(f"value_sum={self.value_sum} is not finite")
        if math.isnan(self.log_prior) or self.log_prior == math.inf:
            problems.append(f"log_prior={self.log_prior} is NaN or +inf")
        if not isinstance(self.status, NodeStatus):
            problems.append(f"status={self.status!r} is not a NodeStatus")
        if problems:
            raise StatsError(f"invalid NodeStats (order {self.order}): " + "; ".join(problems))

    @property
    def solved(self) -> bool:
        """True when the node is proved."""
        return self.status is NodeStatus.PROVED

    @property
    def selectable(self) -> bool:
        """True when a selector may choose this node (status ``OPEN``)."""
        return self.status is NodeStatus.OPEN

    @property
    def mean_value(self) -> float:
        """``value_sum / visits``, or 0.0 for an unvisited node (virtual loss not counted)."""
        return self.value_sum / self.visits if self.visits else 0.0

    def child(self, prior: float, *, order: int) -> NodeStats:
        """Fresh statistics for a child reached with ``prior``: one deeper, log-prior accumulated."""
        if not (math.isfinite(prior) and prior >= 0.0):
            raise StatsError(f"child prior {prior!r} of node {self.order} is not a finite number >= 0")
        step = math.log(prior) if prior > 0.0 else -math.inf
        return NodeStats(prior=prior, depth=self.depth + 1, log_prior=self.log_prior + step, order=order)

    def with_visit(self, value: float) -> NodeStats:
        """These statistics after one completed backup of ``value`` (in [0, 1])."""
        if not 0.0 <= value <= 1.0:
            raise StatsError(f"backed-up value {value!r} for node {self.order} is outside [0, 1]")
        return dataclasses.replace(self, visits=self.visits + 1, value_sum=self.value_sum + value)

    def with_in_flight(self, delta: int) -> NodeStats:
        """These statistics with ``delta`` visits started (+1) or finished/abandoned (-1)."""
        return dataclasses.replace(self, in_flight=self.in_flight + delta)

    def with_status(self, status: NodeStatus) -> NodeStats:
        """These statistics with a new status."""
        return dataclasses.replace(self, status=status)


@dataclasses.dataclass(frozen=True, slots=True)
class TacticProposal:
    """One tactic to try on the main goal, with the proposer's prior (probabilities sum to 1 per call)."""

    tactic: str
    prior: float

    def __post_init__(self) -> None:
        if not isinstance(self.tactic, str) or not self.tactic.strip():
            raise StatsError(f"tactic must be a non-empty string, got {self.tactic!r}")
        if not (math.isfinite(self.prior) and self.prior >= 0.0):
            raise StatsError(f"prior of tactic {self.tactic!r} is {self.prior!r}; need a finite number >= 0")


@runtime_checkable
class Proposer(Protocol):
    """Goal state -> tactics with priors.

    ``goals`` are the open goals of one proof state as the repl pretty-prints them (``"p q : Prop\\n⊢ p"``);
    the tactics act on the first (main) goal.  ``rng`` is a ``numpy.random.Generator`` for proposers that
    sample; deterministic proposers ignore it.  The returned priors sum to 1 (empty list: nothing to try).
    """

    def propose(self, goals: Sequence[str], *, rng: np.random.Generator) -> list[TacticProposal]: ...


@runtime_checkable
class Selector(Protocol):
    """Picks which child to descend into (``scope`` TREE) or which open leaf to expand (``scope`` FRONTIER).

    ``select`` is pure: the same statistics give the same index.  It returns an index into ``children`` or
    ``NO_CHILD`` when none is ``OPEN``.
    """

    scope: SelectionScope

    def select(self, parent: NodeStats, children: Sequence[NodeStats]) -> int: ...


@runtime_checkable
class ValueFn(Protocol):
    """Goal state -> estimated chance in [0, 1] that search proves it (no goals: 1.0)."""

    def value(self, goals: Sequence[str]) -> float: ...
