"""native: a pool of long-lived repls that keep states by proofState id (as LeanInteract and Kimina do).

Every worker imports the header and states the theorem once, so the root exists in each of them and
its tactics are spread over the pool. With ``warm_repls`` (a run's shared
:class:`~treesearch.backends.warm.WarmRepls`) the workers are leased repls that imported the header for an
earlier theorem, and live ones are given back at ``close()``: the run imports once per worker. Every other
node is pinned to the worker that produced it; a worker runs one request at a time. When a worker dies (crash, timeout, out of memory) it is replaced
by a fresh one that re-opens the theorem; the states it held are lost and get rebuilt by replay.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from treesearch.backends import _repl
from treesearch.backends.base import Backend, Kind, Outcome
from treesearch.backends.warm import HeaderFailed, WarmPoolKind, WarmRepls
from treesearch.errors import BackendError, StateLost
from treesearch.theorem import Theorem

ANY_WORKER = -1
"""Worker index of the root handle: the root lives in every worker."""


@dataclass(frozen=True)
class NativeHandle:
    worker: int
    generation: int
    proof_state: int


class _Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.client: Any = None
        self.generation = 0
        self.root_ps: int | None = None
        self.lock = anyio.Lock()
        self.alive = False
        self.lease: Any = None  # the WarmRepl this worker runs on, when the backend has warm_repls


class NativeBackend(Backend):
    name = "native"

    def __init__(self, *, pool_size: int | None = None, argv: Sequence[str] | None = None,
                 tactic_timeout: float = 20.0, open_timeout: float = 120.0, warm_repls: Any = None) -> None:
        super().__init__(tactic_timeout=tactic_timeout, argv=argv)
        self.pool_size = int(pool_size or os.cpu_count() or 1)
        if self.pool_size < 1:
            raise BackendError(f"native pool_size must be >= 1, got {pool_size}")
        if warm_repls is not None and not isinstance(warm_repls, WarmRepls):
            raise BackendError(f"native warm_repls must be a WarmRepls, got {type(warm_repls).__name__}")
        self.warm_repls = warm_repls
        self.open_timeout = open_timeout
        self.workers = [_Worker(i) for i in range(self.pool_size)]
        self._rr = 0
        self._closed = False

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "pool_size": self.pool_size, "argv": self.argv(),
                "warm_repls": self.warm_repls is not None}

    # -------------------------------------------------------------- workers
    async def _start(self, w: _Worker) -> Outcome:
        if self.warm_repls is None:
            w.client = await _repl.spawn_client(self.argv(), timeout=self.open_timeout)
            opened = await _repl.open_theorem(w.client, self.theorem, timings=self.timings,
                                              timeout=self.open_timeout)
        else:
            try:
                w.lease = await self.warm_repls.take(self.argv(), self.theorem, timings=self.timings)
            except HeaderFailed as e:
                return Outcome(Kind.ERROR, message=str(e))
            w.client = w.lease.client
            opened = await _repl.state_theorem(w.client, self.theorem, w.lease.env, timings=self.timings,
                                               timeout=self.open_timeout)
        if opened.outcome.ok:
            w.root_ps = opened.proof_state
            w.alive = True
        return opened.outcome

    async def _end_worker(self, w: _Worker, *, healthy: bool) -> None:
        """End the worker's repl, or give its lease back (kept warm if ``healthy`` and still running)."""
        if w.lease is not None:
            await self.warm_repls.give_back(w.lease, alive=healthy and _repl.client_alive(w.client))
        elif w.client is not None:
            await _repl.close_client(w.client)
        w.client = w.lease = None
        w.alive = False

    async def _restart(self, w: _Worker) -> None:
        """Replace a dead worker (caller holds ``w.lock``); its old states are lost."""
        w.alive = False
        await self._end_worker(w, healthy=False)
        w.generation += 1
        try:
            out = await self._start(w)
        except _repl.ReplError as e:
            raise BackendError(f"native worker {w.index} could not be restarted: {e}") from e
        if not out.ok:
            raise BackendError(f"native worker {w.index} could not re-open the theorem: {out.message}")

    async def _open(self, theorem: Theorem) -> Outcome:
        results: list[Outcome | None] = [None] * self.pool_size
        failures: list[str] = []

        async def one(w: _Worker) -> None:
            try:
                results[w.index] = await self._start(w)
            except (_repl.ReplError, BackendError) as e:
                failures.append(f"worker {w.index}: {e}")

        async with anyio.create_task_group() as tg:
            for w in self.workers:
                tg.start_soon(one, w)
        if failures:
            await self._stop_workers()
            raise BackendError(f"native backend could not start its repls: {'; '.join(failures)}")
        first = results[0]
        if not first.ok:
            return first
        return Outcome(first.kind, goals=first.goals, handle=NativeHandle(ANY_WORKER, 0, -1))

    async def has_state(self, handle: Any) -> bool:
        if not isinstance(handle, NativeHandle):
            return False
        if handle.worker == ANY_WORKER:
            return True
        w = self.workers[handle.worker]
        return w.alive and w.generation == handle.generation

    # -------------------------------------------------------------- running
    def _pick(self) -> _Worker:
        w = self.workers[self._rr % self.pool_size]
        self._rr += 1
        return w

    async def _on(self, w: _Worker, handle: NativeHandle, tactics: Sequence[str], timeout: float,
                  sequence: bool) -> list[Outcome]:
        async with w.lock:
            if not w.alive:
                await self._restart(w)
            if handle.worker == ANY_WORKER:
                ps = w.root_ps
            elif w.generation != handle.generation:
                raise StateLost(f"node state was in native worker {w.index} generation {handle.generation}, "
                                f"which died; replay it")
            else:
                ps = handle.proof_state
            if sequence:
                out, new_ps = await _repl.run_tactics(w.client, ps, tactics, timings=self.timings, timeout=timeout)
                outs = [(out, new_ps)]
            else:
                outs = []
                for tac in tactics:
                    if not w.alive:
                        if handle.worker != ANY_WORKER:
                            outs.append((Outcome(Kind.LOST, tactic=tac, message=(
                                "not run: the state was lost with its worker earlier in this expansion")), None))
                            continue
                        await self._restart(w)  # the root lives in every worker: go on in a fresh one
                        ps = w.root_ps
                    outs.append(await _repl.run_tactic(w.client, ps, tac, timings=self.timings, timeout=timeout))
                    if outs[-1][0].kind is Kind.FAULT:
                        w.alive = False
                        self._fault(outs[-1][0].message)
            if sequence and outs[0][0].kind is Kind.FAULT:
                w.alive = False
            result = []
            for out, new_ps in outs:
                if out.ok and new_ps is not None:
                    out.handle = NativeHandle(w.index, w.generation, new_ps)
                result.append(out)
            if not w.alive:  # replace it now, so the next request does not pay for it
                await self._restart(w)
            return result

    async def expand(self, handle: Any, tactics: Sequence[str], *, timeout: float | None = None) -> list[Outcome]:
        timeout = timeout or self.tactic_timeout
        if not await self.has_state(handle):
            raise StateLost(f"native handle {handle!r} is gone; replay it")
        if handle.worker != ANY_WORKER:
            return await self._on(self.workers[handle.worker], handle, tactics, timeout, sequence=False)
        # the root lives in every worker: spread its tactics over the pool
        groups: dict[int, list[int]] = {}
        for i in range(len(tactics)):
            groups.setdefault(self._pick().index, []).append(i)
        results: list[Outcome | None] = [None] * len(tactics)

        async def group(wi: int, idx: list[int]) -> None:
            outs = await self._on(self.workers[wi], handle, [tactics[i] for i in idx], timeout, sequence=False)
            for i, o in zip(idx, outs):
                results[i] = o

        async with anyio.create_task_group() as tg:
            for wi, idx in groups.items():
                tg.start_soon(group, wi, idx)
        return list(results)

    async def replay(self, handle: Any, tactics: Sequence[str], *, timeout: float | None = None) -> Outcome:
        timeout = timeout or self.tactic_timeout
        self.counters["evicted_rebuilds"] += 1
        if not await self.has_state(handle):
            raise StateLost(f"native handle {handle!r} is gone; replay from an older ancestor")
        w = self._pick() if handle.worker == ANY_WORKER else self.workers[handle.worker]
        return (await self._on(w, handle, tactics, timeout, sequence=True))[0]

    # -------------------------------------------------------------- lifetime
    def _pids(self) -> list[int]:
        return [p for w in self.workers if w.client is not None and w.alive
                for p in [_repl.client_pid(w.client)] if p is not None]

    async def _stop_workers(self) -> None:
        """End every worker's repl (shielded: this runs on error and cancellation paths too)."""
        with anyio.CancelScope(shield=True):
            for w in self.workers:
                await self._end_worker(w, healthy=True)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._stop_workers()


KIND = WarmPoolKind("native", (
    "How a tree node keeps its state: the repl's own proof states inside a pool of `workers` live processes "
    "(`native`), as LeanInteract and Kimina keep them."), NativeBackend, shared_as="warm_repls")
