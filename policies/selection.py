"""Selection rules as pure functions over node statistics.

Every ``*_scores`` function maps ``(parent, children)`` to one float score per child (higher is better) and
has no side effects; :func:`select_index` turns scores into a choice.  The selector classes at the bottom
bind keyword knobs to a scoring function and satisfy :class:`policies.base.Selector`.

Tie-break order (documented, deterministic): among ``OPEN`` children, the highest score wins; on equal
scores the higher ``prior`` wins; on equal priors the earlier insertion (smaller ``order``) wins.
Children that are ``PROVED`` or ``EXHAUSTED`` are never chosen; with none left, the result is ``NO_CHILD``.

Virtual loss lives in the statistics: each of a node's ``in_flight`` visits counts as a completed visit
that backed up ``virtual_loss`` (0.0 by default, the worst value), for the child and for the parent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import struct
from collections.abc import Sequence

import numpy as np

from policies.base import NO_CHILD, NodeStats, SelectionScope
from policies.errors import StatsError

__all__ = [
    "UNVISITED_SCORE",
    "uct_scores",
    "puct_scores",
    "best_first_scores",
    "breadth_first_scores",
    "random_scores",
    "select_index",
    "UCT",
    "PUCT",
    "BestFirst",
    "BreadthFirst",
    "RandomSelection",
]

#: UCT score of a child with no visits (completed or in flight): tried before any visited child.
UNVISITED_SCORE = math.inf


def _effective(stats: NodeStats, virtual_loss: float) -> tuple[int, float]:
    """(visits, value_sum) with every in-flight visit counted as a visit worth ``virtual_loss``."""
    return stats.visits + stats.in_flight, stats.value_sum + virtual_loss * stats.in_flight


def _check_virtual_loss(virtual_loss: float) -> None:
    if not 0.0 <= virtual_loss <= 1.0:
        raise StatsError(f"virtual_loss={virtual_loss!r} must be a value in [0, 1] (0 = count as a loss)")


def uct_scores(
    parent: NodeStats,
    children: Sequence[NodeStats],
    *,
    c: float = math.sqrt(2.0),
    virtual_loss: float = 0.0,
    prior_weight: float = 0.0,
    first_play_value: float | None = None,
) -> np.ndarray:
    """UCT (UCB1 applied to trees; Kocsis & Szepesvári 2006): ``Q + c * sqrt(ln N / n)``, optionally with a
    progressive bias from the proposer's prior and a first-play value for unvisited children.

    ``Q = W / n`` is the child's mean value in [0, 1], ``n`` its visits, ``N`` the parent's visits, all
    including in-flight visits (virtual loss).  ``ln N`` uses ``max(N, 1)``.

    * ``first_play_value=None`` (classic UCB1): a child with ``n = 0`` scores ``UNVISITED_SCORE`` (+inf), so
      every child is tried once before any is tried twice.  A number ``v`` in [0, 1] is the *first-play
      urgency* (Gelly & Wang 2006): an unvisited child scores ``v + c * sqrt(ln N)`` (``Q = v``, ``n`` taken
      as 1) plus its bias, and competes with its visited siblings.
    * ``prior_weight = w > 0`` adds the progressive bias ``w * ln(P) / (n + 1)`` (Chaslot et al. 2008, with
      the log-prior as the heuristic): a low-prior child starts far behind and the handicap fades as it is
      visited; the exploration term, which grows with ``ln N``, still reaches every child eventually, so
      UCB1's consistency is kept.  A child with ``P = 0`` scores -inf.  ``w = 0`` ignores the prior.

    Returns a float array of shape ``[len(children)]``.
    """
    _check_virtual_loss(virtual_loss)
    if not (math.isfinite(prior_weight) and prior_weight >= 0.0):
        raise StatsError(f"prior_weight={prior_weight!r} must be a finite number >= 0")
    if first_play_value is not None and not 0.0 <= first_play_value <= 1.0:
        raise StatsError(f"first_play_value={first_play_value!r} must be None (+inf) or a value in [0, 1]")
    n_parent, _ = _effective(parent, virtual_loss)
    log_n = math.log(max(n_parent, 1))
    out = np.empty(len(children), dtype=float)
    for i, child in enumerate(children):
        n, w = _effective(child, virtual_loss)
        if n == 0 and first_play_value is None:
            out[i] = UNVISITED_SCORE
            continue
        q = w / n if n else first_play_value
        score = q + c * math.sqrt(log_n / max(n, 1))
        if prior_weight > 0.0:
            score = score + prior_weight * _log_prior_step(child.prior) / (n + 1)
        out[i] = score
    return out


def _log_prior_step(prior: float) -> float:
    return math.log(prior) if prior > 0.0 else -math.inf


def puct_scores(
    parent: NodeStats,
    children: Sequence[NodeStats],
    *,
    c: float = 1.25,
    unvisited_value: float = 0.0,
    virtual_loss: float = 0.0,
) -> np.ndarray:
    """PUCT (AlphaZero, Silver et al. 2017): ``Q + c * P * sqrt(N) / (1 + n)``.

    ``P`` is the child's prior as given (not renormalised), ``Q = W / n`` its mean value, or
    ``unvisited_value`` when ``n = 0``; ``n`` and ``N`` include in-flight visits (virtual loss).
    Returns a float array of shape ``[len(children)]``.
    """
    _check_virtual_loss(virtual_loss)
    n_parent, _ = _effective(parent, virtual_loss)
    sqrt_n = math.sqrt(n_parent)
    out = np.empty(len(children), dtype=float)
    for i, child in enumerate(children):
        n, w = _effective(child, virtual_loss)
        q = w / n if n else unvisited_value
        out[i] = q + c * child.prior * sqrt_n / (1 + n)
    return out


def _in_flight_penalty(child: NodeStats, penalty: float) -> float:
    return penalty * child.in_flight if child.in_flight else 0.0


def best_first_scores(
    parent: NodeStats,
    children: Sequence[NodeStats],
    *,
    depth_penalty: float = 0.0,
    in_flight_penalty: float = math.inf,
) -> np.ndarray:
    """Best-first by cumulative log-prior: ``log_prior - depth_penalty * depth - in_flight_penalty * in_flight``.

    Meant for ``SelectionScope.FRONTIER`` (children = all open leaves).  With the default infinite
    ``in_flight_penalty`` a leaf being expanded scores -inf, so it is chosen only when every leaf is in
    flight.  ``parent`` is unused (kept for the common signature).
    """
    del parent
    return np.array(
        [c.log_prior - depth_penalty * c.depth - _in_flight_penalty(c, in_flight_penalty) for c in children],
        dtype=float,
    )


def breadth_first_scores(
    parent: NodeStats, children: Sequence[NodeStats], *, in_flight_penalty: float = math.inf
) -> np.ndarray:
    """Breadth-first: ``-depth - in_flight_penalty * in_flight``; shallower first, then the tie-break order.

    Meant for ``SelectionScope.FRONTIER``.  ``parent`` is unused (kept for the common signature).
    """
    del parent
    return np.array([-float(c.depth) - _in_flight_penalty(c, in_flight_penalty) for c in children], dtype=float)


def random_scores(parent: NodeStats, children: Sequence[NodeStats], *, seed: int = 0) -> np.ndarray:
    """Uniform random scores in [0, 1), a pure function of ``seed`` and the statistics.

    Each child's score hashes ``(seed, parent.order, parent.visits, parent.in_flight, child.order)``
    (BLAKE2b), so the same tree state gives the same choice, and a new visit of the parent re-draws.
    """
    out = np.empty(len(children), dtype=float)
    for i, child in enumerate(children):
        key = struct.pack("<qqqqq", seed, parent.order, parent.visits, parent.in_flight, child.order)
        digest = hashlib.blake2b(key, digest_size=8).digest()
        out[i] = int.from_bytes(digest, "little") / 2.0**64
    return out


def select_index(scores: Sequence[float] | np.ndarray, children: Sequence[NodeStats]) -> int:
    """The index of the best ``OPEN`` child, or ``NO_CHILD``.

    Order: higher score, then higher prior, then smaller ``order`` (earlier insertion).
    """
    if len(scores) != len(children):
        raise StatsError(f"{len(scores)} scores for {len(children)} children; need one score per child")
    best = NO_CHILD
    best_key: tuple[float, float, int] | None = None
    for i, child in enumerate(children):
        if not child.selectable:
            continue
        score = float(scores[i])
        if math.isnan(score):
            raise StatsError(f"score of child {i} (order {child.order}) is NaN; statistics: {child}")
        key = (score, child.prior, -child.order)
        if best_key is None or key > best_key:
            best, best_key = i, key
    return best


@dataclasses.dataclass(frozen=True, slots=True)
class UCT:
    """UCT selection (``uct_scores``) for tree walks.

    The defaults are the prior-aware variant measured in ``docs/policies.md``: first-play value
    ``first_play_value`` for unvisited children and a log-prior progressive bias of weight ``prior_weight``.
    ``UCT(prior_weight=0.0, first_play_value=None)`` is classic UCB1 (unvisited children first, prior ignored).
    """

    c: float = math.sqrt(2.0)
    virtual_loss: float = 0.0
    prior_weight: float = 1.0
    first_play_value: float | None = 0.5
    scope: SelectionScope = dataclasses.field(default=SelectionScope.TREE, init=False)

    def select(self, parent: NodeStats, children: Sequence[NodeStats]) -> int:
        """Index of the chosen child, or ``NO_CHILD``."""
        scores = uct_scores(parent, children, c=self.c, virtual_loss=self.virtual_loss,
                            prior_weight=self.prior_weight, first_play_value=self.first_play_value)
        return select_index(scores, children)


@dataclasses.dataclass(frozen=True, slots=True)
class PUCT:
    """PUCT selection with the proposer's priors (``puct_scores``) for tree walks."""

    c: float = 1.25
    unvisited_value: float = 0.0
    virtual_loss: float = 0.0
    scope: SelectionScope = dataclasses.field(default=SelectionScope.TREE, init=False)

    def select(self, parent: NodeStats, children: Sequence[NodeStats]) -> int:
        """Index of the chosen child, or ``NO_CHILD``."""
        scores = puct_scores(
            parent, children, c=self.c, unvisited_value=self.unvisited_value, virtual_loss=self.virtual_loss
        )
        return select_index(scores, children)


