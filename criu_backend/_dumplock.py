"""Serialize criu dumps of processes that share a working directory.

criu's parasite, running inside the dumped process, mounts a private procfs at ``<cwd>/proc.crtools`` (a fixed
name, relative to the *target's* cwd) whenever the target's /proc belongs to another pid namespace -- always the
case for our targets, which are PID 1 of their own namespace.  Two dumps at once of processes with the same cwd
therefore collide ("Can't create a directory (-17)"), and a dump killed half-way leaves the directory behind so
that every later dump there fails.  A file lock per cwd (shared by every cryo process on the machine) prevents
the first; under that lock, a leftover ``proc.crtools`` is unmounted and removed, which cures the second.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import tempfile
import time
from pathlib import Path

from criu_backend import _sys

PARASITE_DIR = "proc.crtools"
LOCK_DIR_CANDIDATES = ("/run/lock", "/dev/shm")


def _lock_dir() -> Path:
    for cand in LOCK_DIR_CANDIDATES:
        if os.access(cand, os.W_OK):
            return Path(cand)
    return Path(tempfile.gettempdir())


def target_cwd(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


class DumpLock:
    """An exclusive flock for dumps of processes whose cwd is ``cwd``."""

    def __init__(self, cwd: str):
        self.cwd = cwd
        digest = hashlib.sha1(cwd.encode()).hexdigest()[:20]
        self.path = _lock_dir() / f"cryo-dump-{digest}.lock"
        self.fd = -1

    def try_acquire(self) -> bool:
        if self.fd < 0:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._clear_leftover()
        return True

    def acquire(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.try_acquire():
            if time.monotonic() > deadline:
                raise TimeoutError(f"another criu dump in {self.cwd} held {self.path} for {timeout} s")
            time.sleep(0.002)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing drops the flock
            self.fd = -1

    def _clear_leftover(self) -> None:
        """Remove a ``proc.crtools`` left by a dump that died (we hold the lock, so nobody uses it)."""
        leftover = os.path.join(self.cwd, PARASITE_DIR)
        if not os.path.lexists(leftover):
            return
        if os.path.ismount(leftover):
            _sys.umount_detach(leftover)
        try:
            os.rmdir(leftover)
        except OSError as e:
            if e.errno not in (errno.ENOENT,):
                raise
