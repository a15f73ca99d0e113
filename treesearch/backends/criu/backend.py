"""The criu backend: every node is a frozen repl process.

The root is a repl that ran the header imports and stated the theorem with ``sorry``, frozen once
(and pinned: it is never evicted). With ``freeze="lazy"`` and ``keep_warm > 0`` the root is frozen lazily
too: its clone is parked warm at open, frozen only when the warm LRU must end it, and the first image
holding it is pinned; if that clone dies first, the theorem is stated again on the header (a repl is
deterministic, so the root gets the same proof state id). How an expansion of a node with K tactics uses
clones is the ``clones`` setting:

* ``"per-expansion"`` (default): ONE clone of the node's image runs the K tactics one after another
  (a repl keeps every proof state by id, and proof states are immutable, so each tactic starts from
  the node's own proof state id) and is frozen ONCE; every child that worked is a handle on that one
  image with its own proof state id. One restore and at most one dump per expansion. A tactic that
  crashes or hangs the clone fails only itself: a fresh clone is thawed for the tactics left, and the
  children already obtained in the dead clone keep their goals but no image (rebuilt by replay when
  selected).
* ``"per-tactic"``: K clones thawed concurrently, one tactic each (slow tactics run in parallel on
  several cores); each clone whose tactic left goals is frozen into its own image.

``freeze="eager"`` freezes at expansion; ``freeze="lazy"`` freezes nothing at expansion: a child's
image is made when it is first selected, by thawing its parent and replaying the tactic (the driver's
replay path). Children that proved their goal are never frozen (leaves are never expanded).

``keep_warm=N`` keeps up to N clones running after their expansion (least recently used ended first);
a later expansion of any state such a clone holds runs in it without a restore.

The backend composes three parts, each owning its own bookkeeping: ``ImageRefs`` (images.py: which image holds
which state, when an image may be removed, the lazy root's pinned image), ``WarmClones`` (clones.py: the
clones it owns, idle or busy) and, shared by a run, ``HeaderImages`` (headers.py). Images live in one
``criu_backend.ImageStore`` per backend; its byte budget evicts least-recently-used unpinned images, and a node
whose image was evicted is rebuilt by replay from the nearest ancestor that still has one. ``close()`` kills
every clone and removes every image.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

import anyio
from criu_backend import CriuError, Image, ImageCorrupt, ImageStore, Proc, aio

from treesearch.backends import _repl
from treesearch.backends.base import Backend, Kind, Outcome
from treesearch.backends.criu.clones import WarmClones
from treesearch.backends.criu.headers import Header, HeaderImages
from treesearch.backends.criu.images import NO_SESSION, ROOT_SERIAL, CriuHandle, ImageRefs
from treesearch.errors import BackendError, StateLost
from treesearch.theorem import Theorem

__all__ = ["CriuBackend", "EAGER", "LAZY", "PER_EXPANSION", "PER_TACTIC", "CANCELLED_STEP_WAIT"]

EAGER = "eager"
LAZY = "lazy"
PER_EXPANSION = "per-expansion"
PER_TACTIC = "per-tactic"
CANCELLED_STEP_WAIT = 2.0  # seconds a clone whose expansion was cancelled may take to finish its step


class CriuBackend(Backend):
    name = "criu"

    def __init__(self, *, argv: Sequence[str] | None = None, tactic_timeout: float = 20.0,
                 freeze: str = EAGER, clones: str = PER_EXPANSION, keep_warm: int = 0,
                 image_budget: int | str | None = None, image_root: str | None = None,
                 open_timeout: float = 120.0, memory_limit: int | None = None,
                 header_images: HeaderImages | None = None, lazy_thaw: bool = False,
                 lazy_root: bool | None = None) -> None:
        super().__init__(tactic_timeout=tactic_timeout, argv=argv)
        if freeze not in (EAGER, LAZY):
            raise BackendError(f"criu freeze must be {EAGER!r} or {LAZY!r}, got {freeze!r}")
        if clones not in (PER_EXPANSION, PER_TACTIC):
            raise BackendError(f"criu clones must be {PER_EXPANSION!r} or {PER_TACTIC!r}, got {clones!r}")
        if int(keep_warm) < 0:
            raise BackendError(f"criu keep_warm must be >= 0 (clones kept running), got {keep_warm!r}")
        if header_images is not None and not isinstance(header_images, HeaderImages):
            raise BackendError(f"criu header_images must be a HeaderImages, got {type(header_images).__name__}")
        # settings
        self.freeze_mode = freeze
        self.clones_mode = clones
        self.keep_warm = int(keep_warm)
        self.lazy_thaw = bool(lazy_thaw)  # restore pages on demand through userfaultfd (criu lazy-pages)
        self._lazy_root = lazy_root  # None: lazy when freeze is lazy and clones are kept warm
        self.memory_limit = memory_limit
        self.image_budget = image_budget
        self.image_root = image_root
        self.open_timeout = open_timeout
        self.header_images = header_images
        # parts
        self.store: ImageStore | None = None  # made at open
        self._images = ImageRefs()
        self._clones = WarmClones(keep_warm=self.keep_warm)
        self._session = itertools.count(NO_SESSION + 1)
        self.root_handle: CriuHandle | None = None
        self._header: Header | None = None  # the run's header image this theorem was opened on
        self._closed = False

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "freeze": self.freeze_mode, "clones": self.clones_mode,
                "lazy_thaw": self.lazy_thaw, "lazy_root": self.lazy_root,
                "keep_warm": self.keep_warm, "image_budget": self.image_budget, "argv": self.argv()}

    async def apply_budget(self, *, image_bytes: int | None) -> None:
        if image_bytes is not None:
            self.image_budget = int(image_bytes)
            if self.store is not None:
                self.store.budget = int(image_bytes)

    @property
    def lazy_root(self) -> bool:
        """With lazy freeze and warm clones, one clone per expansion (or ``lazy_root=True`` with those clones)
        the root is not frozen when opened: its clone is parked warm, and frozen only when it must end (the LRU
        of ``keep_warm``); the first image holding it is pinned."""
        if self.keep_warm <= 0 or self.clones_mode != PER_EXPANSION:  # per-tactic clones thaw from images
            return False
        return self.freeze_mode == LAZY if self._lazy_root is None else bool(self._lazy_root)

    # -------------------------------------------------------------- clones and images
    async def _end(self, proc: Proc) -> None:
        await self._clones.end(proc)

    async def _freeze(self, proc: Proc, parent: Image | None,
                      sessions: frozenset[int] = frozenset()) -> Image | None:
        """Freeze ``proc`` into the store (timed); the image, or ``None`` if it could not be made."""
        t0 = time.perf_counter()
        try:
            image = await aio.freeze(proc, self.store, leave_running=True, parent=parent)
        except CriuError as e:
            self._fault(f"freeze failed, the state will be rebuilt by replay when needed: {e}")
            return None
        finally:
            self.timings.add("freeze", time.perf_counter() - t0)
        self._images.frozen(image, sessions, root=self.root_handle)
        return image

    async def _thaw(self, handle: CriuHandle, n: int) -> list[Proc]:
        image = self._images.image_of(handle)
        if image is None:
            raise StateLost(f"the image of state {handle.serial} was evicted; replay it")
        return await self._thaw_image(image, n, what=f"the image of state {handle.serial}")

    async def _thaw_image(self, image: Image, n: int, *, what: str) -> list[Proc]:
        """``n`` clones of ``image`` (timed as ``thaw``), owned by this backend."""
        image.pin()
        t0 = time.perf_counter()
        try:
            # Shielded: a restore cancelled half-way can leave a half-restored process that nobody owns
            # (criu killed before it wrote the pidfile); a restore takes tens of milliseconds.
            with anyio.CancelScope(shield=True):
                procs = await aio.thaw_many(image, n, lazy=self.lazy_thaw)
                self._clones.own(*procs)
        except ImageCorrupt as e:
            raise StateLost(f"{what} is gone or damaged ({e}); replay it") from e
        except CriuError as e:
            raise BackendError(f"could not thaw {n} clones of {image.path}: {e}") from e
        finally:
            image.unpin()
            self.timings.add("thaw", time.perf_counter() - t0, n=n)
        return procs

    async def _take(self, handle: CriuHandle) -> tuple[Proc, set[int]]:
        """A clone that holds ``handle``'s state, for this caller alone: an idle warm one, else a fresh thaw of
        its image; a state held only by a clone busy with another expansion waits for that clone. Returns
        the clone and the sessions whose states it holds (the clone is marked busy)."""
        while True:
            proc = self._clones.warm_for(handle.session)
            if proc is not None:
                self.counters["warm_hits"] += 1
                sessions = self._clones.take_warm(proc)
                break
            image = self._images.image_of(handle)
            if image is None:
                if self._clones.busy_with(handle.session):
                    await self._clones.wait_parked()
                    continue
                if self._is_root(handle):
                    proc, sessions = await self._reopen_root()
                    break
            (proc,) = await self._thaw(handle, 1)
            sessions = self._images.sessions_in(image, default=handle.session)
            break
        self._clones.claim(proc, sessions)
        return proc, sessions

    async def _park(self, proc: Proc, sessions: set[int]) -> None:
        """Keep ``proc`` running for later expansions (up to ``keep_warm``), else end it. A clone pushed out of
        the warm LRU while it holds states found in no image is frozen first."""
        if self.keep_warm <= 0 or self._closed or proc.poll() is not None:
            await self._end(proc)
            return
        for oldest, held in self._clones.park(proc, sessions):
            if self._images.only_in_clone(held):  # states that live only in this clone: keep them in an image
                await self._freeze(oldest, None, frozenset(held))
            await self._end(oldest)

    # -------------------------------------------------------------- opening
    async def _root_clone(self, theorem: Theorem) -> tuple[Proc | None, _repl.Opened | Outcome]:
        """A clone in which ``theorem`` is stated: on a copy of the run's header image (taken ahead of demand
        if one is ready, else thawed), or in a freshly spawned repl. Returns the clone (owned by this backend)
        and the opening, or ``(None, outcome)`` when the header does not elaborate."""
        header: Header | None = None
        proc: Proc | None = None
        if self.header_images is not None and theorem.imports:
            got = await self.header_images.get(self.argv(), theorem.imports, timings=self.timings,
                                               timeout=self.open_timeout)
            if isinstance(got, Outcome):
                return None, got
            header = got
            self._header = header
            t0 = time.perf_counter()
            proc = await self.header_images.take_ahead(header)
            if proc is not None:
                self._clones.own(proc)  # no await since take_ahead returned: never dropped
                self.timings.add("thaw", time.perf_counter() - t0)  # the restore itself happened ahead of demand
        if header is not None and proc is None:
            try:
                (proc,) = await self._thaw_image(header.image, 1, what=f"the header image of {theorem.name}")
            except StateLost as e:  # a damaged header image: the next open rebuilds it
                await self.header_images.forget(header)
                raise BackendError(f"criu backend could not open {theorem.name}: {e}") from e
        elif header is None:
            try:
                proc = await aio.spawn(self.argv())
            except CriuError as e:
                raise BackendError(f"criu backend could not spawn {self.argv()}: {e}") from e
            self._clones.own(proc)
        client = _repl.attach_client(proc, timeout=self.open_timeout)
        try:
            if header is None:
                opened = await _repl.open_theorem(client, theorem, timings=self.timings, timeout=self.open_timeout)
            else:
                opened = await _repl.state_theorem(client, theorem, header.env, timings=self.timings,
                                                   timeout=self.open_timeout)
        except _repl.ReplError as e:
            with anyio.CancelScope(shield=True):
                await self._end(proc)
            where = "a clone of its header image" if header is not None else "a fresh repl"
            raise BackendError(f"criu backend could not open {theorem.name} in {where}: {e}") from e
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._end(proc)
            raise
        finally:
            await _repl.close_client(client)
        return proc, opened

    async def _open(self, theorem: Theorem) -> Outcome:
        if self.store is None:
            self.store = ImageStore(self.image_root, budget=self.image_budget)
        proc, opened = await self._root_clone(theorem)
        if proc is None:
            return opened
        session = next(self._session)
        park = False
        try:
            if not opened.outcome.ok:
                return opened.outcome
            if self.lazy_root:  # lives only in its clone until that clone must end
                self.root_handle = self._images.root_handle(None, opened.proof_state, session)
            else:
                image = await self._freeze(proc, None, frozenset({session}))
                if image is None:
                    raise BackendError(f"criu backend could not freeze the root of {theorem.name}: "
                                       f"{self.faults[-1]}")
                image.pin()
                self.root_handle = self._images.root_handle(image, opened.proof_state, session)
            out = opened.outcome
            out.handle = self.root_handle
            park = True
            return out
        finally:
            with anyio.CancelScope(shield=True):
                if park:
                    await self._park(proc, {session})
                else:
                    await self._end(proc)

    def _is_root(self, handle: CriuHandle) -> bool:
        return self.root_handle is not None and handle.serial == ROOT_SERIAL

    def _current(self, handle: Any) -> Any:
        """The root's current handle for any handle on the root (it changes when a lost lazy root is
        re-opened); other handles as they are."""
        return self.root_handle if isinstance(handle, CriuHandle) and self._is_root(handle) else handle

    async def _reopen_root(self) -> tuple[Proc, set[int]]:
        """The root's only clone died before it was frozen (lazy root): state the theorem again on the header.
        The new clone holds the root under a new session and proof state id, which ``root_handle`` now names
        (every handle on the root maps to it)."""
        proc, opened = await self._root_clone(self.theorem)
        if proc is None or not opened.outcome.ok:
            if proc is not None:
                with anyio.CancelScope(shield=True):
                    await self._end(proc)
            why = opened.message if proc is None else opened.outcome.message
            raise BackendError(f"the root of {self.theorem.name} was lost with its clone and could not be "
                               f"rebuilt: {why}")
        session = next(self._session)
        self.root_handle = self._images.root_handle(None, opened.proof_state, session)
        self.counters["root_rebuilds"] += 1  # a lazy root re-opened after its only clone died
        return proc, {session}

    # -------------------------------------------------------------- Backend
    async def has_state(self, handle: Any) -> bool:
        return self._holds(handle)

    def _holds(self, handle: Any) -> bool:
        if not isinstance(handle, CriuHandle):
            return False
        handle = self._current(handle)
        if self._images.image_of(handle) is not None or self._is_root(handle):  # a lost lazy root is re-opened
            return True
        return self._clones.warm_for(handle.session) is not None or self._clones.busy_with(handle.session)

    async def touch(self, handle: Any) -> None:
        image = self._images.image_of(self._current(handle)) if isinstance(handle, CriuHandle) else None
        if image is not None:
            image.touch()

    async def _one(self, proc: Proc, handle: CriuHandle, tactics: Sequence[str], timeout: float,
                   freeze: bool) -> Outcome:
        """Run ``tactics`` in sequence in a thawed clone; freeze it if asked and it worked; end it."""
        client = _repl.attach_client(proc, timeout=timeout, memory_limit=self.memory_limit)
        try:
            out, ps = await _repl.run_tactics(client, handle.proof_state, tactics, timings=self.timings,
                                              timeout=timeout)
            if len(tactics) == 1:
                out.tactic = tactics[0]
            if out.kind is Kind.FAULT:
                self._fault(out.message)
            if out.ok and ps is not None:
                image = await self._freeze(proc, handle.image) if freeze and out.kind is Kind.OPEN else None
                out.handle = self._images.new_handle(image, ps, NO_SESSION)
            return out
        finally:
            await _repl.close_client(client)
            await self._end(proc)

    async def _per_tactic(self, handle: CriuHandle, tactics: Sequence[str], timeout: float) -> list[Outcome]:
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
                await self._clones.end_all(p for p in procs if p in self._clones)
        return list(results)  # type: ignore[arg-type]

    async def _in_one_clone(self, handle: CriuHandle, runs: Sequence[Sequence[str]], timeout: float,
                            freeze: bool) -> list[Outcome]:
        """Each tactic sequence of ``runs`` from ``handle``'s state, one after another, in one clone (a fresh
        one after a clone dies); the clones that made children are frozen once if ``freeze``. One outcome per run."""
        results: list[Outcome] = []
        while len(results) < len(runs):
            proc, sessions = await self._take(handle)
            handle = self._current(handle)  # a lost lazy root re-opened by _take has a new proof state id
            session = next(self._session)
            sessions.add(session)
            client = _repl.attach_client(proc, timeout=timeout, memory_limit=self.memory_limit)
            made: list[tuple[Outcome, int]] = []
            dead = False
            finished = cancelled = False
            try:
                while len(results) < len(runs) and not dead:
                    tactics = runs[len(results)]
                    out, ps = await _repl.run_tactics(client, handle.proof_state, tactics, timings=self.timings,
                                                      timeout=timeout)
                    if len(tactics) == 1:
                        out.tactic = tactics[0]
                    if out.kind is Kind.FAULT:  # the client has killed the clone (or it is unusable)
                        self._fault(out.message)
                        dead = True
                    elif out.ok and ps is not None:
                        made.append((out, ps))
                    results.append(out)
                image = None
                if freeze and not dead and any(o.kind is Kind.OPEN for o, _ps in made):
                    image = await self._freeze(proc, self._images.image_of(handle), frozenset(sessions))
                for out, ps in made:  # a proved child is a leaf: it needs no image
                    out.handle = self._images.new_handle(image if out.kind is Kind.OPEN else None, ps,
                                                         NO_SESSION if dead else session, kind=out.kind)
                finished = True
            except anyio.get_cancelled_exc_class():
                cancelled = True
                raise
            finally:
                with anyio.CancelScope(shield=True):
                    keep = finished and not dead
                    if cancelled and not dead and _repl.client_alive(client):
                        # The search no longer wants this expansion (e.g. another one proved the theorem), but
                        # the clone still holds every earlier state: once the cancelled step's reply is read,
                        # it is as good a warm clone as before.
                        keep = await client.resync(CANCELLED_STEP_WAIT) if client.owed else True
                    await _repl.close_client(client)
                    if keep:
                        await self._park(proc, sessions)
                    else:
                        await self._end(proc)
        return results

    async def expand(self, handle: Any, tactics: Sequence[str], *, timeout: float | None = None) -> list[Outcome]:
        handle = self._current(handle)
        timeout = timeout or self.tactic_timeout
        if not tactics:
            return []
        if self.clones_mode == PER_TACTIC:
            return await self._per_tactic(handle, tactics, timeout)
        return await self._in_one_clone(handle, [[t] for t in tactics], timeout, self.freeze_mode == EAGER)

    async def replay(self, handle: Any, tactics: Sequence[str], *, timeout: float | None = None) -> Outcome:
        handle = self._current(handle)
        timeout = timeout or self.tactic_timeout
        self.counters["evicted_rebuilds"] += 1
        if self.clones_mode == PER_EXPANSION:
            (out,) = await self._in_one_clone(handle, [list(tactics)], timeout, True)
        else:
            (proc,) = await self._thaw(handle, 1)
            out = await self._one(proc, handle, tactics, timeout, True)
        if (out.ok and out.handle is not None and out.handle.image is None and out.kind is Kind.OPEN
                and not self._holds(out.handle)):
            raise BackendError(f"replayed {len(tactics)} tactics but could not freeze the result: {self.faults[-1]}")
        return out

    async def release(self, handle: Any) -> None:
        """Drop ``handle``'s claim on its image; the image is removed when no unreleased handle refers to it."""
        if not isinstance(handle, CriuHandle) or self._is_root(handle):
            return
        self._images.release(handle)

    def _image_bytes(self) -> int:
        return self.store.total_bytes if self.store is not None and not self.store.closed else 0

    def _pids(self) -> list[int]:
        return self._clones.pids()

    def handle_to_json(self, handle: Any) -> Any:
        if not isinstance(handle, CriuHandle):
            return None
        handle = self._current(handle)
        image = self._images.image_of(handle)
        return {"image": str(image.path) if image is not None else None, "proof_state": handle.proof_state}

    def handle_from_json(self, value: Any) -> Any:
        """Always ``None``: images live in this backend's store and are removed when a backend closes, so
        the references saved by a stopped run are a record, and a resumed run rebuilds states by replay."""
        return None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            header = self._header
            if header is not None and self.header_images is not None:
                # idle clones of the header image still hold the header's environment: the next theorem is
                # stated in one of them instead of a restore (they were adopted by the header's store)
                for p in self._clones.idle_newest_first():
                    if self.header_images.give_back(header, p):
                        self._clones.disown(p)
            await self._clones.end_all()
            if self.store is not None:
                self.store.close()
