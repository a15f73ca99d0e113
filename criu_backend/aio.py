"""anyio twins of the sync API: the same steps, with criu's run awaited instead of blocked on.

``thaw_many`` launches all N ``criu restore`` processes at once and awaits their exits together; cancelling
any call kills the criu processes in flight and whatever they had restored, and re-raises. ``freeze`` awaits
criu's exit, and after a failed dump the target's exit, through pidfds (no ``time.sleep``). :class:`ClonePool`
keeps copies of an image thawed ahead of demand in an anyio task (no thread).
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections import deque
from collections.abc import Mapping, Sequence
from types import TracebackType

import anyio
import anyio.abc

from criu_backend import core
from criu_backend.errors import CriuError
from criu_backend.proc import Proc
from criu_backend.store import Image, ImageStore

__all__ = ["spawn", "freeze", "thaw", "thaw_many", "beam", "wait", "aclose", "ClonePool", "TaskGroupOwner"]


async def _wait_exit(popen: subprocess.Popen) -> int:
    """Await the exit of a child started with subprocess.Popen, without a thread (pidfd readiness)."""
    if popen.poll() is not None:
        return popen.returncode
    pidfd = os.pidfd_open(popen.pid)
    try:
        with anyio.move_on_after(core.CRIU_TIMEOUT):  # hang guard: then it is killed, and finish() reports it
            await anyio.wait_readable(pidfd)
    finally:
        os.close(pidfd)
    if popen.poll() is None:
        popen.kill()
    return popen.wait()


async def spawn(
    argv: Sequence[str], *, cwd: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Proc:
    """Async :func:`criu_backend.spawn`.

    The fork and the few-ms hand-over wait run in a worker thread that is never abandoned: a cancellation
    arriving meanwhile takes effect once the process is handed over, and that process is then closed (never
    dropped) before the cancellation is re-raised."""
    proc = await anyio.to_thread.run_sync(functools.partial(core.spawn, argv, cwd=cwd, env=env))
    try:
        await anyio.lowlevel.checkpoint_if_cancelled()
    except BaseException:
        await aclose(proc)
        raise
    return proc


async def freeze(
    proc: Proc,
    store_or_dir: ImageStore | str | os.PathLike[str],
    *,
    leave_running: bool = True,
    parent: Image | None = None,
) -> Image:
    """Async :func:`criu_backend.freeze`: criu's exit is awaited through a pidfd, and after a failed dump the
    target's exit too (up to the second :meth:`core.FreezeJob.survival_wait` allows), never slept on.
    Cancelled while criu runs: criu and its helpers are killed, the directory discarded, the target resumes."""
    for helper in list(proc._helpers):  # a lazily thawed copy: its memory must be complete before the dump
        await _wait_exit(helper.popen)
    gone = proc.closed or proc.poll() is not None
    job = core.FreezeJob(pid=proc.pid, argv=proc.argv, target=store_or_dir, parent=parent, proc=proc,
                         stderr=await _stderr_tail(proc) if gone else None)
    try:
        while not job.lock.try_acquire():  # another dump in the same cwd is running (see criu_backend._dumplock)
            await anyio.sleep(0.002)
        job.start(locked=True)
        rc = await _wait_exit(job.popen)
    except BaseException:
        with anyio.CancelScope(shield=True):
            job.abort()
        raise
    log = job.ended(rc)
    if log is not None:
        alive = await _target_survived(job, log)
        raise job.failure(rc, log, alive=alive, stderr=None if alive else await _stderr_tail(proc))
    image = job.made_image()
    if not leave_running:
        await aclose(proc)
    return image


async def _stderr_tail(proc: Proc) -> bytes:
    """``proc.stderr_tail()`` without blocking the event loop: the drain thread may take a moment to read the
    last bytes of a process that just died. The worker thread is abandoned on cancellation (its result is a
    copy of bytes, nothing to close)."""
    return await anyio.to_thread.run_sync(proc.stderr_tail, abandon_on_cancel=True)


async def _target_survived(job: core.FreezeJob, log: str) -> bool:
    """After a failed dump: whether the target still runs, waiting for its exit (pidfd) as long as
    ``job.survival_wait(log)`` says."""
    proc = job.proc
    wait = job.survival_wait(log)
    if wait > 0 and proc is not None and not proc.closed and job.target_alive():
        with anyio.move_on_after(wait):
            await anyio.wait_readable(proc.pidfd)
    return job.target_alive()

async def thaw_many(image: Image | str | os.PathLike[str], n: int, *, lazy: bool = False) -> list[Proc]:
    """Async :func:`criu_backend.thaw_many`: n restores in flight at once."""
    if n < 1:
        raise ValueError(f"thaw_many: n must be >= 1, got {n}")
    image, criu = core.prepare_thaw(image)
    jobs = [core.RestoreJob(image, criu, lazy=lazy) for _ in range(n)]
    try:
        for job in jobs:
            job.start_daemon()
        while not all(job.daemon_ready() for job in jobs):
            await anyio.sleep(0.001)
        for job in jobs:
            job.start()
        async with anyio.create_task_group() as tg:
            for job in jobs:
                tg.start_soon(_wait_exit, job.popen)
    except BaseException:
        with anyio.CancelScope(shield=True):
            for job in jobs:
                job.abort()
        raise
    procs, first = core.finish_each(jobs)  # criu has exited: nothing here waits
    if first is not None:
        with anyio.CancelScope(shield=True):
            for p in procs:
                await aclose(p)
        err = core.thaw_many_error(first, len(procs), len(jobs))
        if err is first:
            raise first
        raise err from first
    return procs


async def thaw(image: Image | str | os.PathLike[str], *, lazy: bool = False) -> Proc:
    """Async :func:`criu_backend.thaw`."""
    return (await thaw_many(image, 1, lazy=lazy))[0]


async def beam(
    proc: Proc, store_or_dir: ImageStore | str | os.PathLike[str], *, leave_running: bool = True
) -> Proc:
    """Async :func:`criu_backend.beam`."""
    image = await freeze(proc, store_or_dir, leave_running=leave_running)
    return await thaw(image)


async def wait(proc: Proc, timeout: float | None = None) -> int:
    """Await ``proc``'s exit and return its exit code; raises TimeoutError after ``timeout`` seconds."""
    rc = proc.poll()
    if rc is not None:
        return rc
    with anyio.fail_after(timeout):
        await anyio.wait_readable(proc.pidfd)
    return proc.wait()


