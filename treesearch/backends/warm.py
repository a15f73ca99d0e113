"""Warm repls shared by the backends of a run: each ran a theorem header (its imports) once.

``native`` and ``pickle-warm`` keep a pool of live repls per theorem. Without sharing, every theorem pays the
header's import once per pool member; with a ``WarmRepls`` owned by the run (as ``HeaderImages`` is for
``criu``), a backend leases repls that already imported the header and gives the live ones back when its
theorem ends, so a run imports once per pool member, not once per theorem. A lease that died (crash, timeout,
out of memory) is given back dead and ended; the next lease starts a fresh repl.

A given-back repl still holds the states of the theorems it served (the repl never forgets ids); only new
commands on the header's environment are sent to it, so those states are never read again. A repl whose last
request was cancelled (the search ended while it ran a tactic) still owes that reply: ``give_back`` reads and
drops it (within ``resync_timeout``) before keeping the repl, and ends it if it does not come.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio

from treesearch.backends import _repl
from treesearch.backends.base import Timings
from treesearch.backends.registry import BackendKind
from treesearch.errors import BackendError
from treesearch.theorem import Theorem

__all__ = ["WarmRepl", "WarmRepls", "HeaderFailed", "WarmPoolKind"]


class HeaderFailed(BackendError):
    """The theorem's header does not run in a fresh repl (an unknown import, say): the theorem cannot open."""


@dataclass(eq=False)
class WarmRepl:
    """A live repl that ran ``header`` (its environment id ``env``; ``None`` without imports)."""

    client: Any
    env: int | None
    key: tuple[tuple[str, ...], str] = field(repr=False)


class WarmRepls:
    """Idle warm repls by (argv, header); ``keep`` idle ones per key at most (the rest are ended)."""

    def __init__(self, *, keep: int = 8, open_timeout: float = 120.0, resync_timeout: float = 10.0) -> None:
        if keep < 0:
            raise BackendError(f"WarmRepls keep must be >= 0, got {keep}")
        self.keep = keep
        self.open_timeout = open_timeout
        self.resync_timeout = resync_timeout
        self._idle: dict[tuple[tuple[str, ...], str], list[WarmRepl]] = {}
        self._closed = False
        self.started = 0  # repls started (each ran the header once): the imports a run paid
        self.reused = 0   # leases served by a repl given back earlier

    @staticmethod
    def _key(argv: Sequence[str], theorem: Theorem) -> tuple[tuple[str, ...], str]:
        return tuple(argv), theorem.header if theorem.imports else ""

    async def take(self, argv: Sequence[str], theorem: Theorem, *, timings: Timings) -> WarmRepl:
        """A repl that ran ``theorem``'s header: an idle one, else a new one (start + header timed as import).

        Raises ``_repl.ReplError`` when the repl cannot start and ``HeaderFailed`` when the header fails."""
        if self._closed:
            raise BackendError("WarmRepls is closed; make a new one for this run")
        key = self._key(argv, theorem)
        idle = self._idle.get(key)
        while idle:
            w = idle.pop()
            if _repl.client_alive(w.client):
                self.reused += 1
                return w
            await _repl.close_client(w.client)  # it died while idle
        with timings.measure("import", n=0):
            client = await _repl.spawn_client(list(argv), timeout=self.open_timeout)
        try:
            env, err = await _repl.run_header(client, theorem, timings=timings, timeout=self.open_timeout)
        except BaseException:
            await _repl.close_client(client)  # shielded from cancellation
            raise
        if err is not None:
            await _repl.close_client(client)
            raise HeaderFailed(err)
        self.started += 1
        return WarmRepl(client, env, key)

    async def give_back(self, w: WarmRepl, *, alive: bool) -> None:
        """Return a lease: kept idle for the next theorem with the same header if it is alive and there is
        room, else ended."""
        with anyio.CancelScope(shield=True):
            idle = self._idle.setdefault(w.key, [])
            keep = alive and not self._closed and len(idle) < self.keep
            if keep and getattr(w.client, "owed", 0):
                keep = await w.client.resync(self.resync_timeout)
            if keep and _repl.client_alive(w.client):
                idle.append(w)
            else:
                await _repl.close_client(w.client)

    def idle_count(self) -> int:
        return sum(len(v) for v in self._idle.values())

    async def aclose(self) -> None:
        """End every idle repl; leases given back later are ended too."""
        self._closed = True
        with anyio.CancelScope(shield=True):
            for idle in self._idle.values():
                while idle:
                    await _repl.close_client(idle.pop().client)

    async def __aenter__(self) -> "WarmRepls":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class WarmPoolKind(BackendKind):
    """A backend kind with a pool of ``[backend] workers`` repls per theorem whose run shares the repls that ran
    the header (``native``, ``pickle-warm``): the run imports once per pool member, not once per theorem."""

    @asynccontextmanager
    async def run_context(self, settings: Mapping[str, Any]) -> AsyncIterator[WarmRepls]:
        async with WarmRepls(keep=int(settings.get("workers") or 2)) as repls:
            yield repls

    def backend_kwargs(self, settings: Mapping[str, Any], shared: Any) -> dict[str, Any]:
        return {**super().backend_kwargs(settings, shared), "pool_size": settings.get("workers")}
