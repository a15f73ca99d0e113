"""criu_backend -- clone any stdio process with CRIU (knows nothing about Lean).

Sync API: :func:`spawn`, :func:`freeze`, :func:`thaw`, :func:`thaw_many`, :func:`beam`, :class:`ClonePool`; async
twins in :mod:`criu_backend.aio` (with ``aio.ClonePool``).  Images live in an :class:`ImageStore` (tmpfs, budget,
LRU, metadata).
At interpreter exit every live :class:`Proc` is killed and reaped and every open store removed.
"""

from __future__ import annotations

import atexit

from criu_backend.core import beam, freeze, freeze_pid, spawn, thaw, thaw_many
from criu_backend.errors import (
    CriuError,
    CriuPermissionError,
    CriuRefused,
    ImageCorrupt,
    ImageStoreFull,
    TargetGone,
)
from criu_backend.pool import ClonePool
from criu_backend.proc import Proc, close_all, live_procs
from criu_backend.store import Image, ImageStore, open_stores

__all__ = [
    "ClonePool",
    "CriuBinary",
    "CriuError",
    "CriuInstallError",
    "CriuPermissionError",
    "CriuRefused",
    "Image",
    "ImageCorrupt",
    "ImageStore",
    "ImageStoreFull",
    "Proc",
    "TargetGone",
    "beam",
    "close_all",
    "criu_check",
    "ensure_criu",
    "find_criu",
    "freeze",
    "freeze_pid",
    "live_procs",
    "shutdown",
    "spawn",
    "thaw",
    "thaw_many",
]


_INSTALL_NAMES = {"CriuBinary", "CriuInstallError", "criu_check", "ensure_criu", "find_criu"}


def __getattr__(name: str):
    # criu_backend.install is loaded on first use, so `python -m criu_backend.install` does not find it
    # half-imported in sys.modules
    if name in _INSTALL_NAMES:
        from criu_backend import install

        return getattr(install, name)
    raise AttributeError(f"module 'criu_backend' has no attribute {name!r}")


def shutdown() -> None:
    """Kill and reap every live Proc, then remove every open ImageStore's run directory."""
    close_all()
    for store in open_stores():
        store.close()


atexit.register(shutdown)
