"""Search budgets: what a run may spend, and what it has spent (for stopping and for resuming)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from treesearch.errors import TreeSearchError

STOP_PROVED = "proved"
STOP_EXHAUSTED = "exhausted"
STOP_EXPANSIONS = "expansions"
STOP_WALL = "wall"
STOP_MEMORY = "memory"
STOP_INTERRUPTED = "interrupted"
STOP_OPEN_FAILED = "open-failed"


@dataclass(frozen=True)
class SearchBudget:
    """Limits of one search; ``None`` means unlimited.

    ``expansions``: node expansions started (each runs up to K tactics). ``wall_seconds``: wall time
    of the search loop. ``tactic_timeout``: seconds one tactic (or replay) may take before its process
    is killed and the expansion counted as a fault. ``memory_bytes``: summed RSS of all repl processes
    the backend holds, sampled every ``sample_seconds``; crossing it stops the search. ``image_bytes``:
    bytes of frozen images / pickle files the backend may keep; it evicts least-recently-used ones.
    """

    expansions: int | None = 200
    wall_seconds: float | None = 300.0
    tactic_timeout: float = 20.0
    memory_bytes: int | None = None
    image_bytes: int | None = None
    sample_seconds: float = 0.05

    def __post_init__(self) -> None:
        for name in ("expansions", "wall_seconds", "memory_bytes", "image_bytes"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, float)) or v < 0):
                raise TreeSearchError(f"budget {name} must be a non-negative number or None, got {v!r}")
        if not self.tactic_timeout > 0:
            raise TreeSearchError(f"budget tactic_timeout must be > 0 seconds, got {self.tactic_timeout!r}")

    def remaining(self, *, expansions_used: int, wall_used: float) -> "SearchBudget":
        """The budget left after spending ``expansions_used`` expansions and ``wall_used`` seconds."""
        return dataclasses.replace(
            self,
            expansions=None if self.expansions is None else max(0, self.expansions - expansions_used),
            wall_seconds=None if self.wall_seconds is None else max(0.0, self.wall_seconds - wall_used),
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SearchBudget":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise TreeSearchError(f"unknown budget keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)
