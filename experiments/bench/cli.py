"""`cryo bench` verbs: `seed`, `search`, `variants`, `profile`, `images`, `llm`; `run_all` for `cryo bench` alone.

Every verb writes `PART.json` and `PART.md` into the output directory (default `bench-results/`), then
rebuilds `report.md` and `bench.json` there from every part present.  `--quick` shrinks everything (tiny
library, N up to 2, 2 theorems) so the whole pipeline runs end to end in well under a minute.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from experiments.bench.common import BenchError, machine_facts, prepare_output, write_json, write_text
from lean_env.repl_cmd import MINILEAN_LIBRARY_STORAGES

__all__ = ["register_bench", "add_run_all_arguments", "run_all", "main", "QUICK", "FULL"]

# Settings of each part: the full run, and --quick.
FULL = {
    "seed": {"library_size": None, "repeat": 3, "cold_wait": 10.0, "storages": list(MINILEAN_LIBRARY_STORAGES)},
    "snapshot": {"sizes": [30, 100, 450, 1000], "fanouts": [1, 2, 4, 8, 16], "fanout_size": 450, "cold_wait": 5.0,
                 "repeat": 3},
    "search": {"library_size": None, "max_expansions": 24, "time_limit": 90.0,
               "storages": list(MINILEAN_LIBRARY_STORAGES)},
    "profile": {"library_size": None},
    "images": {"size_mb": 450, "repeat": 3},
    "variants": {"library_size": None, "max_expansions": 24, "time_limit": 90.0},
    "llm": {"in_flight": [1, 4, 16], "expansions": 48, "repeat": 3, "n": 4, "batch_size": 16, "batch_wait": 0.005},
}
QUICK = {
    "seed": {"library_size": 100, "repeat": 1, "cold_wait": 0.5, "storages": list(MINILEAN_LIBRARY_STORAGES)},
    "snapshot": {"sizes": [20], "fanouts": [1, 2], "fanout_size": 20, "cold_wait": 0.5, "repeat": 1},
    "search": {"library_size": 100, "max_expansions": 4, "time_limit": 30.0, "storages": ["mmap"]},
    "profile": {"library_size": 100},
    "images": {"size_mb": 20, "repeat": 1},
    "variants": {"library_size": 100, "max_expansions": 4, "time_limit": 30.0},
    "llm": {"in_flight": [1, 4], "expansions": 4, "repeat": 1, "n": 2, "batch_size": 4, "batch_wait": 0.005},
}


def _failures() -> tuple[type[BaseException], ...]:
    from criu_backend import CriuError
    from experiments.config import ConfigError
    from experiments.runner import RunError
    from lean_env.errors import ReplError
    from treesearch.errors import TreeSearchError

    return (BenchError, CriuError, ReplError, RunError, ConfigError, TreeSearchError, OSError)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _run_part(name: str, out: Path, quick: bool, measure: Callable[[], dict[str, Any]]) -> int:
    """Measure one part, write PART.json / PART.md, rebuild the report; print the part's table."""
    from experiments.bench.report import build_report

    _log(f"== cryo bench {name}{' (quick)' if quick else ''} -> {out}")
    before = machine_facts()
    try:
        result = measure()
    except _failures() as e:
        print(f"cryo bench {name}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    after = machine_facts()
    write_json(out / f"{name}.json", {"part": name, "quick": quick, "machine_before": before,
                                      "machine_after": after, "result": result})
    md, _js = build_report(out)
    section = md.read_text(encoding="utf-8").split(f"\n## ")
    from experiments.bench.report import PARTS

    text = next((s for s in section if s.startswith(PARTS[name])), "")
    write_text(out / f"{name}.md", "## " + text if text else "")
    print(("## " + text) if text else f"(no {name} section)", flush=True)
    return 0


def _settings(args: argparse.Namespace, part: str) -> dict[str, Any]:
    base = dict((QUICK if getattr(args, "quick", False) else FULL)[part])
    for key in base:
        value = getattr(args, f"{part}_{key}", None)
        if value is not None:
            base[key] = value
    return base


def _seed(args: argparse.Namespace, out: Path) -> int:
    from experiments.bench.seed_table import run_seed_storages

    s = _settings(args, "seed")
    return _run_part("seed", out, bool(getattr(args, "quick", False)),
                     lambda: run_seed_storages(s["storages"], library_size=s["library_size"], repeat=s["repeat"],
                                               cold_wait=s["cold_wait"], log=_log))


def _snapshot(args: argparse.Namespace, out: Path) -> int:
    from experiments.bench.snapshot import run_snapshot

    s = _settings(args, "snapshot")
    return _run_part("snapshot", out, bool(getattr(args, "quick", False)), lambda: run_snapshot(**s))


def _search(args: argparse.Namespace, out: Path) -> int:
    from experiments.bench.throughput import DEFAULT_THEOREMS, QUICK_THEOREMS, run_search_storages, search_backends

    quick = bool(getattr(args, "quick", False))
    s = _settings(args, "search")
    theorems = _split(getattr(args, "theorems", None)) or list(QUICK_THEOREMS if quick else DEFAULT_THEOREMS)
    backends = _split(getattr(args, "backends", None)) or list(search_backends())
    return _run_part("search", out, quick, lambda: run_search_storages(
        out, s["storages"], library_size=s["library_size"], theorems=theorems, backends=backends,
        max_expansions=s["max_expansions"], time_limit=s["time_limit"],
        criu_freeze=getattr(args, "criu_freeze", None) or "lazy",
        criu_keep_warm=getattr(args, "criu_keep_warm", None)))


def _profile(args: argparse.Namespace, out: Path) -> int:
    from experiments.bench.profile import THEOREM, run_profile

    s = _settings(args, "profile")
    return _run_part("profile", out, bool(getattr(args, "quick", False)), lambda: run_profile(
        out, library_size=s["library_size"], theorem=getattr(args, "theorem", None) or THEOREM))


def _images(args: argparse.Namespace, out: Path) -> int:
    from experiments.bench.snapshot import run_mapped

    s = _settings(args, "images")
    return _run_part("images", out, bool(getattr(args, "quick", False)), lambda: run_mapped(**s))


def _variants(args: argparse.Namespace, out: Path) -> int:
    from experiments.bench.throughput import QUICK_THEOREMS
    from experiments.bench.variants import VARIANT_THEOREMS, run_variants

    quick = bool(getattr(args, "quick", False))
    s = _settings(args, "variants")
    theorems = _split(getattr(args, "theorems", None)) or list(QUICK_THEOREMS if quick else VARIANT_THEOREMS)
    return _run_part("variants", out, quick, lambda: run_variants(theorems=theorems, **s))


def _llm(args: argparse.Namespace, out: Path) -> int:
    from experiments.bench.llm import run_llm

    s = _settings(args, "llm")
    return _run_part("llm", out, bool(getattr(args, "quick", False)), lambda: run_llm(**s, log=_log))


def _split(text: str | None) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()] if text else []


