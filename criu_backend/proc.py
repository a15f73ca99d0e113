"""``Proc``: a process we own -- spawned for freezing, or thawed from an image."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from criu_backend import _stderr, _sys

if TYPE_CHECKING:
    from criu_backend.store import Image

SPAWNED = "spawned"
THAWED = "thawed"

_live: set["Proc"] = set()
_live_lock = threading.Lock()


class Proc:
    """A live process we own: ``pid`` is the target (PID 1 of its own pid namespace).

    ``stdin`` (writable) and ``stdout`` (readable) are raw pipe fds.  ``stderr`` is the read end of a relay pipe
    fed by a background drain (see :mod:`criu_backend._stderr`): the child can never block on stderr, and
    :meth:`stderr_tail` returns the last 64 KiB it wrote whether or not anyone read ``stderr``.

    ``close()`` kills the process (its whole pid namespace), reaps it and closes the fds; it is idempotent.
    """

    def __init__(
        self,
        *,
        pid: int,
        stdin: int,
        stdout: int,
        stderr: _stderr.StderrTail | None,
        argv: Sequence[str],
        kind: str,
        popen: subprocess.Popen | None = None,
        image: Image | None = None,
    ):
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self._tail = stderr
        self.stderr = stderr.relay_r if stderr is not None else None
        self.argv = list(argv)
        self.kind = kind
        self.image = image  # the image this process was thawed from (None when spawned)
        self._popen = popen
        self._pidfd = _sys.pidfd_open(pid)
        self._returncode: int | None = None
        self._closed = False
        self._killed = False
        self._lock = threading.Lock()
        self.started = time.time()
        self.thaw_seconds: float | None = None  # wall time of the criu restore that made this process
        self._helpers: list[Helper] = []  # e.g. the `criu lazy-pages` daemon still feeding this process's memory
        with _live_lock:
            _live.add(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("running" if self._returncode is None else f"exit {self._returncode}")
        return f"<Proc {self.kind} pid={self.pid} {state} {' '.join(self.argv)[:60]!r}>"

    # -- status --------------------------------------------------------------------------------------------
    def poll(self) -> int | None:
        """The exit code (negative: killed by that signal) if the process has exited, else None."""
        if self._helpers:
            self._reap_helpers()
        with self._lock:
            return self._poll_locked()

    def _poll_locked(self) -> int | None:
        if self._returncode is not None:
            return self._returncode
        if self._popen is not None:
            rc = self._popen.poll()
            # util-linux unshare cannot re-raise SIGKILL on itself (signal(SIGKILL, SIG_DFL) fails), so a
            # target we killed shows up as unshare's "exit 1"; report it as the kill it was.
            self._returncode = -signal.SIGKILL if rc == 1 and self._killed else rc
        else:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                # Not our child (the thawing process was not a subreaper); fall back to the pidfd.
                if _sys.pidfd_wait_exit(self._pidfd, 0):
                    self._returncode = -signal.SIGKILL
                return self._returncode
            if pid == self.pid:
                self._returncode = os.waitstatus_to_exitcode(status)
        return self._returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for exit and return the exit code; raises TimeoutError after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            rc = self.poll()
            if rc is not None:
                return rc
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if left == 0.0:
                raise TimeoutError(f"process {self.pid} ({' '.join(self.argv)[:80]}) still running after {timeout} s")
            if self._popen is not None:
                try:
                    _sys.wait_popen(self._popen, left)
                except subprocess.TimeoutExpired:
                    continue
            elif not self._closed:
                _sys.pidfd_wait_exit(self._pidfd, left)

    @property
    def pidfd(self) -> int:
        """A pidfd of the target: readable once it has exited (for event loops)."""
        return self._pidfd

    @property
    def returncode(self) -> int | None:
        return self._returncode

    def stderr_tail(self) -> bytes:
        """The last bytes (up to 64 KiB) the process wrote to stderr."""
        if self._tail is None:
            return b""
        _stderr.flush(self._tail)
        return self._tail.tail()

    # -- ending ----------------------------------------------------------------------------------------------
    def add_helper(self, helper: "Helper") -> None:
        self._helpers.append(helper)

    def settle(self, timeout: float | None = None) -> None:
        """Wait until helper processes (a lazy-pages daemon) have finished: all memory is then in place."""
        for h in list(self._helpers):
            h.wait(timeout)
        self._reap_helpers()

    @property
    def settled(self) -> bool:
        self._reap_helpers()
        return not self._helpers

    def _reap_helpers(self) -> None:
        for h in list(self._helpers):
            if h.poll() is not None:
                h.finish()
                self._helpers.remove(h)

    def kill(self) -> None:
        """SIGKILL the target; being PID 1 of its namespace, everything in that namespace dies with it."""
        if not self._closed and self._returncode is None:
            self._killed = True
            _sys.pidfd_kill(self._pidfd)

    def close(self) -> None:
        """Kill, reap, and close our fds.  Idempotent."""
        if self._closed:
            return
        self.kill()
        self.wait()
        for h in self._helpers:
            h.stop()
        self._helpers.clear()
        if self._popen is not None:
            # the target is unshare's child; if unshare died first, the target was reparented to us (subreaper)
            try:
                os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pass
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for fd in (self.stdin, self.stdout, self._pidfd):
                os.close(fd)
            if self._tail is not None:
                _stderr.stop(self._tail)
                os.close(self._tail.relay_r)
        with _live_lock:
            _live.discard(self)
        if self.image is not None and self.image.store is not None:
            self.image.store.release(self)

    def __enter__(self) -> "Proc":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed


class Helper:
    """A process that serves a Proc for a while (a lazy-pages daemon): reaped, with its cleanup, when done."""

    def __init__(self, popen: subprocess.Popen, *, on_finish=None):
        self.popen = popen
        self._on_finish = on_finish
        self._finished = False

    def poll(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        try:
            return _sys.wait_popen(self.popen, timeout)
        except subprocess.TimeoutExpired as e:
            raise TimeoutError(f"helper pid {self.popen.pid} still running after {timeout} s") from e

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()
        self.finish()

    def finish(self) -> None:
        if not self._finished:
            self._finished = True
            if self._on_finish is not None:
                self._on_finish()


def live_procs() -> list[Proc]:
    """Every Proc not yet closed, oldest first."""
    with _live_lock:
        return sorted(_live, key=lambda p: p.started)


def close_all() -> None:
    """Close (kill and reap) every Proc not yet closed."""
    procs = live_procs()
    for p in procs:
        p.kill()
    for p in procs:
        p.close()
