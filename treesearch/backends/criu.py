"""criu: every node is a frozen repl process.

The root is a repl that ran the header imports and stated the theorem with ``sorry``, frozen once
(and pinned: it is never evicted). With ``freeze="lazy"`` and ``keep_warm > 0`` the root is frozen lazily
too: its clone is parked warm at open, frozen only when the warm LRU must end it, and the first image
holding it is pinned; if that clone dies first, the theorem is stated again on the header (a repl is
deterministic, so the root gets the same proof state id). How an expansion of a node with K tactics uses clones is the
``clones`` setting:

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

Images live in one ``criu_backend.ImageStore`` per backend; its byte budget evicts least-recently-used
unpinned images, and a node whose image was evicted is rebuilt by replay from the nearest ancestor
that still has one. An image shared by several children is removed when the last of them is
released. ``close()`` kills every clone and removes every image.

Header images: with ``header_images=HeaderImages(...)`` (one per run, outliving the backends), a theorem with
imports is not opened in a fresh repl: the header (``import ...``) is run once per (repl argv, cwd, imports)
in a spawned repl and frozen into a pinned image of that ``HeaderImages``; each theorem thaws a clone of it,
states itself there with ``{"cmd": source, "env": E}`` and that clone is frozen as the theorem's root.
"""

from __future__ import annotations

import itertools
import os
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from criu_backend.install import CriuInstallError, find_criu

from treesearch.backends import _repl
from treesearch.backends.base import Backend, Kind, Outcome, Timings
from treesearch.backends.registry import BackendKind, Check, Setting
from treesearch.errors import BackendError, StateLost
from treesearch.theorem import Theorem

EAGER = "eager"
LAZY = "lazy"
PER_EXPANSION = "per-expansion"
PER_TACTIC = "per-tactic"
CANCELLED_STEP_WAIT = 2.0  # seconds a clone whose expansion was cancelled may take to finish its step


@dataclass(frozen=True)
class Header:
    """A frozen repl that ran a header: its image (pinned) and the environment id the header made there."""

    image: Any  # criu_backend.Image
    env: int
    pool: Any = None  # criu_backend.ClonePool of copies thawed ahead of demand (HeaderImages(ahead=N))
    live: list = field(default_factory=list)  # idle clones of the image given back by finished theorems


