"""`cryo bench variants`: the criu backend as it is, a prototype of it that thaws lazily, and it with warm clones.

The lazy variant is the treesearch criu backend with `lazy_thaw=True`: its restores go through userfaultfd
(`thaw_many(..., lazy=True)`), so a clone answers after loading only the pages it touches.  The
third variant keeps up to `keep_warm` clones running between expansions (the backend's own knob).  All run
through `treesearch.search` on the same theorems with the same budget, proposer, selector and seed, one fresh
backend per theorem (as `cryo run` does).
"""

from __future__ import annotations

import time
from typing import Any, Sequence

from experiments.bench.common import markdown_table, ratio

__all__ = ["VARIANT_THEOREMS", "run_variants", "variants_markdown"]

# A shallow and a deep half of the search part's theorems.
VARIANT_THEOREMS = ("basic_id", "basic_and_intro", "comm_and", "curry")


def run_variants(*, theorems: Sequence[str], library_size: int | None, max_expansions: int, time_limit: float,
                 tactics_per_expansion: int = 4, workers: int = 2, freeze: str = "lazy",
                 image_budget: str = "3GiB", keep_warm: int = 4) -> dict[str, Any]:
    """Search every theorem with every variant (alternating per theorem); per-variant totals."""
    import shutil
    import tempfile

    import anyio

    from experiments.config import parse_size
    from experiments.suites import load_suite
    from lean_env.repl_cmd import minilean_argv
    from policies import load_policy
    from treesearch import SearchBudget, Theorem, search
    from treesearch.backends.criu import CriuBackend
    from treesearch.backends.native import NativeBackend

    criu = {"freeze": freeze, "image_budget": parse_size(image_budget)}
    variants: dict[str, tuple[type, dict[str, Any]]] = {
        "criu": (CriuBackend, criu),
        "criu + lazy thaw": (CriuBackend, {**criu, "lazy_thaw": True}),
        f"criu, keep_warm={keep_warm}": (CriuBackend, {**criu, "keep_warm": keep_warm}),
        f"native ({workers} workers, reference)": (NativeBackend, {"pool_size": workers}),
    }
    found = {t.name: t for t in load_suite(["bundled:*.lean"], list(theorems))}
    cwd = tempfile.mkdtemp(prefix="cryo-bench-cwd-")
    argv = ["env", f"--chdir={cwd}", *minilean_argv(library_size=library_size, imports=("Mathlib",))]
    totals: dict[str, dict[str, Any]] = {v: {"theorems": 0, "proved": 0, "expansions": 0, "wall_s": 0.0,
                                             "time_s": {}} for v in variants}
    try:
        for name in theorems:
            t = found[name]
            target = Theorem(source=t.source, imports=("Mathlib", *t.imports), name=t.name)
            for variant, (cls, extra) in variants.items():
                backend = cls(argv=argv, tactic_timeout=60.0, **extra)
                budget = SearchBudget(expansions=max_expansions, wall_seconds=time_limit, tactic_timeout=60.0,
                                      image_bytes=parse_size(image_budget))

                async def one() -> Any:
                    async with backend:
                        return await search(target, backend=backend, proposer=load_policy("proposer", "propositional"),
                                            selector=load_policy("selector", "best-first"), budget=budget,
                                            max_in_flight=workers, seed=0,
                                            tactics_per_expansion=tactics_per_expansion, recheck=False,
                                            handle_sigint=False)

                t0 = time.monotonic()
                result = anyio.run(one)
                wall = time.monotonic() - t0
                tot = totals[variant]
                tot["theorems"] += 1
                tot["proved"] += int(result.proved)
                tot["expansions"] += result.expansions
                tot["wall_s"] += wall
                for k, v in result.timings.items():
                    if isinstance(v, (int, float)) and not k.endswith("_n") and k in ("thaw", "freeze", "tactic",
                                                                                       "pickle", "import"):
                        tot["time_s"][k] = tot["time_s"].get(k, 0.0) + float(v)
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    for tot in totals.values():
        tot["theorems_per_min"] = 60.0 * tot["proved"] / tot["wall_s"] if tot["wall_s"] > 0 else 0.0
        tot["expansions_per_s"] = tot["expansions"] / tot["wall_s"] if tot["wall_s"] > 0 else 0.0
    return {"settings": {"theorems": list(theorems), "library_size": library_size, "max_expansions": max_expansions,
                         "time_limit_s": time_limit, "tactics_per_expansion": tactics_per_expansion,
                         "workers": workers, "freeze": freeze, "keep_warm": keep_warm,
                         "backend": "treesearch.backends.criu.CriuBackend with its default clones mode"},
            "variants": totals,
            "lazy_over_eager_tpm": ratio(totals["criu + lazy thaw"]["theorems_per_min"],
                                         totals["criu"]["theorems_per_min"]),
            "warm_over_cold_tpm": ratio(totals[f"criu, keep_warm={keep_warm}"]["theorems_per_min"],
                                        totals["criu"]["theorems_per_min"]),
            "warm_over_native_tpm": ratio(totals[f"criu, keep_warm={keep_warm}"]["theorems_per_min"],
                                          totals[f"native ({workers} workers, reference)"]["theorems_per_min"]),
            "lazy_over_eager_eps": ratio(totals["criu + lazy thaw"]["expansions_per_s"],
                                         totals["criu"]["expansions_per_s"])}


def variants_markdown(res: dict[str, Any]) -> str:
    st = res["settings"]
    rows = []
    for name, v in res["variants"].items():
        split = ", ".join(f"{k} {s:.1f} s" for k, s in v["time_s"].items() if s > 0)
        rows.append([name, f"{v['proved']}/{v['theorems']}", f"{v['theorems_per_min']:.2f}",
                     f"{v['expansions_per_s']:.2f}", f"{v['wall_s']:.1f} s", split])
    lazy_tpm, lazy_eps = res["lazy_over_eager_tpm"], res["lazy_over_eager_eps"]
    warm_tpm = res.get("warm_over_cold_tpm")
    warm_native = res.get("warm_over_native_tpm")
    return "\n".join([
        f"The criu backend, the lazy-thaw prototype, the backend with warm clones, and native for reference, "
        f"through `treesearch.search`, on "
        f"{', '.join(st['theorems'])} with the search part's budgets ({st['max_expansions']} expansions, "
        f"{st['time_limit_s']:g} s, "
        f"K = {st['tactics_per_expansion']}, {st['workers']} in flight, freeze = {st['freeze']}); wall includes "
        "opening the root (import + freeze). Every variant, native included, opens each theorem in fresh "
        "processes (no header images, no shared pools): this part compares criu's settings with each other; "
        "part 3 is the comparison between backends.",
        "",
        markdown_table(["variant", "proved", "theorems/min", "expansions/s", "wall", "busy time"], rows),
        "",
        f"lazy thaw / eager thaw: {'-' if lazy_tpm is None else f'{lazy_tpm:.2f}x'} theorems per minute, "
        f"{'-' if lazy_eps is None else f'{lazy_eps:.2f}x'} expansions per second; warm clones / none: "
        f"{'-' if warm_tpm is None else f'{warm_tpm:.2f}x'} theorems per minute; warm clones / native: "
        f"{'-' if warm_native is None else f'{warm_native:.2f}x'} theorems per minute.",
    ])
