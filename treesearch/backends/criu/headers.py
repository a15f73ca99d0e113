"""Header images: the post-import repl image shared by the criu backends of one run, with copies ahead of demand.

A theorem with imports is not opened in a fresh repl: its header (``import ...``) is run once per (repl argv,
cwd, imports) in a spawned repl and frozen into a pinned image of the run's ``HeaderImages``; each theorem
takes a clone of it (a copy thawed ahead, an idle clone given back by a finished theorem, or a fresh restore)
and states itself there with ``{"cmd": source, "env": E}``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio
import anyio.abc
from criu_backend import CriuError, Image, ImageStore, Proc, aio
from lean_env.protocol import Command, CommandResponse

from treesearch.backends import _repl
from treesearch.backends.base import Kind, Outcome, Timings
from treesearch.errors import BackendError

__all__ = ["Header", "HeaderImages", "TAKE_AHEAD_WAIT"]

TAKE_AHEAD_WAIT = 120.0
"""Seconds ``take_ahead`` waits for a copy still being thawed before the theorem thaws the image itself."""

HeaderKey = tuple[tuple[str, ...], str, tuple[str, ...]]  # (repl argv, cwd, imports)


@dataclass(frozen=True)
class Header:
    """A frozen repl that ran a header: its image (pinned) and the environment id the header made there.

    ``pool``: copies of the image thawed ahead of demand (``HeaderImages(ahead=N)`` used with ``async with``);
    ``live``: idle clones of the image given back by finished theorems (and first the repl that built it)."""

    image: Image
    env: int
    pool: aio.ClonePool | None = None
    live: list[Proc] = field(default_factory=list)


class HeaderImages(aio.TaskGroupOwner):
    """Post-import header images shared by the criu backends of one run, keyed by (repl argv, cwd, imports).

    The first ``get`` of a key spawns a repl, runs only the header and freezes it (timed as ``import`` in the
    caller's timings; ``builds`` counts these); later calls return the same image. Concurrent calls with
    one key build it once. Images are pinned (never evicted) and removed by ``aclose()``.

    With ``ahead=N`` the repl that built a header image keeps running and serves the first theorem, and a
    backend that closes gives back up to N (at least one) of its idle clones of the header image
    (:meth:`give_back`): they still hold the header's environment, so the next theorem is stated in one of them
    without any restore, as a native repl would (``reused`` counts these). Used as ``async with`` (it then owns
    a task group), each header image also keeps N copies thawed ahead of demand (a
    ``criu_backend.aio.ClonePool`` whose refill is an anyio task of that group): a theorem's root clone is taken
    from there at no restore cost (``ahead_taken`` counts these). Leaving the ``async with`` (or
    ``await aclose()``) cancels the refills -- a copy being restored is finished and closed, never orphaned --
    ends every idle clone and removes every image.
    """

    def __init__(self, *, image_root: str | None = None, ahead: int = 0) -> None:
        if ahead < 0:
            raise BackendError(f"HeaderImages ahead must be >= 0, got {ahead}")
        self.ahead = ahead
        self.ahead_taken = 0
        self.reused = 0
        self.image_root = image_root
        self.store: ImageStore | None = None
        self.builds = 0
        self._headers: dict[HeaderKey, Header] = {}
        self._locks: dict[HeaderKey, anyio.Lock] = {}
        self._closed = False
        self._tg: anyio.abc.TaskGroup | None = None  # runs the pools' refills while entered

    async def __aenter__(self) -> "HeaderImages":
        if self._tg is not None or self._closed:
            raise BackendError("HeaderImages can be entered once; make a new one for this run")
        self._tg = await self._open_task_group()
        return self

    @property
    def closed(self) -> bool:
        return self._closed

    def images(self) -> list[Image]:
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
                if self._closed:  # aclose() ran meanwhile: this header would outlive it
                    await self.forget(built)
                    raise BackendError("HeaderImages was closed while a header image was built")
                self._headers[key] = built
            return built

    async def _build(self, argv: list[str], imports: tuple[str, ...], *, timeout: float) -> Header | Outcome:
        if self.store is None:
            self.store = ImageStore(self.image_root)
        header_text = "\n".join(f"import {m}" for m in imports)
        try:
            proc: Proc | None = await aio.spawn(argv)
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
            # The repl that ran the header serves the first theorem; the pool's task thaws copies meanwhile
            # (a failed refill shows at take_ahead, and that theorem thaws the image on demand).
            tg = self._tg
            pool = aio.ClonePool(image, size=self.ahead) if tg is not None and not self._closed else None
            live, proc = [proc], None
            header = Header(image, resp.env, pool, live)
            if pool is not None:
                with anyio.CancelScope(shield=True):  # returns at once; the header (and its live repl) is kept
                    await tg.start(pool.run)
            return header
        finally:
            await _repl.close_client(client)
            if proc is not None:
                await aio.aclose(proc)

    async def take_ahead(self, header: Header, timeout: float = TAKE_AHEAD_WAIT) -> Proc | None:
        """A running clone of ``header``'s image made before this call (the caller owns it): an idle one given
        back, else a copy thawed ahead of demand; ``None`` when there is none or the header's pool failed (then
        thaw the image on demand). When the copy is still being thawed (the previous take started it), this
        awaits it -- it is further along than a new restore -- for up to ``timeout`` seconds. Cancellable: a
        cancelled call takes nothing."""
        if self._closed:
            return None
        while header.live:
            proc = header.live.pop()
            if proc.poll() is None:
                self.reused += 1
                return proc
            await aio.aclose(proc)  # it died while idle
        if header.pool is None or header.pool.closed:
            return None
        with anyio.move_on_after(timeout):
            try:
                proc = await header.pool.take()
            except CriuError:
                return None  # the refill failed: an on-demand thaw says why, or works
            self.ahead_taken += 1
            return proc
        return None  # the refill hung

    def give_back(self, header: Header, proc: Proc) -> bool:
        """Keep ``proc`` -- an idle, running clone of ``header``'s image whose theorem is finished -- for the
        next theorem with this header; False (the caller ends it) when there is no room or it does not fit.
        Room is ``ahead`` clones per header, and one without copies ahead (``ahead=0``)."""
        # A clone of the header image belongs to the header's store, and the repl that built the image to no
        # store; a clone of another image belongs to its backend's store, which ends it: that one cannot stay.
        if (self._closed or header.image.removed or len(header.live) >= max(self.ahead, 1)
                or proc.image not in (header.image, None) or proc.poll() is not None):
            return False
        header.live.append(proc)
        return True

    async def _end(self, header: Header) -> None:
        if header.pool is not None:
            await header.pool.aclose()
        while header.live:
            await aio.aclose(header.live.pop())

    async def forget(self, header: Header) -> None:
        """Drop and remove ``header`` (e.g. its image is damaged); the next ``get`` of its key rebuilds it."""
        with anyio.CancelScope(shield=True):
            for key, h in list(self._headers.items()):
                if h is header:
                    del self._headers[key]
            await self._end(header)
            if not header.image.removed:
                header.image.unpin()
                header.image.remove()

    async def aclose(self) -> None:
        """Stop the copies ahead (a restore under way is finished and closed), end every idle clone and remove
        every header image. Shielded from cancellation; idempotent."""
        self._closed = True
        with anyio.CancelScope(shield=True):
            while self._headers:
                _key, header = self._headers.popitem()
                await self._end(header)
            if self.store is not None:
                self.store.close()
