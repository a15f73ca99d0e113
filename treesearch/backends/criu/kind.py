"""The registry entry of the criu backend: ``[backend] kind = "criu"``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from criu_backend.install import CriuInstallError, find_criu

from treesearch.backends.criu.backend import EAGER, LAZY, PER_EXPANSION, PER_TACTIC, CriuBackend
from treesearch.backends.criu.headers import HeaderImages
from treesearch.backends.registry import BackendKind, Check, Setting

__all__ = ["CriuKind", "KIND"]


class CriuKind(BackendKind):
    """``[backend] kind = "criu"``: CRIU must be usable here; a run shares its post-import header images."""

    def preflight(self, settings: Mapping[str, Any]) -> list[Check]:
        try:
            binary = find_criu(require=True)
        except CriuInstallError as e:
            return [Check(False, "criu", f"{e}; run `make criu` (or `cryo doctor`), or choose another backend")]
        return [Check(True, "criu", f"criu {binary.version} at {binary.argv[-1]} ({binary.source})")]

    @asynccontextmanager
    async def run_context(self, settings: Mapping[str, Any]) -> AsyncIterator[HeaderImages]:
        # one copy of each header image thawed ahead of demand: the next theorem's root clone is ready
        # (thawed by an anyio task of the HeaderImages; leaving it awaits aclose(): no process, no image left)
        async with HeaderImages(image_root=settings.get("image_dir") or None, ahead=1) as images:
            yield images

    def backend_kwargs(self, settings: Mapping[str, Any], shared: Any) -> dict[str, Any]:
        return {**super().backend_kwargs(settings, shared), "image_budget": settings.get("image_budget"),
                "image_root": settings.get("image_dir") or None}


KIND = CriuKind("criu", (
    "How a tree node keeps its state: a frozen CRIU image (`criu`). Expansion thaws clones of a node's image; "
    "the run's theorems share the post-import header image."), CriuBackend, shared_as="header_images", settings=(
    Setting("freeze", "str", EAGER,
            "criu only: freeze each child as soon as its tactic succeeds (`eager`) or only when it is first "
            "selected for expansion (`lazy`).", choices=(EAGER, LAZY)),
    Setting("clones", "str", PER_EXPANSION,
            "criu only: one clone of the node's image runs all the expansion's tactics and is frozen once, each "
            "child keeping its proof-state id in the shared image (`per-expansion`), or one clone per tactic, "
            "frozen separately (`per-tactic`: slow tactics run in parallel).", choices=(PER_EXPANSION, PER_TACTIC)),
    Setting("keep_warm", "int", 0,
            "criu only: clones kept running after their expansion, so a later expansion of a state they hold "
            "needs no thaw (each costs one repl's memory; a clone about to be ended is frozen first if it holds "
            "states no image has).", minimum=0, maximum=256),
))
