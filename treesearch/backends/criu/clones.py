"""The warm-clone cache of the criu backend: every clone it owns, which are idle (warm) and which are busy.

A clone is a running repl restored from an image (or spawned). After an expansion it may stay running
(``keep_warm``): it still holds every proof state of the sessions it ran, so a later expansion of any of those
states runs in it with no restore.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

import anyio
from criu_backend import Proc, aio

__all__ = ["WarmClones"]


class WarmClones:
    """The clones one backend owns, and the sessions each holds.

    Invariants:

    * ``owned`` holds every live clone of the backend (``close`` ends them all); ``warm`` (idle) and ``busy``
      (running an expansion) are disjoint subsets of it.
    * A clone is busy from :meth:`claim` until :meth:`park` or :meth:`end`; whenever a busy clone stops being
      busy the ``parked`` event fires, so an expansion waiting for a state that only a busy clone holds
      (:meth:`wait_parked`) looks again.
    * ``warm`` is ordered least recently parked first; after :meth:`park` it holds at most ``keep_warm``
      clones, the overflow being handed back (marked busy) for the backend to freeze if needed and end.
    """

    def __init__(self, *, keep_warm: int) -> None:
        self.keep_warm = keep_warm
        self._owned: set[Proc] = set()
        self._warm: OrderedDict[Proc, set[int]] = OrderedDict()  # idle live clone -> sessions it holds
        self._busy: dict[Proc, set[int]] = {}  # clone running an expansion -> sessions it holds
        self._parked = anyio.Event()  # set (and renewed) whenever a busy clone is parked or ended

    def __contains__(self, proc: object) -> bool:
        return proc in self._owned

    def own(self, *procs: Proc) -> None:
        """``procs`` are this backend's now (ended by :meth:`end` or at close)."""
        self._owned.update(procs)

    def owned(self) -> list[Proc]:
        return list(self._owned)

    def pids(self) -> list[int]:
        """Pids of the live clones."""
        return [p.pid for p in list(self._owned) if p.poll() is None]

    # ------------------------------------------------------------------ lookup
    def warm_for(self, session: int) -> Proc | None:
        """An idle live clone holding ``session`` (most recently parked first), or ``None``."""
        for proc in reversed(self._warm):
            if session in self._warm[proc] and proc.poll() is None:
                return proc
        return None

    def busy_with(self, session: int) -> bool:
        """Whether a live clone busy with another expansion holds ``session``."""
        return any(session in s and p.poll() is None for p, s in self._busy.items())

    def idle_newest_first(self) -> list[Proc]:
        return list(reversed(self._warm))

    @property
    def idle_count(self) -> int:
        """Idle (warm) clones now."""
        return len(self._warm)

    # ------------------------------------------------------------------ state changes
    def take_warm(self, proc: Proc) -> set[int]:
        """Take an idle clone (from :meth:`warm_for`) out of the cache; the sessions it holds."""
        return self._warm.pop(proc)

    def claim(self, proc: Proc, sessions: set[int]) -> None:
        """``proc`` (holding ``sessions``) runs an expansion for one caller now."""
        self._warm.pop(proc, None)
        self._busy[proc] = sessions

    async def wait_parked(self) -> None:
        """Until a busy clone is parked or ended."""
        await self._parked.wait()

    def park(self, proc: Proc, sessions: set[int]) -> list[tuple[Proc, set[int]]]:
        """Keep ``proc`` idle and running; returns the least recently used clones past ``keep_warm`` (taken out
        of the cache and marked busy) for the caller to freeze if they hold image-less states, then end."""
        self._warm[proc] = sessions
        self._done_with(proc)
        overflow: list[tuple[Proc, set[int]]] = []
        while len(self._warm) > self.keep_warm:
            oldest, held = self._warm.popitem(last=False)
            self._busy[oldest] = held
            overflow.append((oldest, held))
        return overflow

    def disown(self, proc: Proc) -> None:
        """Forget ``proc`` without ending it (it was handed to another owner)."""
        self._owned.discard(proc)
        self._warm.pop(proc, None)
        self._done_with(proc)

    async def end(self, proc: Proc) -> None:
        """Forget and close ``proc`` (kill + reap; shielded)."""
        self.disown(proc)
        await aio.aclose(proc)

    async def end_all(self, procs: Iterable[Proc] | None = None) -> None:
        for p in list(self._owned if procs is None else procs):
            await self.end(p)

    def _done_with(self, proc: Proc) -> None:
        if self._busy.pop(proc, None) is not None:
            self._parked.set()
            self._parked = anyio.Event()
