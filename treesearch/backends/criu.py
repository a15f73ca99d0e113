"""criu: every node is a frozen repl process.

The root is a repl that ran the header imports and stated the theorem with ``sorry``, frozen once
(and pinned: it is never evicted). Expanding a node thaws K clones of its image concurrently, runs
one tactic in each, freezes the clones whose tactic worked (``freeze="eager"``) and ends every clone.
With ``freeze="lazy"`` no child is frozen at expansion: a child's image is made when it is first
selected, by thawing its parent and replaying the tactic (the driver's replay path).

Images live in one ``criu_backend.ImageStore`` per backend; its byte budget evicts least-recently-used
unpinned images, and a node whose image was evicted is rebuilt by replay from the nearest ancestor
that still has one. ``close()`` kills every clone and removes every image.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from treesearch.backends import _repl
from treesearch.backends.base import Backend, Kind, Outcome
from treesearch.errors import BackendError, StateLost
from treesearch.theorem import Theorem

EAGER = "eager"
LAZY = "lazy"


@dataclass(frozen=True)
class CriuHandle:
    """A state: the image holding it (``None``: not frozen yet, or evicted) and its proof state id there."""

    image: Any  # criu_backend.Image | None
    proof_state: int
    serial: int


class CriuBackend(Backend):
    name = "criu"

    def __init__(self, *, argv: Sequence[str] | None = None, tactic_timeout: float = 20.0,
                 freeze: str = EAGER, image_budget: int | str | None = None, image_root: str | None = None,
                 open_timeout: float = 120.0, memory_limit: int | None = None) -> None:
        super().__init__(tactic_timeout=tactic_timeout)
        self.memory_limit = memory_limit
        if freeze not in (EAGER, LAZY):
            raise BackendError(f"criu freeze must be {EAGER!r} or {LAZY!r}, got {freeze!r}")
        self.freeze_mode = freeze
        self.image_budget = image_budget
        self.image_root = image_root
        self.open_timeout = open_timeout
        self._argv = list(argv) if argv else None
        self.store: Any = None
        self.root_handle: CriuHandle | None = None
        self._clones: set[Any] = set()
        self._serial = itertools.count(1)
        self._closed = False
        self.evicted_rebuilds = 0

    def argv(self) -> list[str]:
        if self._argv is None:
            from lean_env.repl_cmd import minilean_argv

            self._argv = minilean_argv()
        return self._argv

    def recheck_argv(self) -> list[str]:
        return self.argv()

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "freeze": self.freeze_mode, "image_budget": self.image_budget,
                "argv": self.argv()}

    def apply_budget(self, *, image_bytes: int | None) -> None:
        if image_bytes is not None:
            self.image_budget = int(image_bytes)
            if self.store is not None:
                self.store.budget = int(image_bytes)

    # -------------------------------------------------------------- processes
    async def _end(self, proc: Any) -> None:
        from criu_backend import aio

        self._clones.discard(proc)
        await aio.aclose(proc)

    async def _freeze(self, proc: Any, parent: Any) -> Any:
        """Freeze ``proc`` into the store (timed); the image, or ``None`` if it could not be made."""
        from criu_backend import CriuError, aio

        t0 = time.perf_counter()
        try:
            return await aio.freeze(proc, self.store, leave_running=True, parent=parent)
        except CriuError as e:
            self.faults.append(f"freeze failed, the state will be rebuilt by replay when needed: {e}")
            return None
        finally:
            self.timings.add("freeze", time.perf_counter() - t0)

    async def _thaw(self, handle: CriuHandle, n: int) -> list[Any]:
        from criu_backend import CriuError, ImageCorrupt, aio

        image = handle.image
        if image is None or image.removed:
            raise StateLost(f"the image of state {handle.serial} was evicted; replay it")
        image.pin()
        t0 = time.perf_counter()
        try:
            # Shielded: a restore cancelled half-way can leave a half-restored process that nobody owns
            # (criu killed before it wrote the pidfile); a restore takes tens of milliseconds.
            with anyio.CancelScope(shield=True):
                procs = await aio.thaw_many(image, n)
        except ImageCorrupt as e:
            raise StateLost(f"the image of state {handle.serial} is gone or damaged ({e}); replay it") from e
        except CriuError as e:
            raise BackendError(f"could not thaw {n} clones of {image.path}: {e}") from e
        finally:
            image.unpin()
            self.timings.add("thaw", time.perf_counter() - t0, n=n)
        self._clones.update(procs)
        return procs

    # -------------------------------------------------------------- Backend
    async def open(self, theorem: Theorem) -> Outcome:
        from criu_backend import CriuError, ImageStore, aio

        self.theorem = theorem
        if self.store is None:
            self.store = ImageStore(self.image_root, budget=self.image_budget)
        try:
            with anyio.CancelScope(shield=True):  # spawn runs in a thread: never drop its result
                proc = await aio.spawn(self.argv())
        except CriuError as e:
            raise BackendError(f"criu backend could not spawn {self.argv()}: {e}") from e
        self._clones.add(proc)
        client = _repl.attach_client(proc, timeout=self.open_timeout)
        try:
            opened = await _repl.open_theorem(client, theorem, timings=self.timings, timeout=self.open_timeout)
            if not opened.outcome.ok:
                return opened.outcome
            image = await self._freeze(proc, None)
            if image is None:
                raise BackendError(f"criu backend could not freeze the root of {theorem.name}: {self.faults[-1]}")
            image.pin()
            self.root_handle = CriuHandle(image, opened.proof_state, 0)
            out = opened.outcome
            out.handle = self.root_handle
            return out
        except _repl.ReplError as e:
            raise BackendError(f"criu backend could not open {theorem.name} in a fresh repl: {e}") from e
        finally:
            await _repl.close_client(client)
            await self._end(proc)

    def has_state(self, handle: Any) -> bool:
        return isinstance(handle, CriuHandle) and handle.image is not None and not handle.image.removed

    def touch(self, handle: Any) -> None:
        if self.has_state(handle):
            handle.image.touch()

    async def _one(self, proc: Any, handle: CriuHandle, tactics: Sequence[str], timeout: float,
                   freeze: bool) -> Outcome:
        """Run ``tactics`` in sequence in a thawed clone; freeze it if asked and it worked; end it."""
        client = _repl.attach_client(proc, timeout=timeout, memory_limit=self.memory_limit)
        try:
            out, ps = await _repl.run_tactics(client, handle.proof_state, tactics, timings=self.timings,
                                              timeout=timeout)
            if len(tactics) == 1:
                out.tactic = tactics[0]
            if out.kind is Kind.FAULT:
                self.faults.append(out.message or "fault")
            if out.ok and ps is not None:
                image = await self._freeze(proc, handle.image) if freeze and out.kind is Kind.OPEN else None
                out.handle = CriuHandle(image, ps, next(self._serial))
            return out
        finally:
            await _repl.close_client(client)
            await self._end(proc)

    async def expand(self, handle: Any, tactics: Sequence[str], *, timeout: float | None = None) -> list[Outcome]:
        timeout = timeout or self.tactic_timeout
        if not tactics:
            return []
        procs = await self._thaw(handle, len(tactics))
        results: list[Outcome | None] = [None] * len(tactics)

        async def run(i: int) -> None:
            results[i] = await self._one(procs[i], handle, [tactics[i]], timeout, self.freeze_mode == EAGER)

        try:
            async with anyio.create_task_group() as tg:
                for i in range(len(tactics)):
                    tg.start_soon(run, i)
        finally:
            with anyio.CancelScope(shield=True):
                for p in procs:
                    if p in self._clones:
                        await self._end(p)
        return list(results)

    async def replay(self, handle: Any, tactics: Sequence[str], *, timeout: float | None = None) -> Outcome:
        timeout = timeout or self.tactic_timeout
        (proc,) = await self._thaw(handle, 1)
        self.evicted_rebuilds += 1
        out = await self._one(proc, handle, tactics, timeout, True)
        if out.ok and out.handle is not None and out.handle.image is None and out.kind is Kind.OPEN:
            raise BackendError(f"replayed {len(tactics)} tactics but could not freeze the result: {self.faults[-1]}")
        return out

    def release(self, handle: Any) -> None:
        if self.has_state(handle) and handle is not self.root_handle:
            handle.image.remove()

    def image_bytes(self) -> int:
        return self.store.total_bytes if self.store is not None and not self.store.closed else 0

    def pids(self) -> list[int]:
        return [p.pid for p in list(self._clones) if p.poll() is None]

    def handle_to_json(self, handle: Any) -> Any:
        if not isinstance(handle, CriuHandle):
            return None
        return {"image": str(handle.image.path) if self.has_state(handle) else None,
                "proof_state": handle.proof_state}

    def handle_from_json(self, value: Any) -> Any:
        """Always ``None``: images live in this backend's store and are removed when a backend closes, so
        the references saved by a stopped run are a record, and a resumed run rebuilds states by replay."""
        return None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            for p in list(self._clones):
                await self._end(p)
            if self.store is not None:
                self.store.close()
