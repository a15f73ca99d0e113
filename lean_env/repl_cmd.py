"""Command lines and environments for the repl processes cryo runs."""

from __future__ import annotations

import os
import sys
from typing import Mapping, Sequence

__all__ = ["minilean_argv", "lake_repl_argv", "repl_environment", "CRIU_SAFE_ENV", "MINILEAN_LIBRARY_STORAGES"]

# The Lean runtime's libuv uses io_uring unless told not to; CRIU cannot checkpoint io_uring instances
# (the seed article: "launch repl with UV_USE_IO_URING=0").
CRIU_SAFE_ENV = {"UV_USE_IO_URING": "0"}

# Where MiniLean's `import Mathlib` keeps its premise index (lean_env.minilean.library): anonymous memory, or a
# cache file mapped read-only.
MINILEAN_LIBRARY_STORAGES = ("heap", "mmap")


def minilean_argv(
    library_size: int | None = None,
    imports: Sequence[str] = (),
    *,
    python: str | None = None,
    library_storage: str | None = None,
) -> list[str]:
    """``[python, "-m", "lean_env.minilean", ...]``: the embedded prover.

    ``library_size`` becomes ``--library-size N``; ``imports`` (module names a header may import) become
    ``--modules A,B``; ``library_storage`` (``heap`` or ``mmap``, see :mod:`lean_env.minilean.library`) becomes
    ``--library-storage S``.
    """
    argv = [python or sys.executable, "-m", "lean_env.minilean"]
    if library_size is not None:
        if library_size < 0:
            raise ValueError(f"library_size must be >= 0, got {library_size}")
        argv += ["--library-size", str(library_size)]
    if library_storage is not None:
        if library_storage not in MINILEAN_LIBRARY_STORAGES:
            raise ValueError(f"library_storage must be one of {', '.join(MINILEAN_LIBRARY_STORAGES)}, "
                             f"got {library_storage!r}")
        argv += ["--library-storage", library_storage]
    if imports:
        argv += ["--modules", ",".join(imports)]
    return argv


def lake_repl_argv(*, lake: str = "lake", repl: str | os.PathLike = "repl",
                   project: str | os.PathLike | None = None) -> list[str]:
    """``[lake, "env", repl]``: the real repl with a Lake project's search path.

    Without ``project`` run it with the project directory as cwd; with ``project`` it is
    ``[lake, "-d", project, "env", repl]`` and may run from any directory (e.g. ``transcript check``'s
    temporary copy).  ``repl`` may be a path to a built binary, e.g. ``.lake/build/bin/repl``.
    """
    argv = [lake]
    if project is not None:
        argv += ["-d", os.fspath(project)]
    return argv + ["env", os.fspath(repl)]


def repl_environment(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment to start a repl with: ``base`` (default: ``os.environ``), ``UV_USE_IO_URING=0``, ``extra``."""
    env = dict(os.environ if base is None else base)
    env.update(CRIU_SAFE_ENV)
    env.update(extra)
    return env
