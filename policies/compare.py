"""Compare selection rules on the same theorems at equal budgets: theorems proved, median expansions to proof.

``python -m policies compare-selectors`` reproduces the tables of ``docs/policies.md``::

    python -m policies compare-selectors --tautologies 300 --seed 11 --suite 'bundled:*.lean' \\
        --selectors best-first,uct,puct --expansions 400

Every search is real: the treesearch driver on the ``native`` backend with one MiniLean repl (library-free,
``--library-size 0``, shared across theorems through :class:`treesearch.backends.warm.WarmRepls`),
``max_in_flight=1`` and a fixed seed, so a run is deterministic.  ``--recheck`` re-checks each proof in a
fresh repl (slower); a proof that the re-check rejects does not count as proved.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["Item", "Row", "compare_selectors", "format_table", "main", "policy_spec", "summarise"]


@dataclasses.dataclass(frozen=True)
class Item:
    """One theorem to search: its name, its source (``theorem … := by sorry``) and the set it belongs to."""

    name: str
    source: str
    group: str


@dataclasses.dataclass
class Row:
    """The outcome of one (selector, theorem) search."""

    selector: str
    proposer: str
    item: Item
    proved: bool
    expansions: int
    stopped_by: str
    wall: float


def policy_spec(kind: str, spec: str) -> Any:
    """A policy from ``name`` or ``name[key=value,...]`` (values are Python literals: ``uct[prior_weight=0,
    first_play_value=None]`` is classic UCB1), loaded with :func:`policies.load_policy`."""
    import ast

    from policies.errors import PolicyLoadError
    from policies.registry import load_policy

    name, bracket, rest = spec.partition("[")
    kwargs: dict[str, Any] = {}
    if bracket:
        if not rest.endswith("]"):
            raise PolicyLoadError(f"{kind} spec {spec!r}: expected name[key=value,...]")
        for pair in filter(None, (p.strip() for p in rest[:-1].split(","))):
            key, eq, value = pair.partition("=")
            try:
                kwargs[key.strip()] = ast.literal_eval(value.strip())
            except (ValueError, SyntaxError) as e:
                raise PolicyLoadError(f"{kind} spec {spec!r}: {pair!r} is not key=<Python literal>") from e
            if not eq:
                raise PolicyLoadError(f"{kind} spec {spec!r}: {pair!r} is not key=value")
    return load_policy(kind, name.strip(), **kwargs)


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


async def _run(items: Sequence[Item], selectors: Sequence[str], proposers: Sequence[str], *, expansions: int,
               wall_seconds: float, recheck: bool, seed: int, tactics_per_expansion: int,
               progress: bool) -> list[Row]:
    from lean_env.repl_cmd import minilean_argv
    from treesearch import SearchBudget, search
    from treesearch.backends.warm import WarmRepls

    argv = minilean_argv(library_size=0)
    rows: list[Row] = []
    async with WarmRepls(keep=1) as warm:
        for proposer in proposers:
            for selector in selectors:
                for item in items:
                    result = await search(
                        item.source, backend="native",
                        backend_settings={"pool_size": 1, "argv": argv, "warm_repls": warm},
                        proposer=policy_spec("proposer", proposer), selector=policy_spec("selector", selector),
                        budget=SearchBudget(expansions=expansions, wall_seconds=wall_seconds),
                        max_in_flight=1, seed=seed, tactics_per_expansion=tactics_per_expansion,
                        recheck=recheck, handle_sigint=False,
                    )
                    proved = result.verified if recheck else result.proved
                    rows.append(Row(selector, proposer, item, proved, result.expansions, result.stopped_by,
                                    result.wall))
                    if progress:
                        print(f"{proposer:>14} {selector:>10} {item.name:<40} {'proved' if proved else '-':>6} "
                              f"{result.expansions:>5} {result.stopped_by}", file=sys.stderr, flush=True)
    return rows


def compare_selectors(items: Sequence[Item], selectors: Sequence[str], *, proposers: Sequence[str] = ("propositional",),
                      expansions: int = 400, wall_seconds: float = 120.0, recheck: bool = False, seed: int = 0,
                      tactics_per_expansion: int = 8, progress: bool = False) -> list[Row]:
    """Search every item with every (proposer, selector) pair at the same budget; one :class:`Row` each."""
    import anyio

    return anyio.run(lambda: _run(items, selectors, proposers, expansions=expansions, wall_seconds=wall_seconds,
                                  recheck=recheck, seed=seed, tactics_per_expansion=tactics_per_expansion,
                                  progress=progress))


def summarise(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Per (group, proposer, selector): theorems, proved, median / total expansions over the proved ones."""
    keys = list(dict.fromkeys((r.item.group, r.proposer, r.selector) for r in rows))
    out = []
    for group, proposer, selector in keys:
        sel = [r for r in rows if (r.item.group, r.proposer, r.selector) == (group, proposer, selector)]
        proved = [r.expansions for r in sel if r.proved]
        out.append({"group": group, "proposer": proposer, "selector": selector, "theorems": len(sel),
                    "proved": len(proved), "median_expansions": _median(proved),
                    "expansions_all": sum(r.expansions for r in sel), "wall": round(sum(r.wall for r in sel), 1)})
    return out