async def aclose(proc: Proc) -> None:
    """Kill, reap and close ``proc`` (shielded from cancellation); its exit and its helpers' (a lazy-pages
    daemon) are awaited through pidfds, so ``proc.close()`` finds nothing left to wait for."""
    with anyio.CancelScope(shield=True):
        proc.kill()
        if proc.poll() is None and not proc.closed:
            await wait(proc)
        for helper in list(proc._helpers):
            if helper.poll() is None:
                helper.popen.kill()
                await _wait_exit(helper.popen)
        proc.close()


class TaskGroupOwner:
    """An async resource that runs background tasks in a task group it owns while entered (``async with``):
    leaving the block ``aclose()``s the resource, then ends the group (also when ``aclose`` raised). A subclass
    implements ``aclose`` and an ``__aenter__`` that opens the group with ``_open_task_group``."""

    _tg: anyio.abc.TaskGroup | None = None

    async def aclose(self) -> None:
        raise NotImplementedError

    async def _open_task_group(self) -> anyio.abc.TaskGroup:
        tg = anyio.create_task_group()
        await tg.__aenter__()
        return tg

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool | None:
        tg, self._tg = self._tg, None
        try:
            await self.aclose()
        except BaseException as e:
            if tg is not None:
                await tg.__aexit__(type(e), e, e.__traceback__)
            raise
        return await tg.__aexit__(exc_type, exc, tb) if tg is not None else None


