"""PNG plots of results rows (matplotlib, headless Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from experiments.results import TIME_KEYS, ResultRow  # noqa: E402

__all__ = ["proved_over_time", "plot_proved_vs_time", "plot_latency", "plot_time_split", "write_plots"]


def _by_backend(rows: Sequence[ResultRow]) -> dict[str, list[ResultRow]]:
    groups: dict[str, list[ResultRow]] = {}
    for r in rows:
        groups.setdefault(r.backend, []).append(r)
    return groups


def proved_over_time(rows: Sequence[ResultRow]) -> list[tuple[float, int]]:
    """(seconds since the run's start, theorems proved so far) at each proof, for rows run one after another.

    A row's proof lands at the sum of the earlier rows' wall times plus its own time to proof.
    """
    points: list[tuple[float, int]] = [(0.0, 0)]
    elapsed = 0.0
    proved = 0
    for r in rows:
        if r.proved and r.time_to_proof_s is not None:
            proved += 1
            points.append((elapsed + r.time_to_proof_s, proved))
        elapsed += r.wall_s
    points.append((elapsed, proved))
    return points


def _save(fig: Any, path: Path, title: str, backends: Sequence[str]) -> Path:
    """Save as PNG; the backends drawn are named in the PNG's Description text chunk."""
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Title": title, "Description": "backends: " + ", ".join(backends)})
    plt.close(fig)
    return path


def plot_proved_vs_time(rows: Sequence[ResultRow], path: Path) -> Path:
    """Theorems proved against wall time, one line per backend."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for backend, rs in _by_backend(rows).items():
        pts = proved_over_time(rs)
        ax.step([p[0] for p in pts], [p[1] for p in pts], where="post", label=f"{backend} ({pts[-1][1]} proved)")
    ax.set_xlabel("wall time since the start of the run (s)")
    ax.set_ylabel("theorems proved")
    ax.set_title("Theorems proved against wall time")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(fig, path, "Theorems proved against wall time", list(_by_backend(rows)))


def plot_latency(rows: Sequence[ResultRow], path: Path) -> Path:
    """Distribution of expansion latencies: empirical CDF (log x) and a box plot, one per backend."""
    groups = {b: [x for r in rs for x in r.expansion_latencies_s] for b, rs in _by_backend(rows).items()}
    fig, (ax_cdf, ax_box) = plt.subplots(1, 2, figsize=(11, 4.5))
    for backend, xs in groups.items():
        if not xs:
            ax_cdf.plot([], [], label=f"{backend} (no expansions)")
            continue
        xs = sorted(xs)
        n = len(xs)
        ax_cdf.step(xs, [(i + 1) / n for i in range(n)], where="post", label=f"{backend} (n={n})")
    if any(groups.values()):
        ax_cdf.set_xscale("log")
    ax_cdf.set_xlabel("expansion latency (s)")
    ax_cdf.set_ylabel("fraction of expansions")
    ax_cdf.set_title("Expansion latency, cumulative")
    ax_cdf.grid(True, alpha=0.3)
    ax_cdf.legend()
    labels = list(groups)
    ax_box.boxplot([groups[b] or [0.0] for b in labels], showfliers=False)
    ax_box.set_xticks(range(1, len(labels) + 1), labels)
    ax_box.set_ylabel("expansion latency (s)")
    ax_box.set_title("Expansion latency per backend")
    ax_box.grid(True, axis="y", alpha=0.3)
    return _save(fig, path, "Expansion latency", labels)


def plot_time_split(rows: Sequence[ResultRow], path: Path) -> Path:
    """Stacked bars: seconds per kind of work (thaw, freeze, tactic, pickle, import, policy) per backend."""
    groups = _by_backend(rows)
    labels = list(groups)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    bottoms = [0.0] * len(labels)
    for key in TIME_KEYS:
        vals = [sum(r.time.get(key, 0.0) for r in groups[b]) for b in labels]
        ax.bar(labels, vals, bottom=bottoms, label=key)
        bottoms = [b + v for b, v in zip(bottoms, vals)]
    ax.set_ylabel("seconds (summed over processes)")
    ax.set_title("Where the time went")
    ax.legend()
    return _save(fig, path, "Time split", labels)


def write_plots(rows: Sequence[ResultRow], out_dir: Path) -> dict[str, Path]:
    """All plots into `out_dir`; returns name -> path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return {
        "proved_vs_time": plot_proved_vs_time(rows, out_dir / "proved_vs_time.png"),
        "expansion_latency": plot_latency(rows, out_dir / "expansion_latency.png"),
        "time_split": plot_time_split(rows, out_dir / "time_split.png"),
    }
