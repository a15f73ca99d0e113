"""`cryo compare`: one suite, several backends, equal budgets; a report with a table and PNG plots.

Output directory layout:

    BACKEND/         one `cryo run` output directory per backend (config, results.jsonl, trees, summary.md)
    results.jsonl    every backend's rows together
    report.md        the comparison table, the plots, and the theorems only some backends proved
    proved_vs_time.png, expansion_latency.png, time_split.png
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from experiments.config import ConfigError, ExperimentConfig, repl_argv
from experiments.errors import RunError
from experiments.output import expand_output
from experiments.plots import write_plots
from experiments.progress import Progress
from experiments.results import ResultRow, ResultsWriter
from experiments.runner import preflight, run_experiment
from experiments.summary import BackendSummary, counters_markdown, summarize_by_backend, table_markdown

__all__ = ["CompareOutcome", "compare_backends", "write_report"]


@dataclass
class CompareOutcome:
    output_dir: Path
    rows: list[ResultRow]
    summaries: list[BackendSummary]
    report_path: Path
    plots: dict[str, Path]
    interrupted: bool


def write_report(out: Path, config: ExperimentConfig, rows: Sequence[ResultRow], *, backends: Sequence[str],
                 interrupted: bool) -> tuple[Path, list[BackendSummary], dict[str, Path]]:
    """report.md and the plots for `rows` (every backend's), into `out`."""
    summaries = summarize_by_backend(rows)
    plots = write_plots(rows, out)
    done = {s.backend for s in summaries}
    s = config.search
    lines = [f"# cryo compare `{config.run.name}`", ""]
    if interrupted:
        lines += ["**Interrupted** (Ctrl-C): the figures below cover only what finished.", ""]
    missing = [b for b in backends if b not in done]
    if missing:
        lines += [f"Backends with no rows: {', '.join(missing)}.", ""]
    lines += [
        f"Equal budgets for every backend: {s.max_expansions} expansions and {s.time_limit:g} s per theorem, "
        f"{s.tactics_per_expansion} tactics per expansion, {config.backend.workers} workers, "
        f"max in flight {s.max_in_flight or config.backend.workers}, seed {s.seed}, algorithm {s.algorithm}.",
        f"Repl: `{' '.join(repl_argv(config))}`" + (f", header imports {list(config.env.imports)}"
                                                     if config.env.imports else "") + ".",
        "",
        table_markdown(summaries),
        "",
        "Median time to proof is over proved theorems; expansions/s is all expansions over all search wall time; "
        "the time split sums busy seconds per kind of work over all processes; peak memory is the largest "
        "summed RSS of the repl processes; image bytes the most CRIU image / pickle bytes held at once.",
        "",
        "Backend counters, summed over each backend's rows: processes that crashed, hung or ran out of memory "
        "(faults); expansions served by a live process that already held the state (warm hits); states rebuilt "
        "by replay because their image, pickle or process was gone; roots stated again; and the most repl "
        "processes held at once.",
        "",
        counters_markdown(summaries),
        "",
        "![theorems proved against wall time](proved_vs_time.png)",
        "",
        "![expansion latency](expansion_latency.png)",
        "",
        "![time split](time_split.png)",
        "",
    ]
    proved_by: dict[str, set[str]] = {}
    for r in rows:
        if r.proved:
            proved_by.setdefault(r.theorem, set()).add(r.backend)
    only_some = sorted(t for t, bs in proved_by.items() if bs != done)
    if only_some:
        lines += ["## Proved by only some backends", "", "| theorem | proved by |", "|---|---|"]
        lines += [f"| {t} | {', '.join(sorted(proved_by[t]))} |" for t in only_some]
        lines.append("")
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    (out / "summary.json").write_text(
        json.dumps([s.__dict__ for s in summaries], indent=1), encoding="utf-8")
    return path, summaries, plots


def compare_backends(
    config: ExperimentConfig,
    *,
    backends: Sequence[str] | None = None,
    output_dir: Path | None = None,
    progress_fn=None,
) -> CompareOutcome:
    """Run `config` once per backend (same suite, budgets and seed) and write the report.

    `progress_fn(backend) -> Progress` gives each run its progress display (default: none).
    """
    from treesearch.backends import backend_names

    kinds = list(backends) if backends else list(config.compare.backends)
    known = backend_names()
    for k in kinds:
        if k not in known:
            raise ConfigError(f"unknown backend {k!r} to compare; allowed: {', '.join(known)}")
    if len(set(kinds)) != len(kinds):
        raise ConfigError(f"backends to compare repeat a name: {kinds}")
    started = datetime.now(timezone.utc)
    out = Path(output_dir) if output_dir is not None else expand_output(config, started)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunError(f"output directory {out} already exists and is not empty; choose another, or remove it")
    for kind in kinds:  # the policies (a model server answers), the settings and each kind, before anything is written
        preflight(config.with_backend(kind))
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.toml").write_text(config.text, encoding="utf-8")
    rows: list[ResultRow] = []
    interrupted = False
    with ResultsWriter(out / "results.jsonl") as writer:
        for kind in kinds:
            run = run_experiment(
                config.with_backend(kind),
                output_dir=out / kind,
                progress=progress_fn(kind) if progress_fn is not None else Progress(),
                label=kind,
            )
            for r in run.rows:
                writer.write(r)
            rows.extend(run.rows)
            if run.interrupted:
                interrupted = True
                break
    report, summaries, plots = write_report(out, config, rows, backends=kinds, interrupted=interrupted)
    return CompareOutcome(output_dir=out, rows=rows, summaries=summaries, report_path=report, plots=plots,
                          interrupted=interrupted)
