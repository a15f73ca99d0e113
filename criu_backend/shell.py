"""Thawing for the command line: restore an image as an independent process tree attached to *our* stdio.

``criu restore`` runs in the foreground under ``unshare --pid --fork --mount --mount-proc``: criu becomes PID 1
of a fresh pid namespace (so the copy never clashes with the original's pids, even for processes frozen by pid
that were not a namespace's init) and stays as the copy's parent, exiting with its exit code.  Pipes the image
had on fds 0-2 are re-attached to this process's fds 0-2; a terminal (shell job) is re-attached with
``--shell-job``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from criu_backend import _sys
from criu_backend.core import _read_text, _tail, criu_binary, require_privileges
from criu_backend.errors import CriuRefused
from criu_backend.store import Image

RESTORE_TIMEOUT = 60.0


@dataclass
class ShellCopy:
    """A copy restored by :func:`thaw_attached`: ``holder`` is the unshare process, ``init_pid`` criu (the
    copy's parent and PID 1 of its namespace; kill it to end the copy)."""

    holder: subprocess.Popen
    init_pid: int
    image: Image
    seconds: float

    def wait(self) -> int:
        return self.holder.wait()


def thaw_attached(image: Image | str | os.PathLike[str], *, detach: bool = False) -> ShellCopy:
    """Restore ``image`` attached to this process's stdio; returns once the copy is running."""
    if not isinstance(image, Image):
        image = Image.open(image)
    criu = criu_binary()
    require_privileges("thaw (criu restore)")
    image.validate()
    work = Path(tempfile.mkdtemp(prefix="cryo-thaw-"))
    # criu writes --pidfile only with -d; in the foreground it tells us the copy runs through its action script.
    notify = work / "notify.sh"
    notify.write_text('#!/bin/sh\n[ "$CRTOOLS_SCRIPT_ACTION" = post-resume ] && : > "$(dirname "$0")/resumed"\nexit 0\n')
    notify.chmod(0o700)
    cmd = ["unshare", "--pid", "--fork", "--mount", "--mount-proc", *criu.argv, "restore", "-D", str(image.path),
           "-W", str(work), "-o", str(work / "restore.log"), "--action-script", str(notify)]
    for fd, link in sorted(image.meta.get("stdio", {}).items()):
        if link and link.startswith("pipe:"):
            cmd += ["--inherit-fd", f"fd[{fd}]:{link}"]
    if image.meta.get("shell_job"):
        cmd.append("--shell-job")
    t0 = time.perf_counter()
    holder = subprocess.Popen(cmd, start_new_session=detach and not image.meta.get("shell_job"))
    try:
        deadline = time.monotonic() + RESTORE_TIMEOUT
        while not (work / "resumed").exists():
            rc = holder.poll()
            if rc is not None or time.monotonic() > deadline:
                log = _tail(_read_text(work / "restore.log"))
                stop(holder)
                raise CriuRefused(f"criu restore of {image.path} failed (exit {rc}); the image is unchanged. "
                                  f"criu restore log ends with:\n{log}",
                                  action="restore", returncode=-1 if rc is None else rc, log_tail=log, log_path=None)
            time.sleep(0.002)
        seconds = time.perf_counter() - t0
        kids = _sys.children(holder.pid)
        return ShellCopy(holder, kids[0] if kids else holder.pid, image, seconds)
    except BaseException:
        stop(holder)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def stop(holder: subprocess.Popen) -> int:
    """Kill a copy started by :func:`thaw_attached`: criu (PID 1 of the copy's namespace) first, then unshare."""
    for pid in _sys.children(holder.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if holder.poll() is None:
        holder.kill()
    return holder.wait()
