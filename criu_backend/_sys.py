"""Thin wrappers over Linux process facilities (prctl, pidfd, /proc) used by the backend."""

from __future__ import annotations

import ctypes
import errno
import os
import select
import signal
import subprocess
import threading

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
CAP_SYS_ADMIN = 21
CAP_SYS_PTRACE = 19
CAP_CHECKPOINT_RESTORE = 40

_libc = ctypes.CDLL(None, use_errno=True)
_subreaper_lock = threading.Lock()
_subreaper_set = False


def become_subreaper() -> None:
    """Mark this process a child subreaper, so processes restored with ``criu restore -d`` become our children."""
    global _subreaper_set
    with _subreaper_lock:
        if _subreaper_set:
            return
        if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(err)}")
        _subreaper_set = True


def pidfd_open(pid: int) -> int:
    """A pidfd for ``pid`` (raises ProcessLookupError when it is gone)."""
    return os.pidfd_open(pid)


def pidfd_kill(pidfd: int, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` through a pidfd; a process that already exited is not an error."""
    try:
        signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        pass


def pidfd_wait_exit(pidfd: int, timeout: float | None) -> bool:
    """Block until the process behind ``pidfd`` exits; False on timeout."""
    ready, _, _ = select.select([pidfd], [], [], timeout)
    return bool(ready)


def wait_popen(popen: subprocess.Popen, timeout: float | None) -> int:
    """``popen.wait(timeout)`` without its polling: CPython waits with a timeout by sleeping in steps that double
    up to 50 ms, which added ~15 ms to every 50 ms criu restore.  Here the wait blocks on a pidfd, which turns
    readable the moment the child exits; raises subprocess.TimeoutExpired like ``Popen.wait``."""
    if timeout is None or popen.poll() is not None:
        return popen.wait()
    try:
        pidfd = os.pidfd_open(popen.pid)
    except ProcessLookupError:
        return popen.wait()
    try:
        if not pidfd_wait_exit(pidfd, timeout):
            raise subprocess.TimeoutExpired(popen.args, timeout)
    finally:
        os.close(pidfd)
    return popen.wait()


def _stat_fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (field 3, the state, first); None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return data[data.rindex(b")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """Process start time in clock ticks since boot (field 22 of /proc/PID/stat), None if gone."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[19])


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a killed process stays in /proc until it is reaped)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in (b"Z", b"X")


def session_id(pid: int) -> int | None:
    """Session id of ``pid`` (field 6 of /proc/PID/stat), None if gone."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[3])


def ns_pid(pid: int) -> int | None:
    """``pid``'s pid inside its own (innermost) pid namespace (last NSpid field), None if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (its main thread's children list)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def effective_caps() -> int:
    """The CapEff bit mask of this process."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def has_cap(cap: int) -> bool:
    return bool(effective_caps() >> cap & 1)


def can_checkpoint() -> bool:
    """Root, or the capabilities criu needs to dump and restore (CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE
    together with CAP_SYS_PTRACE)."""
    if os.geteuid() == 0 and has_cap(CAP_SYS_ADMIN):
        return True
    return has_cap(CAP_SYS_PTRACE) and (has_cap(CAP_SYS_ADMIN) or has_cap(CAP_CHECKPOINT_RESTORE))


MNT_DETACH = 2


def umount_detach(path: str) -> None:
    """umount2(path, MNT_DETACH)."""
    if _libc.umount2(path.encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"umount2({path}): {os.strerror(err)}")


def is_enospc(text: str) -> bool:
    return "No space left on device" in text or f"errno {errno.ENOSPC}" in text or "ENOSPC" in text
