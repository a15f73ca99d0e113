"""Drain every child's stderr so a chatty process never blocks.

One daemon thread reads all registered stderr pipes.  For each it keeps a bounded tail (``TAIL_BYTES``) and
relays the bytes into a second pipe whose read end is handed to the caller as ``Proc.stderr``; when the caller
does not read that relay, bytes that do not fit are dropped from the relay (never from the tail) instead of
blocking the child.
"""

from __future__ import annotations

import os
import selectors
import threading
from collections import deque

TAIL_BYTES = 64 * 1024


class StderrTail:
    """The last ``limit`` bytes a process wrote to stderr, plus the relay pipe handed to the caller."""

    def __init__(self, src: int, *, limit: int = TAIL_BYTES):
        self.src = src
        self.limit = limit
        self.relay_r, self.relay_w = os.pipe()
        os.set_blocking(self.relay_w, False)
        self._buf = bytearray()
        self._lock = threading.Lock()
        self.eof = threading.Event()
        self.dropped = 0  # bytes not relayed because the caller did not read Proc.stderr

    def feed(self, data: bytes) -> None:
        with self._lock:
            self._buf += data
            if len(self._buf) > self.limit:
                del self._buf[: len(self._buf) - self.limit]
        if self.relay_w >= 0:
            try:
                written = os.write(self.relay_w, data)
                self.dropped += len(data) - written
            except BlockingIOError:
                self.dropped += len(data)
            except BrokenPipeError:
                self._close_relay_w()

    def tail(self) -> bytes:
        with self._lock:
            return bytes(self._buf)

    def drain_now(self) -> None:
        """Pump thread only: read everything the pipe holds right now (the source is non-blocking)."""
        while True:
            try:
                data = os.read(self.src, 65536)
            except BlockingIOError:
                return
            if not data:
                return
            self.feed(data)

    def _close_relay_w(self) -> None:
        if self.relay_w >= 0:
            os.close(self.relay_w)
            self.relay_w = -1

    def finish(self) -> None:
        """Called by the pump thread at EOF or on discard: close the source and the relay's write end."""
        os.close(self.src)
        self._close_relay_w()
        self.eof.set()


class _Pump:
    def __init__(self) -> None:
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._pending: deque[tuple[str, StderrTail, threading.Event | None]] = deque()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="criu_backend-stderr", daemon=True)
        self._thread.start()

    def _post(self, op: str, tail: StderrTail, done: threading.Event | None = None) -> None:
        with self._lock:
            self._pending.append((op, tail, done))
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass  # the wake pipe is already full, so the thread will wake anyway

    def add(self, tail: StderrTail) -> None:
        self._post("add", tail)

    def discard(self, tail: StderrTail) -> None:
        self._post("discard", tail)

    def flush(self, tail: StderrTail, timeout: float) -> None:
        """Have the pump read what ``tail``'s pipe holds now; wait up to ``timeout`` s for that."""
        done = threading.Event()
        self._post("flush", tail, done)
        done.wait(timeout)

    def _run(self) -> None:
        live: set[StderrTail] = set()
        while True:
            for key, _ in self._sel.select():
                tail = key.data
                if tail is None:
                    os.read(self._wake_r, 4096)
                    with self._lock:
                        ops = list(self._pending)
                        self._pending.clear()
                    for op, t, done in ops:
                        if op == "flush":
                            if t in live:
                                t.drain_now()
                            done.set()
                        elif op == "add":
                            self._sel.register(t.src, selectors.EVENT_READ, t)
                            live.add(t)
                        elif t in live:
                            self._sel.unregister(t.src)
                            live.discard(t)
                            t.finish()
                        elif not t.eof.is_set():
                            t.finish()  # discarded before it was ever added
                    continue
                if tail not in live:
                    continue
                try:
                    data = os.read(tail.src, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    tail.feed(data)
                else:
                    self._sel.unregister(tail.src)
                    live.discard(tail)
                    tail.finish()


_pump: _Pump | None = None
_pump_lock = threading.Lock()


def drain(src: int) -> StderrTail:
    """Start draining the read end ``src`` of a child's stderr pipe (ownership of ``src`` passes to the pump)."""
    global _pump
    with _pump_lock:
        if _pump is None:
            _pump = _Pump()
        pump = _pump
    os.set_blocking(src, False)
    tail = StderrTail(src)
    pump.add(tail)
    return tail


def flush(tail: StderrTail, timeout: float = 1.0) -> None:
    """Make ``tail`` include everything the child wrote so far (a no-op once the pipe hit EOF)."""
    if _pump is not None and not tail.eof.is_set():
        _pump.flush(tail, timeout)


def stop(tail: StderrTail) -> None:
    """Stop draining; the pump closes the source and the relay's write end."""
    if _pump is not None and not tail.eof.is_set():
        _pump.discard(tail)