class HeaderImages:
    """Post-import header images shared by the criu backends of one run, keyed by (repl argv, cwd, imports).

    The first ``get`` of a key spawns a repl, runs only the header and freezes it (timed as ``import`` in the
    caller's timings; ``builds`` counts these); later calls return the same image. Concurrent calls with
    one key build it once. Images are pinned (never evicted) and removed by ``close()``.

    With ``ahead=N`` each header image keeps N copies thawed ahead of demand (a ``criu_backend.ClonePool``):
    a theorem's root clone is taken from there at no restore cost, and a background thread thaws the
    replacement while the theorem is searched. ``ahead_taken`` counts the clones so taken. A backend that
    closes also gives back up to N (at least one) of its idle clones of the header image (:meth:`give_back`): they still
    hold the header's environment, so the next theorem is stated in one of them without any restore, as a
    native repl would (``reused`` counts these)."""

    def __init__(self, *, image_root: str | None = None, ahead: int = 0) -> None:
        if ahead < 0:
            raise BackendError(f"HeaderImages ahead must be >= 0, got {ahead}")
        self.ahead = ahead
        self.ahead_taken = 0
        self.reused = 0
        self.image_root = image_root
        self.store: Any = None
        self.builds = 0
        self._headers: dict[tuple[tuple[str, ...], str, tuple[str, ...]], Header] = {}
        self._locks: dict[tuple[tuple[str, ...], str, tuple[str, ...]], anyio.Lock] = {}
        self._closed = False

    def __enter__(self) -> "HeaderImages":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def images(self) -> list[Any]:
        return [h.image for h in self._headers.values()]

    async def get(self, argv: Sequence[str], imports: Sequence[str], *, timings: Timings,
                  timeout: float) -> Header | Outcome:
        """The header image of ``imports`` under ``argv`` in this cwd, built if needed; an ``ERROR`` outcome if
        the header does not elaborate. Raises ``BackendError`` if the repl cannot be started or frozen."""
        if self._closed:
            raise BackendError("HeaderImages is closed; make a new one for this run")
        key = (tuple(argv), os.getcwd(), tuple(imports))
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            header = self._headers.get(key)
            if header is not None and not header.image.removed:
                return header
            with timings.measure("import"):
                built = await self._build(list(argv), tuple(imports), timeout=timeout)
            if isinstance(built, Header):
                self._headers[key] = built
            return built

    async def _build(self, argv: list[str], imports: tuple[str, ...], *, timeout: float) -> Header | Outcome:
        from criu_backend import CriuError, ImageStore, aio
        from lean_env.protocol import Command, CommandResponse

        if self.store is None:
            self.store = ImageStore(self.image_root)
        header_text = "\n".join(f"import {m}" for m in imports)
        try:
            with anyio.CancelScope(shield=True):  # spawn runs in a thread: never drop its result
                proc = await aio.spawn(argv)
        except CriuError as e:
            raise BackendError(f"criu backend could not spawn {argv} for the header {header_text!r}: {e}") from e
        client = _repl.attach_client(proc, timeout=timeout)
        try:
            try:
                resp = await client.request(Command(cmd=header_text), timeout=timeout)
            except _repl.ReplError as e:
                raise BackendError(f"criu backend could not run the header {header_text!r} in {argv}: {e}") from e
            err = _repl._first_error(resp)
            if err is not None or not isinstance(resp, CommandResponse) or resp.env is None:
                return Outcome(Kind.ERROR, message=f"header {header_text!r} failed: {err}")
            try:
                image = await aio.freeze(proc, self.store, leave_running=bool(self.ahead))
            except CriuError as e:
                raise BackendError(f"criu backend could not freeze the header {header_text!r}: {e}") from e
            image.pin()
            self.builds += 1
            if not self.ahead:
                return Header(image, resp.env)
            from criu_backend import ClonePool

            # The repl that ran the header serves the first theorem; the pool's thread thaws copies meanwhile
            # (a failed refill shows at take_ahead, and that theorem thaws the image on demand).
            live, proc = [proc], None
            return Header(image, resp.env, ClonePool(image, size=self.ahead, prefill=False), live)
        finally:
            await _repl.close_client(client)
            if proc is not None:
                with anyio.CancelScope(shield=True):
                    await aio.aclose(proc)

    async def take_ahead(self, header: Header, timeout: float = 120.0) -> Any:
        """A copy of ``header``'s image thawed ahead of demand (the caller owns it), or ``None`` when the
        header keeps none or its pool failed (then thaw the image on demand). When the copy is still being
        thawed (the previous take started it), this waits for it: it is further along than a new restore."""
        from criu_backend import CriuError

        if self._closed:
            return None
        while header.live:
            proc = header.live.pop()
            if proc.poll() is None:
                self.reused += 1
                return proc
            proc.close()  # it died while idle
        if header.pool is None:
            return None
        try:
            proc = await anyio.to_thread.run_sync(header.pool.take, timeout)
        except (CriuError, TimeoutError):
            return None  # the refill failed (or hung): an on-demand thaw says why, or works
        self.ahead_taken += 1
        return proc

    def give_back(self, header: Header, proc: Any) -> bool:
        """Keep ``proc`` -- an idle, running clone of ``header``'s image whose theorem is finished -- for the
        next theorem with this header; False (the caller ends it) when there is no room or it does not fit.
        Room is ``ahead`` clones per header, and one without copies ahead (``ahead=0``)."""
        # A clone of the header image belongs to the header's store, and the repl that built the image to no
        # store; a clone of another image belongs to its backend's store, which ends it: that one cannot stay.
        if (self._closed or header.image.removed or len(header.live) >= max(self.ahead, 1)
                or getattr(proc, "image", None) not in (header.image, None) or proc.poll() is not None):
            return False
        header.live.append(proc)
        return True

    def _end_live(self, header: Header) -> None:
        while header.live:
            header.live.pop().close()

    def forget(self, header: Header) -> None:
        """Drop and remove ``header`` (e.g. its image is damaged); the next ``get`` of its key rebuilds it."""
        for key, h in list(self._headers.items()):
            if h is header:
                del self._headers[key]
        if header.pool is not None:
            header.pool.close()
        self._end_live(header)
        if not header.image.removed:
            header.image.unpin()
            header.image.remove()

    def close(self) -> None:
        """Remove every header image and the copies thawed ahead of it (idempotent)."""
        self._closed = True
        for header in self._headers.values():
            if header.pool is not None:
                header.pool.close()
            self._end_live(header)
        self._headers.clear()
        if self.store is not None:
            self.store.close()