def _storages(text: str) -> list[str]:
    found = _split(text)
    bad = [x for x in found if x not in MINILEAN_LIBRARY_STORAGES]
    if bad or not found:
        raise argparse.ArgumentTypeError(f"expected comma-separated library storages out of "
                                         f"{', '.join(MINILEAN_LIBRARY_STORAGES)}, got {text!r}")
    return found


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in _split(text)]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from e


RUNNERS = {"seed": _seed, "snapshot": _snapshot, "images": _images, "search": _search, "variants": _variants,
           "profile": _profile, "llm": _llm}


def _output(args: argparse.Namespace) -> Path | None:
    try:
        return prepare_output(getattr(args, "output", None))
    except BenchError as e:
        print(f"cryo bench: {e}", file=sys.stderr)
        return None


def _verb(part: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        out = _output(args)
        return 2 if out is None else RUNNERS[part](args, out)

    return handler


def run_all(args: argparse.Namespace) -> int:
    """`cryo bench`: the seed table, snapshot scaling, image sizes, search throughput, the profile and the model
    proposer's overhead, then the report."""
    out = _output(args)
    if out is None:
        return 2
    skip = set(_split(getattr(args, "skip", None)))
    unknown = skip - set(RUNNERS)
    if unknown:
        print(f"cryo bench: --skip names unknown parts {sorted(unknown)}; parts: {', '.join(RUNNERS)}",
              file=sys.stderr)
        return 2
    status = 0
    for part, runner in RUNNERS.items():
        if part not in skip:
            status = max(status, runner(args, out))
    print(f"report: {out / 'report.md'}\njson:   {out / 'bench.json'}")
    return status


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", "-o", metavar="DIR", help="output directory (default bench-results/)")
    p.add_argument("--quick", action="store_true",
                   help="tiny library, N up to 2, 2 theorems, 4 model expansions: the whole pipeline in about a minute")


def _seed_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--library-size", dest="seed_library_size", type=int,
                   help="MiniLean lemmas built by `import Mathlib` (default 3000: ~450 MB)")
    p.add_argument("--repeat", dest="seed_repeat", type=int, help="samples per figure, median reported (default 3)")
    p.add_argument("--cold-wait", dest="seed_cold_wait", type=float,
                   help="idle seconds before a cold thaw (default 10)")
    p.add_argument("--library-storage", dest="seed_storages", type=_storages, metavar="heap,mmap",
                   help="MiniLean library storages to measure, one table column each (default heap,mmap)")


