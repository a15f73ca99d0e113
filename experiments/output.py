"""A run's output directory: its name, creation (with the config copied in), tree file names, summary.md.

    config.toml      the config file as given (plus `effective.json`: every key's effective value)
    results.jsonl    one `experiments.results.ResultRow` per (theorem, repeat), written as each one ends
    trees/NAME.json  the proof tree of each search (`NAME.rK.json` when repeats > 1)
    summary.md       the table of `experiments.summary`, rewritten at the end (also after Ctrl-C)
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Sequence

from experiments.config import ExperimentConfig, repl_argv
from experiments.errors import RunError
from experiments.results import ResultRow
from experiments.summary import counters_markdown, summarize_by_backend, table_markdown

__all__ = ["expand_output", "prepare_output", "tree_name", "write_summary", "model_summary"]


def expand_output(config: ExperimentConfig, started: datetime) -> Path:
    """`[run] output` with `{name}` and `{time}` (UTC, `started`) filled in."""
    template = config.run.output
    try:
        text = template.format(name=config.run.name, time=started.strftime("%Y%m%dT%H%M%SZ"))
    except (KeyError, IndexError, ValueError) as e:
        raise RunError(
            f"[run] output = {template!r}: bad placeholder ({e}); only {{name}} and {{time}} are known"
        ) from e
    return Path(text).expanduser()


def prepare_output(config: ExperimentConfig, output_dir: Path | None, *, started: datetime) -> Path:
    """Create the output directory (it must not exist or be empty) and copy the config into it."""
    out = Path(output_dir) if output_dir is not None else expand_output(config, started)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunError(f"output directory {out} already exists and is not empty; "
                       "choose another [run] output (or --output), or remove it")
    try:
        (out / "trees").mkdir(parents=True, exist_ok=True)
        (out / "config.toml").write_text(config.text, encoding="utf-8")
        effective = {"source": str(config.source) if config.source else None,
                     "overrides": [list(o) for o in config.overrides], "config": config.as_dict()}
        (out / "effective.json").write_text(json.dumps(effective, indent=1, default=str), encoding="utf-8")
    except OSError as e:
        raise RunError(f"cannot write the output directory {out}: {e}") from e
    return out


def tree_name(name: str, repeat: int, repeats: int) -> str:
    """The file name of a theorem's tree under `trees/`: `NAME.json`, or `NAME.rK.json` with repeats."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
    return f"{safe}.r{repeat}.json" if repeats > 1 else f"{safe}.json"


def model_summary(rows: Sequence[ResultRow]) -> str:
    """One line on the model calls of rows whose proposer recorded them (`ResultRow.model`); "" when none did."""
    calls = [c for r in rows if r.model for c in r.model["calls"]]
    if not calls:
        return ""
    live = [c for c in calls if not c["cached"]]
    lat = sorted(c["latency"] for c in live)
    median = lat[len(lat) // 2] if lat else 0.0
    errors = sum(c["error"] is not None for c in calls)
    return (f"Model calls: {len(live)} to the server ({len(calls) - len(live)} answered from the cache), "
            f"{sum(c['prompt_tokens'] for c in live)} prompt and {sum(c['completion_tokens'] for c in live)} "
            f"completion tokens, median latency {median * 1000:.0f} ms, {errors} failed, "
            f"{sum(c['retries'] for c in calls)} retries.")


def write_summary(out: Path, config: ExperimentConfig, rows: Sequence[ResultRow], *, interrupted: bool,
                  theorems: int, extra: str = "") -> Path:
    """summary.md: what ran, the table, the backend counters, and one line per theorem."""
    lines = [f"# cryo run `{config.run.name}`", ""]
    if interrupted:
        lines += [f"**Interrupted** (Ctrl-C) after {len(rows)} of {theorems} searches; the rows below are partial.",
                  ""]
    summaries = summarize_by_backend(rows)
    lines += [
        f"- config: `{config.source or '<inline>'}`" + (f" with overrides {dict(config.overrides)}"
                                                         if config.overrides else ""),
        f"- repl: `{' '.join(repl_argv(config))}`",
        f"- backend: {config.backend.kind}, workers {config.backend.workers}; search: {config.search.algorithm}, "
        f"{config.search.max_expansions} expansions / {config.search.time_limit:g} s per theorem, "
        f"seed {config.search.seed}",
        "",
        table_markdown(summaries) if rows else "(no rows)",
        "",
    ]
    if rows:
        lines += [counters_markdown(summaries), ""]
    model = model_summary(rows)
    if model:
        lines += [model, ""]
    if extra:
        lines += [extra, ""]
    lines += ["| theorem | repeat | status | re-check | expansions | wall | proof |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        proof = "; ".join(r.proof).replace("|", "\\|") if r.proof else ""
        cell = f"`{proof}`" if proof else ""
        lines.append(f"| {r.theorem} | {r.repeat} | {r.status} | {r.recheck} | {r.expansions} | "
                     f"{r.wall_s:.2f} s | {cell} |")
    path = out / "summary.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