def format_table(rows: Sequence[Row]) -> str:
    """A Markdown table of :func:`summarise`."""
    lines = ["| set | proposer | selector | proved | median expansions to proof | expansions spent | wall s |",
             "|---|---|---|---|---|---|---|"]
    for s in summarise(rows):
        med = "-" if s["median_expansions"] is None else f"{s['median_expansions']:g}"
        lines.append(f"| {s['group']} | {s['proposer']} | {s['selector']} | {s['proved']} / {s['theorems']} | "
                     f"{med} | {s['expansions_all']} | {s['wall']} |")
    return "\n".join(lines)


def _items(args: argparse.Namespace) -> list[Item]:
    items: list[Item] = []
    if args.tautologies:
        from policies.tautologies import generate_tautologies

        for t in generate_tautologies(args.tautologies, seed=args.seed, min_atoms=args.min_atoms,
                                      max_atoms=args.max_atoms):
            group = f"tautologies (seed {args.seed}, {args.min_atoms}-{args.max_atoms} atoms)"
            items.append(Item(t.name, t.statement, group))
    for spec in args.suite or ():
        from experiments.suites import load_suite

        for t in load_suite([spec]):
            if t.imports:
                continue  # the library-free repl has no Mathlib
            group = spec if args.group_by == "spec" else t.file.stem
            items.append(Item(t.name, t.source, group))
    return items


def _specs(text: str) -> list[str]:
    """Specs separated by ';' (or by ',' when no spec has brackets)."""
    sep = ";" if "[" in text or ";" in text else ","
    return [s.strip() for s in text.split(sep) if s.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m policies compare-selectors``: print the Markdown table (and ``--json`` rows)."""
    parser = argparse.ArgumentParser(prog="python -m policies compare-selectors",
                                     description="Search the same theorems with several selectors at equal budgets.")
    parser.add_argument("--tautologies", type=int, default=0, help="generated tautologies to include (default 0)")
    parser.add_argument("--seed", type=int, default=11, help="tautology generator seed (default 11)")
    parser.add_argument("--min-atoms", type=int, default=1)
    parser.add_argument("--max-atoms", type=int, default=8)
    parser.add_argument("--suite", action="append", help="suite path spec, e.g. 'bundled:*.lean' (repeatable)")
    parser.add_argument("--group-by", choices=("file", "spec"), default="spec",
                        help="report suite theorems per file or per --suite spec (default spec)")
    parser.add_argument("--selectors", default="best-first,uct,puct",
                        help="';'-separated selector specs, name or name[key=value,...] (default best-first;uct;puct)")
    parser.add_argument("--proposers", default="propositional", help="';'-separated proposer specs")
    parser.add_argument("--expansions", type=int, default=400, help="expansion budget per search (default 400)")
    parser.add_argument("--wall", type=float, default=120.0, help="wall seconds per search (default 120)")
    parser.add_argument("-k", "--tactics-per-expansion", type=int, default=8)
    parser.add_argument("--search-seed", type=int, default=0)
    parser.add_argument("--recheck", action="store_true", help="re-check every proof in a fresh repl")
    parser.add_argument("--json", help="also write one JSON row per search to this file")
    parser.add_argument("--progress", action="store_true", help="one line per search on stderr")
    args = parser.parse_args(argv)
    items = _items(args)
    if not items:
        parser.error("nothing to search: give --tautologies N and/or --suite SPEC")
    t0 = time.monotonic()
    rows = compare_selectors(items, _specs(args.selectors), proposers=_specs(args.proposers),
                             expansions=args.expansions, wall_seconds=args.wall, recheck=args.recheck,
                             seed=args.search_seed, tactics_per_expansion=args.tactics_per_expansion,
                             progress=args.progress)
    print(format_table(rows))
    print(f"\n{len(items)} theorems, budget {args.expansions} expansions, K={args.tactics_per_expansion}, "
          f"{time.monotonic() - t0:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            for r in rows:
                fh.write(json.dumps({"selector": r.selector, "proposer": r.proposer, "name": r.item.name,
                                     "group": r.item.group, "proved": r.proved, "expansions": r.expansions,
                                     "stopped_by": r.stopped_by, "wall": round(r.wall, 3)}) + "\n")
    return 0