def _search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--library-size", dest="search_library_size", type=int, help="MiniLean library size (default 3000)")
    p.add_argument("--library-storage", dest="search_storages", type=_storages, metavar="heap,mmap",
                   help="MiniLean library storages, one comparison each (default heap,mmap)")
    p.add_argument("--theorems", metavar="A,B", help="bundled theorem names (default: 8 of the suite)")
    p.add_argument("--backends", metavar="A,B",
                   help="backends (default: every known kind, criu,pickle,pickle-warm,native and any added one)")
    p.add_argument("--max-expansions", dest="search_max_expansions", type=int, help="per theorem (default 24)")
    p.add_argument("--time-limit", dest="search_time_limit", type=float, help="seconds per theorem (default 90)")
    p.add_argument("--criu-freeze", choices=("eager", "lazy"), help="criu backend freeze mode (default lazy)")
    p.add_argument("--criu-keep-warm", dest="criu_keep_warm", type=int,
                   help="criu clones kept running between expansions (default: workers, the pools' size)")


def _profile_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--library-size", dest="profile_library_size", type=int, help="MiniLean library size")
    p.add_argument("--theorem", help="bundled theorem to expand (default comm_and)")


def add_run_all_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `cryo bench` with no sub-verb."""
    _common(p)
    p.add_argument("--skip", metavar="A,B", help=f"parts to leave out ({', '.join(RUNNERS)})")
    p.add_argument("--snapshot-sizes", dest="snapshot_sizes", type=_ints,
                   help="process sizes for snapshot scaling, MB (default 30,100,450,1000)")
    p.add_argument("--snapshot-fanout", dest="snapshot_fanouts", type=_ints,
                   help="fan-out counts (default 1,2,4,8,16)")
    p.add_argument("--snapshot-cold-wait", dest="snapshot_cold_wait", type=float,
                   help="idle seconds before cold snapshot measurements (default 5)")


def register_bench(bench_subparsers: Any) -> None:
    """Add `seed`, `search`, `variants`, `profile`, `images` and `llm` to a `cryo bench` sub-parser group."""
    p = bench_subparsers.add_parser("seed", help="the seed article's table (import, pickle, freeze, thaw, sizes)")
    _common(p)
    _seed_args(p)
    p.set_defaults(func=_verb("seed"))
    p = bench_subparsers.add_parser("search", help="search throughput per backend at equal budgets")
    _common(p)
    _search_args(p)
    p.set_defaults(func=_verb("search"))
    p = bench_subparsers.add_parser("profile", help="pyinstrument profile of one criu expansion")
    _common(p)
    _profile_args(p)
    p.set_defaults(func=_verb("profile"))
    p = bench_subparsers.add_parser("images", help="image size and thaw of anonymous vs file-mapped memory")
    _common(p)
    p.add_argument("--size", dest="images_size_mb", type=int, help="process size in MB (default 450)")
    p.add_argument("--repeat", dest="images_repeat", type=int, help="samples per figure (default 3)")
    p.set_defaults(func=_verb("images"))
    p = bench_subparsers.add_parser("variants", help="criu backend vs a prototype with lazy thaw, same searches")
    _common(p)
    p.add_argument("--library-size", dest="variants_library_size", type=int, help="MiniLean library size")
    p.add_argument("--theorems", metavar="A,B", help="bundled theorem names (default: 4 of the search part's)")
    p.add_argument("--max-expansions", dest="variants_max_expansions", type=int, help="per theorem (default 24)")
    p.add_argument("--time-limit", dest="variants_time_limit", type=float, help="seconds per theorem (default 90)")
    p.set_defaults(func=_verb("variants"))
    p = bench_subparsers.add_parser("llm", help="proposer overhead and model calls/s at 1, 4, 16 expansions in flight "
                                                "against a local llama.cpp server, batching off and on")
    _common(p)
    p.add_argument("--in-flight", dest="llm_in_flight", type=_ints, metavar="1,4,16",
                   help="expansions in flight, one row each (default 1,4,16)")
    p.add_argument("--expansions", dest="llm_expansions", type=int, help="expansions per run (default 48)")
    p.add_argument("--repeat", dest="llm_repeat", type=int, help="runs per figure, median reported (default 3)")
    p.add_argument("--samples", dest="llm_n", type=int, help="samples (and tactics) per expansion (default 4)")
    p.add_argument("--batch-size", dest="llm_batch_size", type=int, help="the window's size when on (default 16)")
    p.add_argument("--batch-wait", dest="llm_batch_wait", type=float,
                   help="seconds a batch stays open when on (default 0.005)")
    p.set_defaults(func=_verb("llm"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.bench", description=__doc__.split("\n\n")[0])
    add_run_all_arguments(parser)
    parser.set_defaults(func=run_all)
    register_bench(parser.add_subparsers(dest="bench_verb", metavar="BENCH"))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("cryo bench: interrupted", file=sys.stderr)
        return 130
