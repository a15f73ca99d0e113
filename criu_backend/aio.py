"""anyio twins of the sync API: the same steps, with criu's run awaited instead of blocked on.

``thaw_many`` launches all N ``criu restore`` processes at once and awaits their exits together; cancelling
any call kills the criu processes in flight and whatever they had restored, and re-raises.
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Mapping, Sequence

import anyio

from criu_backend import core
from criu_backend.proc import Proc
from criu_backend.store import Image, ImageStore

__all__ = ["spawn", "freeze", "thaw", "thaw_many", "beam", "wait", "aclose"]


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
    """Async :func:`criu_backend.spawn` (the few-ms hand-over wait runs in a worker thread)."""
    return await anyio.to_thread.run_sync(functools.partial(core.spawn, argv, cwd=cwd, env=env))


async def freeze(
    proc: Proc,
    store_or_dir: ImageStore | str | os.PathLike[str],
    *,
    leave_running: bool = True,
    parent: Image | None = None,
) -> Image:
    """Async :func:`criu_backend.freeze`."""
    for helper in list(proc._helpers):  # a lazily thawed copy: its memory must be complete before the dump
        await _wait_exit(helper.popen)
    job = core.FreezeJob(pid=proc.pid, argv=proc.argv, target=store_or_dir, parent=parent, proc=proc)
    try:
        while not job.lock.try_acquire():  # another dump in the same cwd is running (see criu_backend._dumplock)
            await anyio.sleep(0.002)
        job.start(locked=True)
        await _wait_exit(job.popen)
    except BaseException:
        with anyio.CancelScope(shield=True):
            job.abort()
        raise
    return job.finish(leave_running=leave_running)


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
    return core.finish_all(jobs)


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
    """Kill, reap and close ``proc`` (shielded from cancellation)."""
    with anyio.CancelScope(shield=True):
        proc.kill()
        if proc.poll() is None and not proc.closed:
            await wait(proc)
        proc.close()
