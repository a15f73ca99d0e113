"""Command lines and environments for the repl processes cryo runs."""

from __future__ import annotations

import os
import sys
from typing import Mapping, Sequence

__all__ = ["minilean_argv", "lake_repl_argv", "repl_environment", "CRIU_SAFE_ENV"]

# The Lean runtime's libuv uses io_uring unless told not to; CRIU cannot checkpoint io_uring instances
# (the seed article: "launch repl with UV_USE_IO_URING=0").
CRIU_SAFE_ENV = {"UV_USE_IO_URING": "0"}


def minilean_argv(
    library_size: int | None = None,
    imports: Sequence[str] = (),
    *,
    python: str | None = None,
) -> list[str]:
    """``[python, "-m", "lean_env.minilean", ...]``: the embedded prover.

    ``library_size`` becomes ``--library-size N``; ``imports`` (module names a header may import) become
    ``--modules A,B``.
    """
    argv = [python or sys.executable, "-m", "lean_env.minilean"]
    if library_size is not None:
        if library_size < 0:
            raise ValueError(f"library_size must be >= 0, got {library_size}")
        argv += ["--library-size", str(library_size)]
    if imports:
        argv += ["--modules", ",".join(imports)]
    return argv


def lake_repl_argv(*, lake: str = "lake", repl: str = "repl") -> list[str]:
    """``["lake", "env", repl]``: the real repl with the Lake project's search path (run it with the project
    directory as cwd).  ``repl`` may be a path to a built binary, e.g. ``.lake/packages/REPL/.lake/build/bin/repl``."""
    return [lake, "env", os.fspath(repl)]


def repl_environment(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment to start a repl with: ``base`` (default: ``os.environ``), ``UV_USE_IO_URING=0``, ``extra``."""
    env = dict(os.environ if base is None else base)
    env.update(CRIU_SAFE_ENV)
    env.update(extra)
    return env
