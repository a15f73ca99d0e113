"""Aggregate results rows per backend (pure) and render them as Markdown."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Iterable, Sequence

from experiments.results import COUNTER_KEYS, TIME_KEYS, ResultRow

__all__ = ["BackendSummary", "summarize", "summarize_by_backend", "table_markdown", "counters_markdown",
           "fmt_bytes", "fmt_seconds"]


@dataclass(frozen=True)
class BackendSummary:
    """Figures over all rows of one backend.

    `proved` counts rows (theorem x repeat) whose search found a proof; `rechecked` those whose proof passed
    the fresh-repl re-check.  `median_time_to_proof_s` is over proved rows (None when none).
    `expansions_per_s` is total expansions over total search wall time.  `time` sums each kind of work;
    `peak_memory_bytes` and `image_bytes` are the largest seen in any row.  `counters` sums the backend's
    counters over the rows (`COUNTER_KEYS`); `peak_processes` is the most repl processes held at once in any
    row (None when no row recorded it).
    """

    backend: str
    rows: int
    proved: int
    rechecked: int
    recheck_failed: int
    median_time_to_proof_s: float | None
    expansions: int
    wall_s: float
    expansions_per_s: float
    time: dict[str, float]
    peak_memory_bytes: int
    image_bytes: int
    errors: int
    interrupted: int
    counters: dict[str, int]
    peak_processes: int | None


def summarize(backend: str, rows: Sequence[ResultRow]) -> BackendSummary:
    proved_times = [r.time_to_proof_s for r in rows if r.proved and r.time_to_proof_s is not None]
    expansions = sum(r.expansions for r in rows)
    wall = sum(r.wall_s for r in rows)
    return BackendSummary(
        backend=backend,
        rows=len(rows),
        proved=sum(1 for r in rows if r.proved),
        rechecked=sum(1 for r in rows if r.recheck == "passed"),
        recheck_failed=sum(1 for r in rows if r.recheck in ("failed", "error")),
        median_time_to_proof_s=statistics.median(proved_times) if proved_times else None,
        expansions=expansions,
        wall_s=wall,
        expansions_per_s=expansions / wall if wall > 0 else 0.0,
        time={k: sum(r.time.get(k, 0.0) for r in rows) for k in TIME_KEYS},
        peak_memory_bytes=max((r.peak_memory_bytes for r in rows), default=0),
        image_bytes=max((r.image_bytes for r in rows), default=0),
        errors=sum(1 for r in rows if r.errors),
        interrupted=sum(1 for r in rows if r.status == "interrupted"),
        counters={k: sum(r.counters.get(k, 0) for r in rows) for k in COUNTER_KEYS},
        peak_processes=max((r.peak_processes for r in rows if r.peak_processes is not None), default=None),
    )


def summarize_by_backend(rows: Iterable[ResultRow]) -> list[BackendSummary]:
    """One summary per backend, in order of first appearance."""
    groups: dict[str, list[ResultRow]] = {}
    for r in rows:
        groups.setdefault(r.backend, []).append(r)
    return [summarize(b, rs) for b, rs in groups.items()]


def fmt_bytes(n: int | float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    return f"{s:.2f} s"


def _split(time: dict[str, float]) -> str:
    total = sum(time.values())
    if total <= 0:
        return "-"
    parts = [f"{k} {100 * v / total:.0f}%" for k, v in time.items() if v / total >= 0.005]
    return ", ".join(parts)


TABLE_HEADERS = (
    "backend", "proved", "re-checked", "median time to proof", "expansions/s", "time split",
    "peak memory", "image bytes",
)  # fmt: skip


def table_rows(summaries: Sequence[BackendSummary]) -> list[list[str]]:
    """The comparison table's cells, one list per backend, matching `TABLE_HEADERS`."""
    return [
        [
            s.backend,
            f"{s.proved}/{s.rows}",
            f"{s.rechecked}/{s.proved}",
            fmt_seconds(s.median_time_to_proof_s),
            f"{s.expansions_per_s:.2f}",
            _split(s.time),
            fmt_bytes(s.peak_memory_bytes),
            fmt_bytes(s.image_bytes),
        ]
        for s in summaries
    ]


COUNTER_HEADERS = ("backend", *(k.replace("_", " ") for k in COUNTER_KEYS), "peak processes")


def counters_markdown(summaries: Sequence[BackendSummary]) -> str:
    """The backends' counters, summed over their rows: processes that failed (`faults`), expansions served by a
    live process already holding the state (`warm hits`), states rebuilt by replay after their image, pickle or
    process was gone, roots stated again; and the most repl processes held at once."""
    out = ["| " + " | ".join(COUNTER_HEADERS) + " |", "|" + "---|" * len(COUNTER_HEADERS)]
    for s in summaries:
        cells = [s.backend, *(str(s.counters.get(k, 0)) for k in COUNTER_KEYS),
                 "-" if s.peak_processes is None else str(s.peak_processes)]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def table_markdown(summaries: Sequence[BackendSummary]) -> str:
    out = ["| " + " | ".join(TABLE_HEADERS) + " |", "|" + "---|" * len(TABLE_HEADERS)]
    for cells in table_rows(summaries):
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)