class ClonePool(TaskGroupOwner):
    """Keeps ``size`` running copies of ``image`` thawed ahead of demand, in an anyio task (no thread).

    :meth:`take` hands a ready copy over at once (the caller owns it) and wakes the refill task, which thaws a
    replacement; when none is ready, ``take`` awaits the copy being thawed (cancellable: a cancelled ``take``
    takes nothing). The image is pinned while the pool is open.

    The refill task is :meth:`run`: start it in a task group you own (``await tg.start(pool.run)``), or use the
    pool as ``async with ClonePool(image, size=K) as pool`` (its own task group). :meth:`aclose` (shielded)
    stops it and ends the copies not taken. Cancel-safety: a restore is shielded (tens of milliseconds; a
    restore killed half-way can leave a half-restored task nobody owns), so a copy being thawed when the pool
    is closed or its task cancelled is finished, owned by the pool and then closed -- never orphaned.

    A failed refill is kept as ``error`` and raised by ``take`` while no copy is ready; the pool then stops
    refilling (thaw on demand instead, which says why or works).
    """

    def __init__(self, image: Image, *, size: int, lazy: bool = False) -> None:
        if size < 1:
            raise ValueError(f"ClonePool: size must be >= 1, got {size}")
        self.image = image.pin()
        self.size = size
        self.lazy = lazy
        self.error: CriuError | None = None
        self.thawing = 0  # copies being restored right now
        self._ready: deque[Proc] = deque()
        self._wanted = size
        self._changed = anyio.Event()
        self._closed = False
        self._running = False
        self._stopped = anyio.Event()
        self._scope: anyio.CancelScope | None = None
        self._tg: anyio.abc.TaskGroup | None = None

    @property
    def ready(self) -> int:
        """Copies ready to be taken."""
        return len(self._ready)

    @property
    def closed(self) -> bool:
        return self._closed

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def take(self) -> Proc:
        """A ready copy (the caller owns it now); awaits the refill when none is ready. Raises ``CriuError``
        when the pool is closed, or the last refill failed and no copy is ready. Bound it with
        ``anyio.fail_after`` / ``move_on_after``."""
        while True:
            if self._closed:
                raise CriuError(f"ClonePool for {self.image.path} is closed")
            if self._ready:
                proc = self._ready.popleft()
                self._wanted += 1
                self._notify()
                return proc
            if self.error is not None:
                raise CriuError(f"no copy of {self.image.path} is ready and the last refill failed: "
                                f"{self.error}") from self.error
            if not self._running:
                raise CriuError(f"ClonePool for {self.image.path} is not running; start it with "
                                "`await task_group.start(pool.run)` or `async with`")
            await self._changed.wait()

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The refill loop (one task); returns when the pool is closed or this task is cancelled."""
        if self._running or self._closed:
            raise CriuError(f"ClonePool for {self.image.path} is already running or closed")
        self._running = True
        try:
            with anyio.CancelScope() as self._scope:
                task_status.started()
                while not self._closed:
                    if self._wanted <= 0:
                        await self._changed.wait()
                        continue
                    n = self._wanted
                    self.thawing = n
                    try:
                        with anyio.CancelScope(shield=True):  # finish a restore once begun (see class doc)
                            fresh = await thaw_many(self.image, n, lazy=self.lazy)
                    except CriuError as e:
                        self.error = e
                        self._wanted = 0
                        self._notify()
                        continue
                    finally:
                        self.thawing = 0
                    self._ready.extend(fresh)  # owned by the pool from here on; aclose() ends those not taken
                    self._wanted -= n
                    self.error = None
                    self._notify()
        finally:
            self._running = False
            self._stopped.set()
            self._notify()

    async def aclose(self) -> None:
        """Stop refilling (waiting for a restore under way, which is then closed), end the copies not taken,
        unpin the image. Shielded from cancellation; idempotent."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            if self._scope is not None:
                self._scope.cancel()
            self._notify()
            if self._running:
                await self._stopped.wait()
            while self._ready:
                await aclose(self._ready.popleft())
            self.image.unpin()

    async def __aenter__(self) -> "ClonePool":
        tg = await self._open_task_group()
        try:
            await tg.start(self.run)
        except BaseException as e:
            await self.aclose()
            await tg.__aexit__(type(e), e, e.__traceback__)
            raise
        self._tg = tg
        return self

