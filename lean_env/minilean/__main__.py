"""`python -m lean_env.minilean`: the MiniLean repl on stdin/stdout."""

from __future__ import annotations

import argparse
import sys

from lean_env.repl_cmd import MINILEAN_LIBRARY_STORAGES


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lean_env.minilean",
                                 description="MiniLean: an embedded prover speaking the Lean repl protocol.")
    ap.add_argument("--library-size", type=int, default=None,
                    help="lemmas built by `import Mathlib` (default: $CRYO_MINILEAN_LIBRARY_SIZE or 3000)")
    ap.add_argument("--library-storage", choices=MINILEAN_LIBRARY_STORAGES, default=None,
                    help="where the import keeps the premise index: heap (anonymous memory, rebuilt by every "
                         "import) or mmap (a cache file mapped read-only, as Lean maps .olean files; default: "
                         "$CRYO_MINILEAN_LIBRARY_STORAGE or heap)")
    ap.add_argument("--modules", default=None,
                    help="comma-separated extra modules (A or A.B: their root A) that `import` accepts; importing "
                         "them builds the lemma library like Mathlib")
    args = ap.parse_args(argv)
    from .library import HEAVY_MODULES, Loader, library_size_setting, library_storage_setting
    try:
        n = library_size_setting(args.library_size)
        storage = library_storage_setting(args.library_storage)
    except ValueError as e:
        print(f"minilean: {e}", file=sys.stderr)
        return 2
    if n < 0:
        print("minilean: --library-size must be >= 0", file=sys.stderr)
        return 2
    heavy = HEAVY_MODULES + tuple(m.strip().split(".")[0] for m in (args.modules or "").split(",") if m.strip())
    from .server import serve
    sys.setrecursionlimit(10000)
    return serve(Loader(library_size=n, heavy=heavy, storage=storage))


if __name__ == "__main__":
    sys.exit(main())
