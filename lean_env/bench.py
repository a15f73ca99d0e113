"""Per-request overhead of the repl clients: ``python -m lean_env.bench`` (or ``cryo bench repl``).

Times N round trips against one peer process three ways -- bare pipes (``os.write`` + blocking ``os.read``,
no parsing), ``ReplClient`` and ``AsyncReplClient`` (typed request, framing, typed reply) -- and prints the
median and 90th percentile per request in microseconds.  The default peer is this module's echo mode
(``--echo``: a process that answers every request with a small command reply at once), so the figures are the
client's cost plus two pipe hops; ``--repl CMD`` measures a real repl instead (``--request JSON`` then sets
what is sent, e.g. a command that its repl answers quickly).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from typing import Sequence

__all__ = ["echo_peer", "run_bench", "register", "main"]

_REPLY = {"messages": [{"severity": "info", "pos": {"line": 1, "column": 0}, "endPos": {"line": 1, "column": 6},
                        "data": "f : Nat"}], "env": 0}


def echo_peer() -> int:
    """Answer every blank-line framed request on stdin with one small command reply (pretty, like the repl)."""
    out = sys.stdout.buffer
    reply = json.dumps(_REPLY, ensure_ascii=False, indent=1).encode() + b"\n\n"
    pending = False
    for line in sys.stdin.buffer:
        if line.strip():
            pending = True
        elif pending:
            out.write(reply)
            out.flush()
            pending = False
    return 0


def _stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e6, ordered[int(0.9 * (len(ordered) - 1))] * 1e6


def run_bench(*, argv: Sequence[str] | None = None, requests: int = 2000,
              request: dict | None = None) -> dict[str, tuple[float, float]]:
    """``{"pipes" | "sync" | "async": (median_us, p90_us)}`` over ``requests`` round trips each."""
    import anyio

    from lean_env.client import AsyncReplClient, ReplClient
    from lean_env.framing import FrameDecoder, encode_request

    argv = list(argv) if argv else [sys.executable, "-m", "lean_env.bench", "--echo"]
    req = request or {"cmd": "#check f", "env": 0}
    data = encode_request(req)
    results: dict[str, tuple[float, float]] = {}

    popen = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             bufsize=0)
    try:
        samples = []
        fin, fout = popen.stdin.fileno(), popen.stdout.fileno()  # type: ignore[union-attr]
        dec = FrameDecoder()
        for _ in range(requests):
            t = time.perf_counter()
            os.write(fin, data)
            while dec.pop() is None:
                dec.feed(os.read(fout, 1 << 16))
            samples.append(time.perf_counter() - t)
        results["pipes"] = _stats(samples)
    finally:
        popen.kill()
        popen.wait()

    with ReplClient.spawn(argv) as client:
        samples = []
        for _ in range(requests):
            t = time.perf_counter()
            client.request(req)
            samples.append(time.perf_counter() - t)
        results["sync"] = _stats(samples)

    async def run_async() -> list[float]:
        async with await AsyncReplClient.spawn(argv) as aclient:
            out = []
            for _ in range(requests):
                t = time.perf_counter()
                await aclient.request(req)
                out.append(time.perf_counter() - t)
            return out

    results["async"] = _stats(anyio.run(run_async))
    return results


def _cmd(args: argparse.Namespace) -> int:
    argv = shlex.split(args.repl) if args.repl else None
    request = json.loads(args.request) if args.request else None
    results = run_bench(argv=argv, requests=args.requests, request=request)
    print(f"{args.requests} round trips each; per request (microseconds):")
    for name, (median, p90) in results.items():
        print(f"  {name:6s} median {median:8.1f}   p90 {p90:8.1f}")
    base = results["pipes"][0]
    print(f"client overhead over bare pipes (median): sync {results['sync'][0] - base:+.1f} us, "
          f"async {results['async'][0] - base:+.1f} us")
    return 0


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--requests", type=int, default=2000, help="round trips per client (default 2000)")
    p.add_argument("--repl", metavar="CMD", help="peer command line (default: an echo peer)")
    p.add_argument("--request", metavar="JSON", help='request to send (default {"cmd": "#check f", "env": 0})')
    p.set_defaults(func=_cmd)


def register(bench_subparsers: argparse._SubParsersAction) -> None:
    """Add ``repl`` to a ``cryo bench`` sub-parser group."""
    _add_arguments(bench_subparsers.add_parser("repl", help="per-request overhead of the repl clients",
                                               description=__doc__.split("\n\n")[1]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lean_env.bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("--echo", action="store_true", help="be the echo peer (reads requests on stdin)")
    _add_arguments(parser)
    args = parser.parse_args(argv)
    if args.echo:
        return echo_peer()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
