"""`cryo bench search`: search throughput on the bundled suite at equal budgets, one run per backend.

Runs `experiments.compare.compare_backends` (the same code as `cryo compare`, and so `treesearch.search`) on one
config for every known backend kind (`treesearch.backends.backend_names()`: criu, pickle, pickle-warm, native
and any kind an installed package adds), with MiniLean importing a Mathlib-sized library, and derives per
backend: expansions per second, theorems proved per minute, the time split, peak memory and image bytes.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from experiments.bench.common import TARGETS, BenchError, by_storage, fmt_ratio, markdown_table, ratio
from lean_env.repl_cmd import MINILEAN_LIBRARY_STORAGES

__all__ = ["DEFAULT_THEOREMS", "QUICK_THEOREMS", "search_backends", "search_config_text", "run_search",
           "run_search_storages", "search_markdown", "search_targets"]


def search_backends() -> tuple[str, ...]:
    """The backends `cryo bench search` compares by default: every kind the registry knows."""
    from treesearch.backends import backend_names

    return backend_names()

# Bundled theorems from one tactic to about twenty expansions deep, so that both the per-theorem cost (the
# root's import) and the per-expansion cost (thaw vs re-import) show.
DEFAULT_THEOREMS = ("basic_id", "basic_and_left", "basic_or_inl", "negation_double_intro", "basic_and_intro",
                    "comm_and", "curry", "comm_or")
QUICK_THEOREMS = ("basic_id", "basic_and_intro")


def search_config_text(*, library_size: int | None, theorems: Sequence[str], max_expansions: int,
                       time_limit: float, tactics_per_expansion: int, workers: int, criu_freeze: str,
                       image_budget: str, cwd: str | None = None, criu_keep_warm: int | None = None,
                       library_storage: str | None = None, backends: Sequence[str] | None = None) -> str:
    """The experiment config (TOML) every backend runs with."""
    import tomllib

    lib = "" if library_size is None else f"library_size = {int(library_size)}\n"
    if library_storage is not None:
        lib += f"library_storage = {json.dumps(library_storage)}\n"
    text = (
        "# written by cryo bench search\n"
        "[env]\nrepl = \"minilean\"\nimports = [\"Mathlib\"]\n" + lib +
        (f"cwd = {json.dumps(cwd)}\n" if cwd else "") +
        f"\n[backend]\nworkers = {int(workers)}\nimage_budget = {json.dumps(image_budget)}\n"
        f"freeze = {json.dumps(criu_freeze)}\n"
        f"keep_warm = {int(workers if criu_keep_warm is None else criu_keep_warm)}\n"
        f"\n[search]\nalgorithm = \"best-first\"\nmax_expansions = {int(max_expansions)}\n"
        f"time_limit = {float(time_limit)}\ntactic_timeout = 60.0\n"
        f"tactics_per_expansion = {int(tactics_per_expansion)}\nseed = 0\n"
        f"\n[suite]\npaths = [\"bundled:*.lean\"]\nnames = {json.dumps(list(theorems))}\n"
        "\n[run]\nname = \"bench-search\"\nrecheck = false\n"
        f"\n[compare]\nbackends = {json.dumps(list(backends or search_backends()))}\n"
    )
    tomllib.loads(text)  # a malformed value is caught here rather than by the run
    return text


def run_search(out: Path, *, library_size: int | None = None, theorems: Sequence[str] = DEFAULT_THEOREMS,
               backends: Sequence[str] | None = None, max_expansions: int = 24, time_limit: float = 90.0,
               tactics_per_expansion: int = 4, workers: int = 2, criu_freeze: str = "lazy",
               image_budget: str = "3GiB", criu_keep_warm: int | None = None,
               library_storage: str | None = None) -> dict[str, Any]:
    """Run the comparison into a new directory under `out`; per-backend figures and where the runs are.

    ``criu_keep_warm`` (default: ``workers``) warm clones give criu as many live repls as the pickle-warm and
    native pools hold, for the equal-memory comparison."""
    from experiments.compare import compare_backends
    from experiments.config import ConfigError, parse_config

    backends = list(backends or search_backends())
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_dir = out / f"search-{library_storage or 'heap'}-{stamp}"
    # The repls run in a private working directory: criu serializes dumps of processes sharing a cwd
    # machine-wide (criu_backend._dumplock), so other programs dumping from this cwd would slow ours.
    cwd = tempfile.mkdtemp(prefix="cryo-bench-cwd-")
    try:
        text = search_config_text(library_size=library_size, theorems=theorems, max_expansions=max_expansions,
                                  time_limit=time_limit, tactics_per_expansion=tactics_per_expansion,
                                  workers=workers, criu_freeze=criu_freeze, image_budget=image_budget, cwd=cwd,
                                  criu_keep_warm=criu_keep_warm, library_storage=library_storage,
                                  backends=backends)
        try:
            config = parse_config(text, source="<cryo bench search>")
        except ConfigError as e:
            raise BenchError(f"cryo bench search built a bad config: {e}") from e
        outcome = compare_backends(config, backends=list(backends), output_dir=run_dir)
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    if outcome.interrupted:
        raise BenchError(f"the search comparison was interrupted; partial results in {run_dir}")
    per: dict[str, Any] = {}
    for s in outcome.summaries:
        rows = [r for r in outcome.rows if r.backend == s.backend]
        lat = [x for r in rows for x in r.expansion_latencies_s]
        busy = sum(s.time.values())
        per[s.backend] = {
            "theorems": s.rows,
            "proved": s.proved,
            "expansions": s.expansions,
            "wall_s": s.wall_s,
            "expansions_per_s": s.expansions_per_s,
            "theorems_per_min": 60.0 * s.proved / s.wall_s if s.wall_s > 0 else 0.0,
            "median_expansion_s": statistics.median(lat) if lat else None,
            "time_s": s.time,
            "time_share": {k: v / busy for k, v in s.time.items()} if busy > 0 else {},
            "peak_memory_bytes": s.peak_memory_bytes,
            "image_bytes": s.image_bytes,
            "rows_with_errors": s.errors,
            "proved_theorems": sorted(r.theorem for r in rows if r.proved),
        }
    missing = [b for b in backends if b not in per]
    if missing:
        raise BenchError(f"no search rows for backend(s) {missing}; see {run_dir}")
    return {
        "settings": {"library_size": library_size, "library_storage": library_storage or "heap",
                     "theorems": list(theorems), "backends": list(backends),
                     "max_expansions": max_expansions, "time_limit_s": time_limit,
                     "tactics_per_expansion": tactics_per_expansion, "workers": workers,
                     "criu_freeze": criu_freeze, "image_budget": image_budget, "recheck": False,
                     "criu_keep_warm": workers if criu_keep_warm is None else criu_keep_warm},
        "run_dir": str(run_dir),
        "config": text,
        "backends": per,
    }


def run_search_storages(out: Path, storages: Sequence[str] = MINILEAN_LIBRARY_STORAGES,
                        **kwargs: Any) -> dict[str, Any]:
    """:func:`run_search` once per MiniLean library storage; ``{"storages": {storage: result}}``."""
    return {"storages": {st: run_search(out, library_storage=st, **kwargs) for st in storages}}


def search_targets(res: dict[str, Any]) -> dict[str, float | None]:
    """criu's theorems per minute over pickle's and over the best of pickle-warm and native (and the same
    ratios for expansions per second, which do not depend on how many theorems a budget happens to prove)."""
    b = res["backends"]
    criu = b.get("criu")
    if criu is None:
        return {}
    pickle = b.get("pickle")
    warm = [b[k] for k in ("pickle-warm", "native") if k in b]
    best_tpm = max((w["theorems_per_min"] for w in warm), default=None)
    best_eps = max((w["expansions_per_s"] for w in warm), default=None)
    return {
        "criu_vs_pickle_tpm": ratio(criu["theorems_per_min"], pickle["theorems_per_min"]) if pickle else None,
        "criu_vs_pickle_eps": ratio(criu["expansions_per_s"], pickle["expansions_per_s"]) if pickle else None,
        "criu_vs_best_warm_tpm": ratio(criu["theorems_per_min"], best_tpm),
        "criu_vs_best_warm_eps": ratio(criu["expansions_per_s"], best_eps),
    }


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def search_markdown(res: dict[str, Any]) -> str:
    by = by_storage(res)
    return "\n\n".join(f"**Library storage {name}.** " + _search_markdown_one(r) for name, r in by.items())


def _search_markdown_one(res: dict[str, Any]) -> str:
    st = res["settings"]
    lib = st["library_size"] if st["library_size"] is not None else "default (3000)"
    rows = []
    for name, r in res["backends"].items():
        split = ", ".join(f"{k} {100 * v:.0f}%" for k, v in r["time_share"].items() if v >= 0.005) or "-"
        med = r["median_expansion_s"]
        rows.append([name, f"{r['proved']}/{r['theorems']}", f"{r['theorems_per_min']:.2f}",
                     f"{r['expansions_per_s']:.2f}", "-" if med is None else f"{med:.3f} s", f"{r['wall_s']:.1f} s",
                     split, _mib(r["peak_memory_bytes"]), _mib(r["image_bytes"])])
    t = search_targets(res)
    lines = [
        f"MiniLean with `import Mathlib` (library size {lib}); {len(st['theorems'])} bundled theorems "
        f"({', '.join(st['theorems'])}); equal budgets: {st['max_expansions']} expansions and "
        f"{st['time_limit_s']:g} s per theorem, {st['tactics_per_expansion']} tactics per expansion, "
        f"{st['workers']} workers, best-first, seed 0; criu freeze = {st['criu_freeze']}, "
        f"keep_warm = {st.get('criu_keep_warm', 0)}; no re-check. "
        f"Runs: `{res['run_dir']}`.",
        "",
        markdown_table(["backend", "proved", "theorems/min", "expansions/s", "median expansion", "search wall",
                        "time split", "peak memory", "peak image bytes"], rows),
        "",
        f"criu / pickle: {fmt_ratio(t.get('criu_vs_pickle_tpm'))} theorems per minute (target >= "
        f"{TARGETS['criu_vs_pickle_tpm']:g}x), {fmt_ratio(t.get('criu_vs_pickle_eps'))} expansions per second. "
        f"criu / best of pickle-warm and native: {fmt_ratio(t.get('criu_vs_best_warm_tpm'))} theorems per minute "
        f"(target >= {TARGETS['criu_vs_best_warm_tpm']:g}x), {fmt_ratio(t.get('criu_vs_best_warm_eps'))} "
        "expansions per second.",
    ]
    return "\n".join(lines)
