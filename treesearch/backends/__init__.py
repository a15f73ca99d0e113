"""Backends: how proof states are held and tactics run. ``make_backend(name, **settings)``.

===============  ==========================================================================
``criu``         every node a frozen repl image; expansion thaws K clones concurrently
``pickle``       every node a pickled proof state; each expansion starts a fresh repl
``pickle-warm``  pickled proof states loaded into a pool of repls that imported once
``native``       a pool of long-lived repls keeping states by proofState id
===============  ==========================================================================
"""

from __future__ import annotations

from typing import Any

from treesearch.backends.base import TIMING_KEYS, Backend, Kind, Outcome, Timings
from treesearch.errors import BackendError

BACKENDS = ("criu", "pickle", "pickle-warm", "native")

__all__ = ["Backend", "Outcome", "Kind", "Timings", "TIMING_KEYS", "BACKENDS", "make_backend"]


def make_backend(name: str, **settings: Any) -> Backend:
    """A new backend by name. Settings are keyword-only knobs of that backend; common to all:
    ``argv`` (the repl command, default MiniLean) and ``tactic_timeout`` (seconds).

    criu: ``clones="per-expansion"|"per-tactic"`` (one clone runs all K tactics and is frozen once, or one
    clone per tactic), ``keep_warm`` (clones kept running for later expansions, default 0),
    ``freeze="eager"|"lazy"``, ``lazy_thaw`` (restore pages on demand through userfaultfd), ``image_budget``
    (bytes), ``image_root``, ``header_images`` (a
    ``treesearch.backends.criu.HeaderImages`` shared by the backends of a run: theorems with imports are
    stated on a clone of one post-import header image per (argv, cwd, imports) instead of re-importing).
    pickle / pickle-warm: ``pool_size`` (warm only), ``root`` (directory for pickle files).
    native: ``pool_size`` (default: number of cores).
    """
    try:
        if name == "criu":
            from treesearch.backends.criu import CriuBackend

            return CriuBackend(**settings)
        if name in ("pickle", "pickle-warm"):
            from treesearch.backends.pickle import PickleBackend

            return PickleBackend(warm=(name == "pickle-warm"), **settings)
        if name == "native":
            from treesearch.backends.native import NativeBackend

            return NativeBackend(**settings)
    except TypeError as e:
        raise BackendError(f"bad settings for backend {name!r}: {e}") from e
    raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
