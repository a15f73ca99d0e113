"""Copies of one image thawed ahead of demand, so that taking one costs no restore at all (sync API: a thread).

Async code uses :class:`criu_backend.aio.ClonePool` instead: the same pool with an anyio refill task, a
cancellable ``take`` and nothing to join."""

from __future__ import annotations

import threading
from collections import deque

from criu_backend import core
from criu_backend.errors import CriuError
from criu_backend.proc import Proc
from criu_backend.store import Image


class ClonePool:
    """Keeps ``size`` running copies of ``image`` ready; :meth:`take` hands one over and a background thread
    thaws a replacement.  The image is pinned while the pool is open.  ``close()`` kills the copies not taken.
    With ``prefill=False`` the constructor returns at once and the first copies are thawed by that thread too
    (``take`` waits for them).
    """

    def __init__(self, image: Image, *, size: int, lazy: bool = False, prefill: bool = True):
        if size < 1:
            raise ValueError(f"ClonePool: size must be >= 1, got {size}")
        self.image = image.pin()
        self.size = size
        self.lazy = lazy
        self._ready: deque[Proc] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._wanted = 0
        self.error: CriuError | None = None  # the last refill failure, re-raised by take()
        if prefill:
            self._ready.extend(core.thaw_many(image, size, lazy=lazy))
        else:
            self._wanted = size
        self._thread = threading.Thread(target=self._refill, name="criu_backend-pool", daemon=True)
        self._thread.start()

    def take(self, timeout: float | None = None) -> Proc:
        """A ready copy (the caller owns it now); waits for a refill if the pool is momentarily empty."""
        with self._cond:
            if self._closed:
                raise CriuError(f"ClonePool for {self.image.path} is closed")
            if not self._ready and self.error is not None:
                raise self.error
            if not self._ready and not self._cond.wait_for(lambda: self._ready or self.error, timeout):
                raise TimeoutError(f"no copy of {self.image.path} became ready within {timeout} s")
            if not self._ready:
                raise self.error  # type: ignore[misc]
            proc = self._ready.popleft()
            self._wanted += 1
            self._cond.notify_all()
            return proc

    def _refill(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._wanted > 0)
                if self._closed:
                    return
                n = self._wanted
            try:
                fresh = core.thaw_many(self.image, n, lazy=self.lazy)
            except CriuError as e:
                with self._cond:
                    self.error = e
                    self._wanted = 0
                    self._cond.notify_all()
                continue
            with self._cond:
                if self._closed:
                    for p in fresh:
                        p.close()
                    return
                self._ready.extend(fresh)
                self._wanted -= n
                self.error = None
                self._cond.notify_all()

    def close(self) -> None:
        """Stop refilling, kill the copies not taken, unpin the image.  Idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._thread.join()
        while self._ready:
            self._ready.popleft().close()
        self.image.unpin()

    def __enter__(self) -> "ClonePool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
