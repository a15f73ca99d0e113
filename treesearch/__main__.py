"""``python -m treesearch``: search one theorem from the command line and print the result as JSON.

    python -m treesearch "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by sorry" \\
        --backend criu --tactics constructor "exact hp" "exact hq" --dot tree.dot
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import anyio

from treesearch.backends import backend_names
from treesearch.budget import SearchBudget
from treesearch.errors import TreeSearchError
from treesearch.search import search
from treesearch.theorem import Theorem


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m treesearch", description=__doc__.splitlines()[0])
    ap.add_argument("theorem", help="Lean text `theorem name binders : statement := by sorry` (leading "
                    "`import` lines allowed), or @FILE to read it from a file")
    ap.add_argument("--backend", choices=backend_names(), default="criu",
                    help="backend kind (the builtins, and any kind a package adds through the entry-point group "
                         "cryo.backends)")
    ap.add_argument("--tactics", nargs="+", metavar="TACTIC",
                    help="try exactly these tactics at every node (the `fixed` proposer)")
    ap.add_argument("--proposer", default="propositional", help="policies proposer name (ignored with --tactics)")
    ap.add_argument("--selector", default="best-first", help="policies selector name, e.g. uct, puct, bfs")
    ap.add_argument("--expansions", type=int, default=200)
    ap.add_argument("--wall", type=float, default=300.0, help="wall-time budget, seconds")
    ap.add_argument("--tactic-timeout", type=float, default=20.0)
    ap.add_argument("--memory", type=int, default=None, help="memory budget of all repl processes, bytes")
    ap.add_argument("--image-bytes", type=int, default=None, help="image byte budget (criu)")
    ap.add_argument("--max-in-flight", type=int, default=None, help="concurrent expansions (default: cores)")
    ap.add_argument("-k", "--tactics-per-expansion", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--freeze", choices=("eager", "lazy"), default=None, help="criu: when children are frozen")
    ap.add_argument("--pool-size", type=int, default=None, help="native / pickle-warm: number of repls")
    ap.add_argument("--save", type=Path, default=None, help="save the search here when it stops")
    ap.add_argument("--resume", type=Path, default=None, help="continue a search saved with --save")
    ap.add_argument("--json", type=Path, default=None, help="write the tree as JSON here")
    ap.add_argument("--dot", type=Path, default=None, help="write the tree as graphviz dot here")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    text = Path(args.theorem[1:]).read_text() if args.theorem.startswith("@") else args.theorem
    try:
        theorem = Theorem.parse(text)
        budget = SearchBudget(expansions=args.expansions, wall_seconds=args.wall, tactic_timeout=args.tactic_timeout,
                              memory_bytes=args.memory, image_bytes=args.image_bytes)
    except TreeSearchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.tactics:
        from policies.proposers import FixedTactics

        proposer = FixedTactics(args.tactics)
    else:
        proposer = args.proposer
    settings = {}
    if args.freeze and args.backend == "criu":
        settings["freeze"] = args.freeze
    if args.pool_size and args.backend in ("native", "pickle-warm"):
        settings["pool_size"] = args.pool_size
    try:
        result = anyio.run(lambda: search(
            theorem, backend=args.backend, backend_settings=settings, proposer=proposer, selector=args.selector,
            budget=budget, max_in_flight=args.max_in_flight, seed=args.seed,
            tactics_per_expansion=args.tactics_per_expansion, save_path=args.save, resume_from=args.resume,
        ))
    except TreeSearchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(result.tree.to_json())
    if args.dot:
        args.dot.write_text(result.tree.to_dot())
    print(json.dumps(result.summary(), ensure_ascii=False, indent=1))
    return 0 if result.verified else 1


if __name__ == "__main__":
    sys.exit(main())
