"""The combined `cryo bench` report: every part found in the output directory, and the targets as verdicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from experiments.bench.common import (SEED, TARGETS, Verdict, by_storage, machine_facts, markdown_table, write_json,
                                      write_text)

__all__ = ["PARTS", "verdicts", "build_report", "read_parts"]

# part name -> section title of the report
PARTS = {
    "seed": "1. The seed's table",
    "snapshot": "2. Snapshot scaling",
    "images": "2b. Smaller images: file-mapped against anonymous memory",
    "search": "3. Search throughput",
    "variants": "3b. criu backend variants: lazy thaw (prototype), warm clones",
    "profile": "Profile of one criu expansion",
    "llm": "4. Model proposer: overhead per expansion and model calls per second",
}


def read_parts(out: Path) -> dict[str, Any]:
    """Every `PART.json` present in `out`."""
    parts = {}
    for name in PARTS:
        path = out / f"{name}.json"
        if path.exists():
            parts[name] = json.loads(path.read_text(encoding="utf-8"))
    return parts


def verdicts(parts: dict[str, Any]) -> list[Verdict]:
    """Issue 7's targets measured in these parts (a missing part gives no verdict)."""
    out: list[Verdict] = []
    seed = parts.get("seed", {}).get("result")
    if seed:
        for st, r in by_storage(seed).items():
            m = r["median"]
            size = f"{r['image_mb']:.0f} MB image, {m['rss_after_import_mb']:.0f} MB RSS"
            for key, label in (("thaw_reply_warm_s", "warm"), ("thaw_reply_cold_s", "cold"),
                               ("lazy_reply_cold_s", "lazy, cold"),
                               ("pool_take_reply_s", "thawed ahead of demand")):
                out.append(Verdict(f"thaw-to-first-reply of the repl, {st} storage ({size}; {label}) <= 1/10 "
                                   f"of the seed's {SEED['thaw_reply_s']} s", m[key], TARGETS["thaw_reply_s"],
                                   False, "s"))
            out.append(Verdict(f"freeze of the repl, {st} storage ({size}) <= {TARGETS['freeze_s']:g} s "
                               "(issue 2)", m["freeze_s"], TARGETS["freeze_s"], False, "s"))
            for key, label in (("reply_warm", "warm"), ("reply_cold", "cold")):
                out.append(Verdict(f"cryo thaw / bare `criu restore` of the same image, to first reply, {st} "
                                   f"storage ({label})", r["overhead_vs_bare"][key], TARGETS["thaw_vs_bare_criu"],
                                   False))
    snap = parts.get("snapshot", {}).get("result")
    if snap:
        from experiments.bench.snapshot import fanout_target

        fan = snap["fanout"]
        n = "8" if "8" in fan else (max(fan, key=int) if fan else "?")
        out.append(Verdict(f"fan-out of {n} (lazy) / one lazy thaw, {snap['settings']['fanout_size_mb']} MB process",
                           fanout_target(snap), TARGETS["fanout8_vs_lazy1"], False))
    search = parts.get("search", {}).get("result")
    if search:
        from experiments.bench.throughput import search_targets

        for st, r in by_storage(search).items():
            t = search_targets(r)
            out.append(Verdict(f"criu / pickle theorems per minute (import-heavy), {st} storage",
                               t.get("criu_vs_pickle_tpm"), TARGETS["criu_vs_pickle_tpm"], True))
            out.append(Verdict(f"criu / best of pickle-warm and native, theorems per minute, {st} storage",
                               t.get("criu_vs_best_warm_tpm"), TARGETS["criu_vs_best_warm_tpm"], True))
    # The variants part's native reference starts its pool per theorem (as its criu variants import per
    # theorem); the search part, with the run's shared pools and header images, is the comparison that counts.
    return out


def _verdict_row(v: Verdict) -> list[str]:
    unit = " s" if v.unit == "s" else "x"
    meas = "-" if v.measured is None else (f"{v.measured:.3f}{unit}" if v.unit == "s" else f"{v.measured:.2f}x")
    tgt = ("<= " if not v.higher_is_better else ">= ") + (f"{v.target:g}{unit}")
    met = {True: "met", False: "missed", None: "not measured"}[v.met]
    off = "" if v.met is not False or v.off_by is None else f"{v.off_by:.2f}x"
    return [v.name, meas, tgt, met, off]


def _render(fn: Any, name: str, result: dict[str, Any]) -> str:
    """A part's section; a part written by an older `cryo bench` that lacks a field says so instead."""
    try:
        return fn(result)
    except (KeyError, TypeError) as e:
        return (f"({name}.json lacks {e}: it was written by an older `cryo bench`; run `cryo bench {name}` "
                "again to refresh this section)")


def build_report(out: Path) -> tuple[Path, Path]:
    """Write report.md and bench.json in `out` from the parts there; returns their paths."""
    from experiments.bench import llm, profile, seed_table, snapshot, throughput, variants

    render = {"seed": lambda r: seed_table.seed_markdown(r), "snapshot": snapshot.snapshot_markdown,
              "search": throughput.search_markdown, "profile": profile.profile_markdown,
              "images": snapshot.mapped_markdown,
              "variants": variants.variants_markdown, "llm": llm.llm_markdown}
    parts = read_parts(out)
    vs = verdicts(parts)
    now = machine_facts()
    lines = ["# cryo bench", "",
             f"Report written {now['time_utc']} on {now['cores']} cores, {now['mem_total_mb'] / 1024:.0f} GiB, "
             f"kernel {now['kernel']}.", ""]
    if vs:
        lines += ["## Targets", "", markdown_table(["target", "measured", "target value", "verdict", "missed by"],
                                                    [_verdict_row(v) for v in vs]), ""]
    for name, title in PARTS.items():
        if name not in parts:
            continue
        p = parts[name]
        before, after = p["machine_before"], p["machine_after"]
        lines += [f"## {title}", "",
                  f"Measured {before['time_utc']} to {after['time_utc']}{' (quick mode)' if p.get('quick') else ''}; "
                  f"load average {'/'.join(f'{x:g}' for x in before['load_average'])} before, "
                  f"{'/'.join(f'{x:g}' for x in after['load_average'])} after; "
                  f"{before['mem_available_mb'] / 1024:.1f} GiB available before.", "",
                  _render(render[name], name, p["result"]), ""]
    md = write_text(out / "report.md", "\n".join(lines))
    js = write_json(out / "bench.json", {"machine": now, "targets": [v.as_dict() for v in vs], "parts": parts,
                                          "seed_figures": SEED})
    return md, js
