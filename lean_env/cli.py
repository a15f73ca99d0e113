"""``cryo transcript check|replay``: run recorded repl transcripts against a repl, or replay them.

``register(subparsers)`` adds the verbs to the ``cryo`` CLI (``register_bench`` adds ``cryo bench repl``);
``python -m lean_env.cli ...`` runs them alone.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Sequence

from lean_env.errors import TranscriptError

__all__ = ["register", "register_bench", "main"]


def _check(args: argparse.Namespace) -> int:
    from lean_env.transcripts import check_transcripts

    argv = shlex.split(args.repl) if args.repl else None
    memory_limit = int(args.memory_limit_mb * 2**20) if args.memory_limit_mb else None
    try:
        results = check_transcripts(
            args.transcripts,
            argv=argv,
            timeout=args.timeout,
            memory_limit=memory_limit,
            keep_workdir=args.keep_workdir,
        )
    except TranscriptError as e:
        print(f"cryo transcript check: {e}", file=sys.stderr)
        return 2
    for r in results:
        r.report(sys.stdout, verbose=args.verbose)
    failed = [r for r in results if not r.ok]
    print(f"{len(results) - len(failed)}/{len(results)} transcripts pass")
    return 1 if failed else 0


def _replay(args: argparse.Namespace) -> int:
    from lean_env.transcripts import replay

    try:
        return replay(args.transcript, any_order=args.any_order)
    except TranscriptError as e:
        print(f"cryo transcript replay: {e}", file=sys.stderr)
        return 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``transcript check`` and ``transcript replay`` to a CLI's subparsers (each sets ``func``)."""
    p = subparsers.add_parser("transcript", help="check a repl against recorded transcripts, or replay one")
    verbs = p.add_subparsers(dest="transcript_verb", required=True)

    c = verbs.add_parser(
        "check",
        help="run X.in through a repl and compare each reply with X.expected.out (as JSON values)",
        description="Runs each transcript's requests through a fresh repl, in a temporary copy of the "
        "transcript directory (laid out as test/, the repl runs in its parent), and compares every reply with "
        "the recording as JSON values, key order ignored. Several transcripts share one copy and run in order. "
        "Exit status 0 when all pass, 1 when any fails, 2 on unreadable input.",
    )
    c.add_argument("transcripts", nargs="+", metavar="X.in", help="transcripts (X, X.in or X.expected.out)")
    c.add_argument("--repl", metavar="CMD", help="repl command line (default: the embedded prover, "
                   "python -m lean_env.minilean); e.g. 'lake env repl'. {transcript} in it becomes the path of "
                   "the X.in being checked")
    c.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
    c.add_argument("--memory-limit-mb", type=float, default=None, help="kill the repl above this resident size")
    c.add_argument("--keep-workdir", action="store_true", help="keep the temporary working copy")
    c.add_argument("-v", "--verbose", action="store_true", help="list every request, not only failures")
    c.set_defaults(func=_check)

    r = verbs.add_parser(
        "replay",
        help="answer repl requests on stdin from a recorded transcript (a fake repl for tests)",
        description="Reads requests from stdin as the repl does and writes the recorded reply bytes. Request i "
        "must equal recorded request i (or, with --any-order, any unused recorded request); otherwise it exits "
        "with status 2 and says why on stderr.",
    )
    r.add_argument("transcript", help="X, X.in or X.expected.out")
    r.add_argument("--any-order", action="store_true", help="match requests to recorded ones in any order")
    r.set_defaults(func=_replay)


def register_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    """Add ``repl`` (per-request overhead of the clients) to a ``cryo bench`` sub-parser group."""
    from lean_env import bench

    bench.register(bench_subparsers)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lean_env.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    bench_parser = sub.add_parser("bench", help="benchmarks")
    register_bench(bench_parser.add_subparsers(dest="bench_verb", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