@dataclasses.dataclass(frozen=True, slots=True)
class BestFirst:
    """Best-first by cumulative log-prior over the open leaves (``best_first_scores``)."""

    depth_penalty: float = 0.0
    in_flight_penalty: float = math.inf
    scope: SelectionScope = dataclasses.field(default=SelectionScope.FRONTIER, init=False)

    def select(self, parent: NodeStats, children: Sequence[NodeStats]) -> int:
        """Index of the chosen leaf, or ``NO_CHILD``."""
        scores = best_first_scores(
            parent, children, depth_penalty=self.depth_penalty, in_flight_penalty=self.in_flight_penalty
        )
        return select_index(scores, children)


@dataclasses.dataclass(frozen=True, slots=True)
class BreadthFirst:
    """Breadth-first over the open leaves (``breadth_first_scores``)."""

    in_flight_penalty: float = math.inf
    scope: SelectionScope = dataclasses.field(default=SelectionScope.FRONTIER, init=False)

    def select(self, parent: NodeStats, children: Sequence[NodeStats]) -> int:
        """Index of the chosen leaf, or ``NO_CHILD``."""
        return select_index(breadth_first_scores(parent, children, in_flight_penalty=self.in_flight_penalty), children)


@dataclasses.dataclass(frozen=True, slots=True)
class RandomSelection:
    """Uniformly random choice among the open children (``random_scores``), reproducible from ``seed``."""

    seed: int = 0
    scope: SelectionScope = SelectionScope.TREE

    def __post_init__(self) -> None:
        if not isinstance(self.scope, SelectionScope):
            object.__setattr__(self, "scope", SelectionScope(self.scope))

    def select(self, parent: NodeStats, children: Sequence[NodeStats]) -> int:
        """Index of the chosen child, or ``NO_CHILD``."""
        return select_index(random_scores(parent, children, seed=self.seed), children)