@dataclass(frozen=True)
class CriuHandle:
    """A state: the image holding it (``None``: not frozen yet, or lost), its proof state id there, and the
    run (``session``) of the clone that made it: a live clone that ran that session still holds the state."""

    image: Any  # criu_backend.Image | None
    proof_state: int
    serial: int
    session: int = 0


class CriuBackend(Backend):
    name = "criu"

    def __init__(self, *, argv: Sequence[str] | None = None, tactic_timeout: float = 20.0,
                 freeze: str = EAGER, clones: str = PER_EXPANSION, keep_warm: int = 0,
                 image_budget: int | str | None = None, image_root: str | None = None,
                 open_timeout: float = 120.0, memory_limit: int | None = None,
                 header_images: HeaderImages | None = None, lazy_thaw: bool = False,
                 lazy_root: bool | None = None) -> None:
        super().__init__(tactic_timeout=tactic_timeout, argv=argv)
        self._lazy_root = lazy_root  # None: lazy when freeze is lazy and clones are kept warm
        self.lazy_thaw = bool(lazy_thaw)  # restore pages on demand through userfaultfd (criu lazy-pages)
        self.memory_limit = memory_limit
        if freeze not in (EAGER, LAZY):
            raise BackendError(f"criu freeze must be {EAGER!r} or {LAZY!r}, got {freeze!r}")
        if clones not in (PER_EXPANSION, PER_TACTIC):
            raise BackendError(f"criu clones must be {PER_EXPANSION!r} or {PER_TACTIC!r}, got {clones!r}")
        if int(keep_warm) < 0:
            raise BackendError(f"criu keep_warm must be >= 0 (clones kept running), got {keep_warm!r}")
        self.freeze_mode = freeze
        self.clones_mode = clones
        self.keep_warm = int(keep_warm)
        self.image_budget = image_budget
        self.image_root = image_root
        self.open_timeout = open_timeout
        if header_images is not None and not isinstance(header_images, HeaderImages):
            raise BackendError(f"criu header_images must be a HeaderImages, got {type(header_images).__name__}")
        self.header_images = header_images
        self.store: Any = None
        self.root_handle: CriuHandle | None = None
        self._clones: set[Any] = set()
        self._serial = itertools.count(1)
        self._session = itertools.count(1)
        self._refs: dict[str, int] = {}  # image path -> handles on it not yet released
        self._released: set[int] = set()  # serials
        self._image_sessions: dict[str, frozenset[int]] = {}  # image path -> sessions whose states it holds
        self._session_images: dict[int, list[Any]] = {}  # session -> images frozen from clones holding it
        self._unfrozen: dict[int, int] = {}  # session -> unreleased open handles made without an image
        self._warm: OrderedDict[Any, set[int]] = OrderedDict()  # idle live clone -> sessions it holds
        self._busy: dict[Any, set[int]] = {}  # clone running an expansion -> sessions it holds
        self._parked = anyio.Event()  # set (and renewed) whenever a busy clone is parked or ended
        self._closed = False
        self._root_image: Any = None
        self._header: Header | None = None  # the run's header image this theorem was opened on

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "freeze": self.freeze_mode, "clones": self.clones_mode,
                "lazy_thaw": self.lazy_thaw, "lazy_root": self.lazy_root,
                "keep_warm": self.keep_warm, "image_budget": self.image_budget, "argv": self.argv()}

    async def apply_budget(self, *, image_bytes: int | None) -> None:
        if image_bytes is not None:
            self.image_budget = int(image_bytes)
            if self.store is not None:
                self.store.budget = int(image_bytes)

    # -------------------------------------------------------------- processes
    async def _end(self, proc: Any) -> None:
        from criu_backend import aio

        self._clones.discard(proc)
        self._warm.pop(proc, None)
        self._done_with(proc)
        await aio.aclose(proc)

    def _done_with(self, proc: Any) -> None:
        if self._busy.pop(proc, None) is not None:
            self._parked.set()
            self._parked = anyio.Event()

    async def _freeze(self, proc: Any, parent: Any, sessions: frozenset[int] = frozenset()) -> Any:
        """Freeze ``proc`` into the store (timed); the image, or ``None`` if it could not be made."""
        from criu_backend import CriuError, aio

        t0 = time.perf_counter()
        try:
            image = await aio.freeze(proc, self.store, leave_running=True, parent=parent)
        except CriuError as e:
            self._fault(f"freeze failed, the state will be rebuilt by replay when needed: {e}")
            return None
        finally:
            self.timings.add("freeze", time.perf_counter() - t0)
        self._image_sessions[str(image.path)] = frozenset(sessions)
        for s in sessions:
            self._session_images.setdefault(s, []).append(image)
        root = self.root_handle
        if root is not None and root.image is None and root.session in sessions and self._root_image is None:
            image.pin()  # the first image of a lazy root: the floor of eviction and replay, as an eager root's
            self._root_image = image
        return image

    def _image_of(self, handle: CriuHandle) -> Any:
        """An image holding ``handle``'s state: its own, else one frozen later from a clone that held it."""
        if handle.image is not None and not handle.image.removed:
            return handle.image
        return self._session_image(handle.session)

    def _session_image(self, session: int) -> Any:
        for image in reversed(self._session_images.get(session, ())):
            if not image.removed:
                return image
        return None

    async def _thaw(self, handle: CriuHandle, n: int) -> list[Any]:
        image = self._image_of(handle)
        if image is None:
            raise StateLost(f"the image of state {handle.serial} was evicted; replay it")
        return await self._thaw_image(image, n, what=f"the image of state {handle.serial}")

    async def _thaw_image(self, image: Any, n: int, *, what: str) -> list[Any]:
        """``n`` clones of ``image`` (timed as ``thaw``), owned by this backend."""
        from criu_backend import CriuError, ImageCorrupt, aio

        image.pin()
        t0 = time.perf_counter()
        try:
            # Shielded: a restore cancelled half-way can leave a half-restored process that nobody owns
            # (criu killed before it wrote the pidfile); a restore takes tens of milliseconds.
            with anyio.CancelScope(shield=True):
                procs = await aio.thaw_many(image, n, lazy=self.lazy_thaw)
        except ImageCorrupt as e:
            raise StateLost(f"{what} is gone or damaged ({e}); replay it") from e
        except CriuError as e:
            raise BackendError(f"could not thaw {n} clones of {image.path}: {e}") from e
        finally:
            image.unpin()
            self.timings.add("thaw", time.perf_counter() - t0, n=n)
        self._clones.update(procs)
        return procs

    def _warm_for(self, handle: CriuHandle) -> Any:
        """An idle live clone holding ``handle``'s state (most recently parked first), or ``None``."""
        for proc in reversed(self._warm):
            if handle.session in self._warm[proc] and proc.poll() is None:
                return proc
        return None

    def _busy_with(self, handle: CriuHandle) -> bool:
        return any(handle.session in s and p.poll() is None for p, s in self._busy.items())

    async def _take(self, handle: CriuHandle) -> tuple[Any, set[int]]:
        """A clone that holds ``handle``'s state, for this caller alone: an idle warm one, else a fresh thaw of
        its image; a state held only by a clone busy with another expansion waits for that clone. Returns
        the clone and the sessions whose states it holds (the clone is marked busy)."""
        while True:
            proc = self._warm_for(handle)
            if proc is not None:
                self.counters["warm_hits"] += 1
                sessions = self._warm.pop(proc)
                break
            image = self._image_of(handle)
            if image is None:
                if self._busy_with(handle):
                    await self._parked.wait()
                    continue
                if self._is_root(handle):
                    proc, sessions = await self._reopen_root()
                    break
            (proc,) = await self._thaw(handle, 1)
            sessions = set(self._image_sessions.get(str(image.path), frozenset({handle.session})))
            break
        self._busy[proc] = sessions
        return proc, sessions

    async def _park(self, proc: Any, sessions: set[int]) -> None:
        """Keep ``proc`` running for later expansions (up to ``keep_warm``), else end it."""
        if self.keep_warm <= 0 or self._closed or proc.poll() is not None:
            await self._end(proc)
            return
        self._warm[proc] = sessions
        self._done_with(proc)
        while len(self._warm) > self.keep_warm:
            oldest = next(iter(self._warm))
            held = self._warm.pop(oldest)
            if any(self._unfrozen.get(s, 0) > 0 and self._session_image(s) is None
                   for s in held):  # states that live only in this clone: keep them in an image
                self._busy[oldest] = held
                await self._freeze(oldest, None, frozenset(held))
            await self._end(oldest)

    def _new_handle(self, image: Any, proof_state: int, session: int, *, kind: Kind = Kind.OPEN) -> CriuHandle:
        if image is not None:
            key = str(image.path)
            self._refs[key] = self._refs.get(key, 0) + 1
        elif kind is Kind.OPEN and session:
            self._unfrozen[session] = self._unfrozen.get(session, 0) + 1
        return CriuHandle(image, proof_state, next(self._serial), session)

    # -------------------------------------------------------------- Backend
    @property
    def lazy_root(self) -> bool:
        """With lazy freeze and warm clones, one clone per expansion (or ``lazy_root=True`` with those clones)
        the root is not frozen when opened: its clone is parked warm, and frozen only when it must end (the LRU
        of ``keep_warm``); the first image holding it is pinned."""
        if self.keep_warm <= 0 or self.clones_mode != PER_EXPANSION:  # per-tactic clones thaw from images
            return False
        return self.freeze_mode == LAZY if self._lazy_root is None else bool(self._lazy_root)

    async def _root_clone(self, theorem: Theorem) -> tuple[Any, _repl.Opened | Outcome]:
        """A clone in which ``theorem`` is stated: on a copy of the run's header image (taken ahead of demand
        if one is ready, else thawed), or in a freshly spawned repl. Returns the clone (owned by this backend)
        and the opening, or ``(None, outcome)`` when the header does not elaborate."""
        from criu_backend import CriuError, aio

        header: Header | None = None
        proc = None
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
                self.timings.add("thaw", time.perf_counter() - t0)  # the restore itself happened ahead of demand
                self._clones.add(proc)
        if header is not None and proc is None:
            try:
                (proc,) = await self._thaw_image(header.image, 1, what=f"the header image of {theorem.name}")
            except StateLost as e:  # a damaged header image: the next open rebuilds it
                self.header_images.forget(header)
                raise BackendError(f"criu backend could not open {theorem.name}: {e}") from e
        elif header is None:
            try:
                with anyio.CancelScope(shield=True):  # spawn runs in a thread: never drop its result
                    proc = await aio.spawn(self.argv())
            except CriuError as e:
                raise BackendError(f"criu backend could not spawn {self.argv()}: {e}") from e
            self._clones.add(proc)
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
        from criu_backend import ImageStore

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
            if self.lazy_root:
                self.root_handle = CriuHandle(None, opened.proof_state, 0, session)
                self._unfrozen[session] = 1  # lives only in its clone until that clone must end
            else:
                image = await self._freeze(proc, None, frozenset({session}))
                if image is None:
                    raise BackendError(f"criu backend could not freeze the root of {theorem.name}: "
                                       f"{self.faults[-1]}")
                image.pin()
                self.root_handle = CriuHandle(image, opened.proof_state, 0, session)
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
        return self.root_handle is not None and handle.serial == 0

    def _current(self, handle: Any) -> Any:
        """The root's current handle for any handle on the root (it changes when a lost lazy root is
        re-opened); other handles as they are."""
        return self.root_handle if isinstance(handle, CriuHandle) and self._is_root(handle) else handle

    async def _reopen_root(self) -> tuple[Any, set[int]]:
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
        self.root_handle = CriuHandle(None, opened.proof_state, 0, session)
        self._unfrozen[session] = 1
        self.counters["root_rebuilds"] += 1  # a lazy root re-opened after its only clone died
        return proc, {session}

    async def has_state(self, handle: Any) -> bool:
        return self._holds(handle)

    def _holds(self, handle: Any) -> bool:
        if not isinstance(handle, CriuHandle):
            return False
        handle = self._current(handle)
        if self._image_of(handle) is not None or self._is_root(handle):  # a lost lazy root is re-opened
            return True
        return self._warm_for(handle) is not None or self._busy_with(handle)

    async def touch(self, handle: Any) -> None:
        image = self._image_of(self._current(handle)) if isinstance(handle, CriuHandle) else None
        if image is not None:
            image.touch()

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
                self._fault(out.message)
            if out.ok and ps is not None:
                image = await self._freeze(proc, handle.image) if freeze and out.kind is Kind.OPEN else None
                out.handle = self._new_handle(image, ps, 0)
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
                for p in procs:
                    if p in self._clones:
                        await self._end(p)
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
                    image = await self._freeze(proc, self._image_of(handle), frozenset(sessions))
                for out, ps in made:  # a proved child is a leaf: it needs no image
                    out.handle = self._new_handle(image if out.kind is Kind.OPEN else None, ps,
                                                  0 if dead else session, kind=out.kind)
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
        if not isinstance(handle, CriuHandle) or self._is_root(handle) or handle.serial in self._released:
            return
        self._released.add(handle.serial)
        if handle.image is None:
            if self._unfrozen.get(handle.session, 0) > 0:
                self._unfrozen[handle.session] -= 1
            return
        key = str(handle.image.path)
        left = self._refs.get(key, 1) - 1
        if left > 0:
            self._refs[key] = left
            return
        self._refs.pop(key, None)
        image = handle.image
        # Other states may live in this image too (those of its clone's earlier sessions); while a thaw holds
        # it (pinned) or an image-less state needs it, the store's LRU budget evicts it later instead.
        if image.removed or image.pins or any(self._unfrozen.get(s, 0) > 0 for s in self._image_sessions.get(key, ())):
            return
        self._image_sessions.pop(key, None)
        image.remove()

    def _image_bytes(self) -> int:
        return self.store.total_bytes if self.store is not None and not self.store.closed else 0

    def _pids(self) -> list[int]:
        return [p.pid for p in list(self._clones) if p.poll() is None]

    def handle_to_json(self, handle: Any) -> Any:
        if not isinstance(handle, CriuHandle):
            return None
        handle = self._current(handle)
        image = self._image_of(handle)
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
                for p in reversed(list(self._warm)):
                    if self.header_images.give_back(header, p):
                        self._warm.pop(p, None)
                        self._clones.discard(p)
            for p in list(self._clones):
                await self._end(p)
            if self.store is not None:
                self.store.close()


class CriuKind(BackendKind):
    """``[backend] kind = "criu"``: CRIU must be usable here; a run shares its post-import header images."""

    def preflight(self, settings: Mapping[str, Any]) -> list[Check]:
        try:
            binary = find_criu(require=True)
        except CriuInstallError as e:
            return [Check(False, "criu", f"{e}; run `make criu` (or `cryo doctor`), or choose another backend")]
        return [Check(True, "criu", str(binary))]

    @asynccontextmanager
    async def run_context(self, settings: Mapping[str, Any]) -> AsyncIterator[HeaderImages]:
        # one copy of each header image thawed ahead of demand: the next theorem's root clone is ready
        images = HeaderImages(image_root=settings.get("image_dir") or None, ahead=1)
        try:
            yield images
        finally:
            images.close()

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
