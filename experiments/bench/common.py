"""Shared pieces of `cryo bench`: the seed's figures, the targets, machine facts, medians, output files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

__all__ = [
    "BenchError", "SEED", "TARGETS", "DEFAULT_OUTPUT", "machine_facts", "load_average", "median",
    "Stopwatch", "Verdict", "ratio", "write_json", "write_text", "fmt_s", "fmt_mb", "fmt_ratio", "markdown_table",
    "prepare_output",
]

DEFAULT_OUTPUT = Path("bench-results")

# The seed article's figures (real Lean, `import Mathlib`, as the seed article measured them): seconds, MB, KB.
SEED = {
    "import_s": 3.155,
    "pickle_to_s": 0.001,
    "unpickle_env_s": 2.367,
    "freeze_s": 0.829,
    "thaw_reply_s": 0.510,
    "image_mb": 455.0,
    "pickle_kb": 1.5,
}

# Issue 7's targets, each a ratio measured in one run.
TARGETS = {
    "thaw_reply_s": 0.05,            # thaw-to-first-reply of the ~450 MB repl: <= 1/10 of the seed's 0.510 s
    "criu_vs_pickle_tpm": 10.0,      # criu theorems/min >= 10x pickle (fresh repl, re-import)
    "criu_vs_best_warm_tpm": 1.0,    # criu theorems/min >= best of pickle-warm, native
    "fanout8_vs_lazy1": 4.0,         # wall until 8 copies answer <= 4x one lazy thaw
    "thaw_vs_bare_criu": 1.2,        # cryo thaw-to-first-reply <= 1.2x a bare `criu restore` of the same image
    "freeze_s": 0.2,                 # freeze of the ~450 MB repl (issue 2's target, carried into issue 7)
}


def by_storage(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The per-library-storage results of a part measured once per storage (``{"storages": {name: result}}``);
    a part written before storages existed is one result, measured with the default storage, heap."""
    return result["storages"] if "storages" in result else {"heap": result}


class BenchError(RuntimeError):
    """A benchmark could not run (missing CRIU, a repl that failed, an unusable output dir); says what to do."""


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def _meminfo_mb(key: str) -> float:
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine_facts() -> dict[str, Any]:
    """Cores, memory, kernel, load average and the UTC time: what a reader needs to weigh the figures."""
    return {
        "time_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": platform.node(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "mem_total_mb": round(_meminfo_mb("MemTotal")),
        "mem_available_mb": round(_meminfo_mb("MemAvailable")),
        "load_average": [round(x, 2) for x in load_average()],
    }


def median(samples: Iterable[float]) -> float:
    values = list(samples)
    if not values:
        raise BenchError("no samples to take a median of")
    return statistics.median(values)


class Stopwatch:
    """`with Stopwatch() as sw: ...` then `sw.seconds` (perf_counter)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._t0 = 0.0

    def __enter__(self) -> "Stopwatch":
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0


def prepare_output(path: str | os.PathLike[str] | None) -> Path:
    out = Path(path) if path is not None else DEFAULT_OUTPUT
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BenchError(f"cannot create the output directory {out}: {e}; pass another with --output") from e
    return out


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value, indent=1, default=str) + "\n", encoding="utf-8")
    return path


def write_text(path: Path, text: str) -> Path:
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    return path


def fmt_s(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f} s"


def fmt_mb(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f} MB"


def fmt_ratio(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.2f}x" if x < 100 else f"{x:.0f}x"


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is not positive."""
    if a is None or b is None or b <= 0:
        return None
    return a / b


@dataclass(frozen=True)
class Verdict:
    """One target: what was measured against what, and whether it was met."""

    name: str
    measured: float | None
    target: float
    higher_is_better: bool
    unit: str = "x"

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        return self.measured >= self.target if self.higher_is_better else self.measured <= self.target

    @property
    def off_by(self) -> float | None:
        """How far from the target, as a factor (>1 when missed)."""
        if self.measured is None or self.measured <= 0:
            return None
        return self.target / self.measured if self.higher_is_better else self.measured / self.target

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "measured": self.measured, "target": self.target,
                "higher_is_better": self.higher_is_better, "unit": self.unit, "met": self.met,
                "off_by": self.off_by}


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out)
