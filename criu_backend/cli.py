"""`cryo freeze|thaw|beam|doctor` (and `cryo bench snapshot` via :func:`register_bench`).

``register(subparsers)`` adds the verbs to the `cryo` parser; ``python -m criu_backend.cli ...`` runs them alone.
Each handler returns the exit status; errors from the CriuError family are printed with their fix, exit 1.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from criu_backend.errors import CriuError

__all__ = ["register", "register_bench", "main"]


def _fail(verb: str, e: Exception) -> int:
    print(f"cryo {verb}: {e}", file=sys.stderr)
    return 1


def _print_image(image, verb: str) -> None:
    m = image.meta
    print(f"{verb}: pid {m['pid']} ({' '.join(m['command'])[:100]}) -> {image.path}: "
          f"{image.nbytes / 1e6:.1f} MB in {m['freeze_seconds']:.3f} s (criu {m['criu_version']})", file=sys.stderr)


def _freeze(args: argparse.Namespace, verb: str):
    from criu_backend.core import freeze_pid

    image = freeze_pid(args.pid, args.dir, leave_running=not args.kill)
    _print_image(image, verb)
    return image


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _run_copy(image, args: argparse.Namespace) -> int:
    from criu_backend.shell import stop, thaw_attached

    # Ctrl-C is held back while the copy is being made and handed to `copy`, so it can never land where the
    # copy exists but nobody knows it; it is delivered (and kills the copy) right after.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    copy = None
    try:
        copy = thaw_attached(image, detach=args.detach)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        print(f"thawed {image.path} in {copy.seconds:.3f} s; the copy runs in its own pid namespace under pid "
              f"{copy.init_pid} (kill {copy.init_pid} to stop it)", file=sys.stderr, flush=True)
        if args.detach:
            return 0
        return copy.wait()
    except KeyboardInterrupt:
        if copy is not None:
            stop(copy.holder)
        return 130
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def _cmd_freeze(args: argparse.Namespace) -> int:
    try:
        image = _freeze(args, "froze")
    except CriuError as e:
        return _fail("freeze", e)
    print(f"thaw it with: cryo thaw --dir {image.path}", file=sys.stderr)
    return 0


def _cmd_thaw(args: argparse.Namespace) -> int:
    from criu_backend.store import Image

    try:
        return _run_copy(Image.open(args.dir), args)
    except CriuError as e:
        return _fail("thaw", e)


def _cmd_beam(args: argparse.Namespace) -> int:
    try:
        return _run_copy(_freeze(args, "froze"), args)
    except CriuError as e:
        return _fail("beam", e)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from criu_backend.doctor import broken, format_checks, run_checks

    checks = run_checks()
    print(format_checks(checks))
    return 1 if broken(checks) else 0


def _add_thaw_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detach", action="store_true",
                   help="return once the copy runs (default: wait for it and exit with its code)")


def register(subparsers) -> None:
    """Add `freeze`, `thaw`, `beam`, `doctor` to an argparse subparsers object."""
    p = subparsers.add_parser("freeze", help="checkpoint a running process tree (by pid) into a directory")
    p.add_argument("--pid", type=int, required=True, help="root of the process tree to freeze")
    p.add_argument("--dir", required=True, help="new or empty image directory")
    p.add_argument("--kill", action="store_true", help="kill the process once the image is written")
    p.set_defaults(func=_cmd_freeze)

    p = subparsers.add_parser("thaw", help="restore an image as an independent running copy on this terminal")
    p.add_argument("--dir", required=True, help="image directory written by `cryo freeze`")
    _add_thaw_opts(p)
    p.set_defaults(func=_cmd_thaw)

    p = subparsers.add_parser("beam", help="freeze a process by pid and thaw a copy of it at once")
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--dir", required=True, help="new or empty image directory (kept afterwards)")
    p.add_argument("--kill", action="store_true", help="kill the original once the image is written")
    _add_thaw_opts(p)
    p.set_defaults(func=_cmd_beam)

    p = subparsers.add_parser("doctor", help="check kernel, privileges, criu and image space; print fixes")
    p.set_defaults(func=_cmd_doctor)


def register_bench(bench_subparsers) -> None:
    """Add `snapshot` to the shared `cryo bench` sub-parser group."""
    from criu_backend import bench

    bench.register(bench_subparsers)


def _interruptible() -> None:
    """Make SIGINT and SIGTERM raise KeyboardInterrupt even if this process inherited them ignored (as
    background jobs of a non-interactive shell do), so a copy being thawed or waited for is always killed."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def main(argv: Sequence[str] | None = None) -> int:
    _interruptible()
    parser = argparse.ArgumentParser(prog="python -m criu_backend.cli", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    register(sub)
    bench_parser = sub.add_parser("bench", help="benchmarks")
    register_bench(bench_parser.add_subparsers(dest="bench_verb", metavar="BENCH"))
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
