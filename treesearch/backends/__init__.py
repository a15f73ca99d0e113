"""Backends: how proof states are held and tactics run, found by name in a registry.

===============  ==========================================================================
``criu``         every node a frozen repl image; expansion thaws K clones concurrently
``pickle``       every node a pickled proof state; each expansion starts a fresh repl
``pickle-warm``  pickled proof states loaded into a pool of repls that imported once
``native``       a pool of long-lived repls keeping states by proofState id
===============  ==========================================================================

Another package adds a kind through the entry-point group ``cryo.backends`` (see ``treesearch.backends.registry``).
"""

from __future__ import annotations

from typing import Any

from treesearch.backends.base import COUNTER_KEYS, TIMING_KEYS, Backend, Kind, Outcome, Timings, Usage
from treesearch.errors import BackendError
from treesearch.backends.registry import (
    BUILTIN_BACKENDS, COMMON_SETTINGS, ENTRY_POINT_GROUP, BackendKind, Check, Setting, backend_kind, backend_kinds,
    backend_names, register_backend,
)

BACKENDS = tuple(BUILTIN_BACKENDS)
"""The builtin kinds' names; ``backend_names()`` adds those registered and from entry points."""

__all__ = ["Backend", "Outcome", "Kind", "Timings", "Usage", "TIMING_KEYS", "COUNTER_KEYS", "BACKENDS",
           "make_backend", "BackendKind", "Setting", "Check", "COMMON_SETTINGS", "ENTRY_POINT_GROUP",
           "register_backend", "backend_kind", "backend_kinds", "backend_names"]


def make_backend(name: str, **kwargs: Any) -> Backend:
    """A new backend of kind ``name`` made with its constructor's keyword arguments. Common to all: ``argv`` (the
    repl command, default MiniLean) and ``tactic_timeout`` (seconds).

    criu: ``clones="per-expansion"|"per-tactic"`` (one clone runs all K tactics and is frozen once, or one
    clone per tactic), ``keep_warm`` (clones kept running for later expansions, default 0),
    ``freeze="eager"|"lazy"``, ``lazy_thaw`` (restore pages on demand through userfaultfd), ``image_budget``
    (bytes), ``image_root``, ``header_images`` (a ``treesearch.backends.criu.HeaderImages`` shared by the
    backends of a run). pickle / pickle-warm: ``pool_size`` (warm only), ``root`` (directory for pickle files),
    ``warm_repls``. native: ``pool_size`` (default: number of cores), ``warm_repls``.

    From a config's ``[backend]`` table, use ``backend_kind(name).make(settings, shared=...)`` instead: it maps
    the config's keys to these arguments.
    """
    kind = backend_kind(name)
    try:
        return kind.factory(**kwargs)
    except TypeError as e:
        raise BackendError(f"bad settings for backend {name!r}: {e}") from e
