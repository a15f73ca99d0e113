"""spawn / freeze / thaw / thaw_many / beam over the criu command line.

Each freeze and restore is split into ``start`` (prepare, launch criu without waiting) and ``finish`` (check the
result, build the Image or Proc), so the sync API and the anyio twins in :mod:`criu_backend.aio` share every
step except the waiting, and ``thaw_many`` keeps N restores in flight at once.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from criu_backend import _stderr, _sys
from criu_backend._dumplock import DumpLock, target_cwd
from criu_backend.errors import CriuError, CriuPermissionError, CriuRefused, ImageCorrupt, ImageStoreFull, TargetGone
from criu_backend.proc import SPAWNED, THAWED, Helper, Proc
from criu_backend.store import (
    BUDGET_ENV,
    META_FORMAT,
    META_NAME,
    ROOT_ENV,
    Image,
    ImageStore,
    build_manifest,
    dir_bytes,
    write_private_json,
)

if TYPE_CHECKING:  # install is imported lazily, so `python -m criu_backend.install` runs it fresh
    from criu_backend.install import CriuBinary

LOG_TAIL_CHARS = 3000
CRIU_TIMEOUT = 600.0  # hang guard for one criu dump or restore (seconds)
SPAWN_TIMEOUT = 10.0
LIBUV_ENV = {"UV_USE_IO_URING": "0"}  # libuv (lake) processes with io_uring cannot be dumped

_criu_cache: CriuBinary | None = None
_criu_lock = threading.Lock()


def criu_binary() -> CriuBinary:
    """The criu to use (found once per process via :func:`criu_backend.install.find_criu`)."""
    global _criu_cache
    from criu_backend.install import find_criu

    with _criu_lock:
        if _criu_cache is None:
            _criu_cache = find_criu(require=True)
        return _criu_cache


def reset_criu_cache() -> None:
    global _criu_cache
    with _criu_lock:
        _criu_cache = None


def require_privileges(action: str) -> None:
    if not _sys.can_checkpoint():
        raise CriuPermissionError(
            f"{action} needs root (or CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE, plus CAP_SYS_PTRACE); this process "
            f"runs as uid {os.geteuid()} without them. Run as root (e.g. sudo), or see `cryo doctor`"
        )


_LOG_NOISE = ("Can't setup RLIMIT_NOFILE for self",)  # harmless: criu logs it on every run here
_HINTS = (
    ("Connected TCP socket", "the process has an open TCP connection to elsewhere; cryo cannot freeze network "
                             "connections (close them first, or freeze a process without any)"),
    ("unix", "the process has a unix socket connected outside the frozen tree; that cannot be frozen"),
    ("io_uring", "the process uses io_uring, which criu cannot dump; for libuv programs (lake) start it with "
                 "UV_USE_IO_URING=0"),
    ("tty", "the process uses a terminal: freeze the whole shell job, and thaw with `cryo thaw` from a terminal"),
)


def _cmd_text(argv: Sequence[str], limit: int = 120) -> str:
    text = shlex.join(argv)
    return text if len(text) <= limit else text[:limit] + "…"


def _hint(log: str) -> str:
    """A plain-language reason for a known criu dump failure, or ''."""
    for needle, hint in _HINTS:
        if any(needle in line and line.startswith("Error") for line in log.splitlines()):
            return f" Reason: {hint}."
    return ""


_MISSING_FILE = re.compile(r"Can't open file (\S+) on restore: (.+)")


def _restore_hint(log: str) -> str:
    """A plain-language reason for a known criu restore failure, or ''."""
    m = _MISSING_FILE.search(log)
    if m:
        path = m.group(1) if m.group(1).startswith("/") else "/" + m.group(1)
        return (f" Reason: the process had {path} open or mapped when it was frozen, and it cannot be opened "
                f"now ({m.group(2).strip()}); put the file back at that path, or freeze the process again.")
    return ""


def _tail(text: str, limit: int = LOG_TAIL_CHARS) -> str:
    text = "\n".join(line for line in text.strip().splitlines() if not any(n in line for n in _LOG_NOISE))
    return text if len(text) <= limit else "…" + text[-limit:]


def _kill_criu(popen: subprocess.Popen, *, own_group: bool) -> None:
    """SIGKILL a criu run and reap it.  With ``own_group`` (criu was started as a session leader) the whole
    process group goes too: criu forks helpers that share its command line, and one stopped mid-dump outlives a
    kill of criu alone -- an orphaned ``criu dump`` in state T, seen after Ctrl-C during a search's freeze."""
    if popen.poll() is None or own_group:
        try:
            if own_group:
                os.killpg(popen.pid, signal.SIGKILL)
            else:
                popen.kill()
        except (ProcessLookupError, PermissionError):
            pass
    popen.wait()
    if own_group:
        # Its killed helpers were re-parented to us (the subreaper) when criu exited: reap them.
        while True:
            try:
                os.waitpid(-popen.pid, 0)
            except ChildProcessError:
                break


def _wait_criu(popen: subprocess.Popen, action: str, where: Path, abort) -> int:
    """Wait for a criu run; after CRIU_TIMEOUT seconds kill it, clean up through ``abort`` and raise."""
    try:
        return _sys.wait_popen(popen, CRIU_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        abort()
        raise CriuRefused(f"criu {action} for {where} did not finish within {CRIU_TIMEOUT:.0f} s and was killed",
                          action=action, returncode=-9, log_tail="", log_path=None) from e


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _read_memfd(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def _close_fds(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


BASH = shutil.which("bash") or "/bin/bash"
_REDIRECT_STDERR = 'exec 2>&{fd} {fd}>&-; exec "$@"'


# -- spawn ---------------------------------------------------------------------------------------------------
def spawn(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    start_timeout: float = SPAWN_TIMEOUT,
) -> Proc:
    """Start ``unshare --pid --fork setsid argv`` with stdin/stdout/stderr pipes, ready to be frozen.

    The returned Proc's ``pid`` is the command itself (PID 1 of its own pid namespace), not ``unshare``.
    ``UV_USE_IO_URING=0`` is added to the environment unless set, so libuv programs stay freezable.
    """
    argv = [os.fspath(a) for a in argv]
    if not argv:
        raise ValueError("spawn: empty argv")
    require_privileges("spawn (unshare --pid)")
    full_env = dict(os.environ if env is None else env)
    for key, value in LIBUV_ENV.items():
        full_env.setdefault(key, value)
    program = argv[0]
    if "/" in program:
        if not os.access(os.path.join(os.fspath(cwd or "."), program), os.X_OK):
            raise CriuError(f"cannot spawn {program!r}: no executable file there (relative to cwd {cwd or os.getcwd()})")
    elif shutil.which(program, path=full_env.get("PATH", os.defpath)) is None:
        raise CriuError(f"cannot spawn {program!r}: not found on PATH ({full_env.get('PATH', os.defpath)})")
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    # unshare and setsid report their own failures on a private memfd; the command's stderr pipe is passed
    # under its own number and bash (dash cannot name fds >= 10) moves it to fd 2 before exec'ing the command.
    own_err = os.memfd_create("unshare-stderr")
    try:
        popen = subprocess.Popen(
            ["unshare", "--pid", "--fork", "setsid", BASH, "-c", _REDIRECT_STDERR.format(fd=err_w), "bash", *argv],
            stdin=in_r, stdout=out_w, stderr=own_err, cwd=cwd, env=full_env, close_fds=True, pass_fds=(err_w,),
        )
    except OSError as e:
        _close_fds(in_r, in_w, out_r, out_w, err_r, err_w, own_err)
        raise CriuError(f"cannot start `unshare --pid --fork setsid {' '.join(argv)}`: {e}") from e
    _close_fds(in_r, out_w, err_w)
    tail = _stderr.drain(err_r)
    deadline = time.monotonic() + start_timeout
    try:
        while True:
            kids = _sys.children(popen.pid)
            if kids and _sys.session_id(kids[0]) == kids[0]:
                try:
                    return Proc(pid=kids[0], stdin=in_w, stdout=out_r, stderr=tail, argv=argv, kind=SPAWNED,
                                popen=popen)
                except ProcessLookupError:
                    pass  # it exited already; report below once unshare has exited too
            rc = popen.poll()
            if rc is not None or time.monotonic() > deadline:
                if rc is None:
                    popen.kill()
                    rc = popen.wait()
                tail.eof.wait(1.0)
                _stderr.stop(tail)
                _close_fds(in_w, out_r, tail.relay_r)
                err = _read_memfd(own_err) + tail.tail().decode(errors="replace")
                raise TargetGone(
                    f"`{' '.join(argv)}` exited (code {rc}) before it could be handed over"
                    + (f"; stderr: {_tail(err, 1500)}" if err.strip() else ""),
                    pid=popen.pid, returncode=rc,
                )
            time.sleep(0.0005)
    finally:
        os.close(own_err)


# -- freeze --------------------------------------------------------------------------------------------------
def _stdio_links(pid: int) -> dict[str, str | None]:
    links: dict[str, str | None] = {}
    for fd in ("0", "1", "2"):
        try:
            links[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            links[fd] = None
    return links


def _is_tty(link: str | None) -> bool:
    return link is not None and (link.startswith("/dev/pts/") or link.startswith("/dev/tty") or link == "/dev/console")


def _dump_estimate(pid: int) -> int:
    """Bytes criu will write for ``pid``, estimated by its anonymous + shmem resident memory."""
    total = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("RssAnon:", "RssShmem:")):
                    total += int(line.split()[1]) * 1024
        return total
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


class FreezeJob:
    """One ``criu dump`` of a process tree into an image directory (see module docstring)."""

    def __init__(
        self,
        *,
        pid: int,
        argv: Sequence[str],
        target: ImageStore | str | os.PathLike[str],
        parent: Image | None,
        proc: Proc | None,
        stderr: bytes | None = None,
    ):
        """``stderr``: the target's stderr tail when the caller already read it (for a target found dead)."""
        self.criu = criu_binary()
        require_privileges("freeze (criu dump)")
        self.pid = pid
        self.argv = list(argv)
        self.proc = proc
        self.parent = parent
        self.store = target if isinstance(target, ImageStore) else None
        if proc is not None and (proc.closed or proc.poll() is not None):
            raise TargetGone(self._gone_message("before the freeze", proc.returncode, stderr), pid=pid,
                             returncode=proc.returncode)
        if not _sys.running(pid):
            raise TargetGone(f"process {pid} does not exist or has exited; nothing to freeze", pid=pid)
        if proc is not None:
            proc.settle()  # a lazily thawed copy: let its lazy-pages daemon finish before dumping
        self.stdio = _stdio_links(pid)
        self.pidns_init = _sys.ns_pid(pid) == 1
        self.shell_job = any(_is_tty(link) for link in self.stdio.values())
        if self.store is not None:
            self.store.make_room(_dump_estimate(pid), strict=False)
            self.dir = self.store.new_image_dir()
            self.own_dir = True
        else:
            self.dir = Path(target).resolve()
            if self.dir.exists() and any(self.dir.iterdir()):
                raise CriuError(f"image directory {self.dir} is not empty; give a new or empty directory")
            self.own_dir = not self.dir.exists()
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.dir, 0o700)
        self.cmd = [*self.criu.argv, "dump", "-t", str(pid), "-D", str(self.dir), "--leave-running", "-o", "dump.log"]
        if self.shell_job:
            self.cmd.append("--shell-job")
        self.popen: subprocess.Popen | None = None
        self._err = -1
        self.t0 = 0.0
        self.seconds = 0.0
        self.lock = DumpLock(target_cwd(pid) or "/")

    def _gone_message(self, when: str, rc: int | None, stderr: bytes | None = None) -> str:
        msg = f"process {self.pid} ({_cmd_text(self.argv)}) exited {when}" + (
            f" with code {rc}" if rc is not None else "")
        if self.proc is not None:
            err = (self.proc.stderr_tail() if stderr is None else stderr).decode(errors="replace")
            if err.strip():
                msg += f"; its stderr ends with: {_tail(err, 1500)}"
        return msg

    def survival_wait(self, log: str) -> float:
        """After a failed dump: how long to wait for the target to be gone before calling it alive.  A target
        killed while criu held it dies only once criu lets go, and a large one takes a while to tear down, so
        when criu saw it vanish ("No such process") this is up to a second; otherwise nothing."""
        return 1.0 if "No such process" in log else 0.0

    def target_alive(self) -> bool:
        """Whether the target still runs (a zombie does not)."""
        return _sys.running(self.pid) and (self.proc is None or self.proc.poll() is None)

    def _target_survived(self, log: str) -> bool:
        """After a failed dump: is the target still running (see :meth:`survival_wait`)?  Blocks; the anyio twin
        waits through the target's pidfd instead."""
        deadline = time.monotonic() + self.survival_wait(log)
        while True:
            alive = self.target_alive()
            if not alive or time.monotonic() >= deadline:
                return alive
            time.sleep(0.005)

    def start(self, *, locked: bool = False) -> subprocess.Popen:
        """Launch criu dump; without ``locked``, first take the dump lock of the target's cwd (blocking)."""
        if not locked:
            self.lock.acquire()
        self._err = os.memfd_create("criu-dump-stderr")
        self.t0 = time.perf_counter()
        try:
            self.popen = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self._err, stderr=self._err,
                                          umask=0o077, close_fds=True, start_new_session=not self.shell_job)
        except OSError as e:
            _close_fds(self._err)
            self._err = -1
            self.lock.release()
            raise CriuError(f"cannot run {' '.join(self.cmd)}: {e}") from e
        return self.popen

    def _discard_dir(self) -> None:
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            for entry in self.dir.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    def abort(self) -> None:
        """Kill a running criu dump and every helper it forked (the target is resumed by the kernel when
        criu's ptrace detaches)."""
        if self.popen is not None:
            _kill_criu(self.popen, own_group=not self.shell_job)
        self.lock.release()
        self._discard_dir()
        _close_fds(self._err)
        self._err = -1

    def finish(self, *, leave_running: bool = True) -> Image:
        """Wait for criu (blocking) and return the image; raises as :meth:`failure` says.  The anyio twin
        (:func:`criu_backend.aio.freeze`) runs the same steps with every wait awaited."""
        if self.popen is None:
            raise CriuError("FreezeJob.finish called before start")
        rc = _wait_criu(self.popen, "dump", self.dir, self.abort)
        log = self.ended(rc)
        if log is not None:
            raise self.failure(rc, log, alive=self._target_survived(log))
        image = self.made_image()
        if not leave_running:
            if self.proc is not None:
                self.proc.close()
            else:
                os.kill(self.pid, 9)
        return image

    def ended(self, rc: int) -> str | None:
        """criu exited with ``rc``: release the dump lock and criu's stderr; on a failure discard the directory and
        return criu's log (``None`` when the dump succeeded).  No waiting."""
        self.lock.release()
        self.seconds = time.perf_counter() - self.t0
        err_text = _read_memfd(self._err)
        _close_fds(self._err)
        self._err = -1
        if rc == 0:
            return None
        log = _read_text(self.dir / "dump.log") + ("\n" + err_text if err_text.strip() else "")
        self._discard_dir()
        return log

    def failure(self, rc: int, log: str, *, alive: bool, stderr: bytes | None = None) -> CriuError:
        """The error for a failed dump (``alive``: the target still runs, see :meth:`survival_wait`; ``stderr``:
        the target's stderr tail if already read, else it is read here, waiting up to 1 s for the drain)."""
        if not alive:
            prc = self.proc.returncode if self.proc is not None else None
            return TargetGone(self._gone_message("during the freeze", prc, stderr) +
                              f"; criu dump log ends with:\n{_tail(log)}", pid=self.pid, returncode=prc)
        if _sys.is_enospc(log):
            where = self.store.root if self.store is not None else self.dir.parent
            return ImageStoreFull(
                f"no space left on the image filesystem ({where}) while freezing pid {self.pid}; the process "
                f"is still running. Lower the image budget ({BUDGET_ENV}=…) so old images are evicted "
                f"sooner, free space, or set ${ROOT_ENV} to a larger filesystem. criu log:\n{_tail(log, 1500)}"
            )
        return CriuRefused(
            f"criu dump of pid {self.pid} ({_cmd_text(self.argv)}) failed with exit {rc}; the process is "
            f"still running and nothing was lost.{_hint(log)} criu dump log ends with:\n{_tail(log)}",
            action="dump", returncode=rc, log_tail=_tail(log), log_path=None,
        )

    def made_image(self) -> Image:
        """After a successful dump: write the metadata and register the image in the store (which may evict
        older images; raises ImageStoreFull, the process still running)."""
        parent = self.parent
        if parent is None and self.proc is not None:
            parent = self.proc.image
        meta: dict[str, Any] = {
            "format": META_FORMAT,
            "command": self.argv,
            "parent": str(parent.path) if parent is not None else None,
            "depth": parent.depth + 1 if parent is not None else 0,
            "created": time.time(),
            "criu_version": self.criu.version,
            "pid": self.pid,
            "stdio": self.stdio,
            "shell_job": self.shell_job,
            "pidns_init": self.pidns_init,
            "freeze_seconds": round(self.seconds, 6),
            "manifest": build_manifest(self.dir),
        }
        meta["nbytes"] = dir_bytes(self.dir)
        write_private_json(self.dir / META_NAME, meta)
        image = Image(self.dir, meta)
        if self.store is not None:
            self.store.add(image)
        return image

def freeze(
    proc: Proc,
    store_or_dir: ImageStore | str | os.PathLike[str],
    *,
    leave_running: bool = True,
    parent: Image | None = None,
) -> Image:
    """Checkpoint ``proc`` (its whole pid namespace) into a new image in the store, or into a directory.

    ``leave_running=False`` kills and reaps the process once the image is safely written.  ``parent`` defaults
    to the image ``proc`` was thawed from.  The process keeps running whenever an error is raised.
    """
    job = FreezeJob(pid=proc.pid, argv=proc.argv, target=store_or_dir, parent=parent, proc=proc)
    _start_or_abort(job)
    return job.finish(leave_running=leave_running)


def _start_or_abort(job: FreezeJob) -> None:
    try:
        job.start()
    except BaseException:
        job.abort()
        raise


def freeze_pid(
    pid: int, directory: str | os.PathLike[str], *, leave_running: bool = True
) -> Image:
    """Checkpoint any running process tree by pid (e.g. one started from a shell) into ``directory``."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except FileNotFoundError as e:
        raise TargetGone(f"process {pid} does not exist; nothing to freeze", pid=pid) from e
    job = FreezeJob(pid=pid, argv=argv, target=directory, parent=None, proc=None)
    _start_or_abort(job)
    return job.finish(leave_running=leave_running)


# -- thaw ----------------------------------------------------------------------------------------------------
class RestoreJob:
    """One ``criu restore -d`` of an image with fresh pipes (see module docstring)."""

    def __init__(self, image: Image, criu: CriuBinary, *, inherit_stdio: bool = False, lazy: bool = False):
        self.image = image
        self.criu = criu
        self.lazy = lazy
        self.daemon: subprocess.Popen | None = None
        store = image.store if image.store is not None and not image.store.closed else None
        self.store = store
        self.work = store.new_work_dir() if store is not None else Path(tempfile.mkdtemp(prefix="cryo-restore-"))
        self.inherit_stdio = inherit_stdio
        self.popen: subprocess.Popen | None = None
        self._ours: list[int] = []  # our ends: stdin write, stdout read, stderr read (or -1)
        self._theirs: list[int] = []
        self._err = -1
        self.t0 = 0.0

    def start_daemon(self) -> None:
        """For a lazy restore: start this clone's `criu lazy-pages` daemon (it serves memory on demand through
        userfaultfd, then pushes the rest in the background and exits).  The image is pinned meanwhile."""
        if not self.lazy:
            return
        self.image.pin()
        try:
            self.daemon = subprocess.Popen(
                [*self.criu.argv, "lazy-pages", "-D", str(self.image.path), "-W", str(self.work),
                 "-o", str(self.work / "lazy-pages.log")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, umask=0o077,
                close_fds=True,
            )
        except OSError as e:
            self.image.unpin()
            raise CriuError(f"cannot run criu lazy-pages for {self.image.path}: {e}") from e

    def daemon_ready(self) -> bool:
        """True once the lazy-pages daemon listens (always True for an eager restore)."""
        if self.daemon is None:
            return True
        if (self.work / "lazy-pages.socket").exists():
            return True
        if self.daemon.poll() is not None:
            log = _tail(_read_text(self.work / "lazy-pages.log"))
            raise CriuRefused(
                f"criu lazy-pages for {self.image.path} exited with {self.daemon.returncode} before serving; "
                f"log ends with:\n{log}", action="lazy-pages", returncode=self.daemon.returncode, log_tail=log,
                log_path=None)
        return False

    def _stop_daemon(self) -> None:
        if self.daemon is not None:
            if self.daemon.poll() is None:
                self.daemon.kill()
            self.daemon.wait()
            self.daemon = None
            self.image.unpin()

    def _stdio_plan(self) -> list[str]:
        """Create the fresh pipes and return the --inherit-fd arguments."""
        stdio: dict[str, str | None] = self.image.meta.get("stdio", {})
        args: list[str] = []
        in_w = out_r = err_r = -1
        if self.inherit_stdio:
            for fd in ("0", "1", "2"):
                link = stdio.get(fd)
                if link and link.startswith("pipe:"):
                    args += ["--inherit-fd", f"fd[{fd}]:{link}"]
            self._theirs = []
            self._ours = [-1, -1, -1]
            return args
        seen: dict[str, int] = {}
        for fd in ("0", "1", "2"):
            link = stdio.get(fd)
            if not link or not link.startswith("pipe:") or link in seen:
                continue
            r, w = os.pipe()
            if fd == "0":
                child, in_w = r, w
            else:
                child = w
                if fd == "1":
                    out_r = r
                else:
                    err_r = r
            self._theirs.append(child)
            seen[link] = child
            args += ["--inherit-fd", f"fd[{child}]:{link}"]
        self._ours = [in_w, out_r, err_r]
        return args

    @property
    def _own_group(self) -> bool:
        """criu restore runs as a session leader, except for a shell job, which must restore into the caller's
        session and terminal."""
        return not self.image.meta.get("shell_job")

    def start(self) -> subprocess.Popen:
        work = self.work
        try:
            cmd = [*self.criu.argv, "restore", "-D", str(self.image.path), "-W", str(work), "-d",
                   "--pidfile", str(work / "pid"), "-o", str(work / "restore.log"), *self._stdio_plan()]
            if self.image.meta.get("shell_job"):
                cmd.append("--shell-job")
            if self.lazy:
                cmd.append("--lazy-pages")
            self._err = os.memfd_create("criu-restore-stderr")
            self.t0 = time.perf_counter()
            self.popen = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=self._err, stderr=self._err, pass_fds=self._theirs,
                umask=0o077, close_fds=True, start_new_session=self._own_group,
            )
        except OSError as e:
            self._cleanup(close_ours=True)
            raise CriuError(f"cannot run criu restore for {self.image.path}: {e}") from e
        finally:
            _close_fds(*self._theirs)
            self._theirs = []
        return self.popen

    def _cleanup(self, *, close_ours: bool) -> None:
        if close_ours:
            self._stop_daemon()
            _close_fds(*self._ours)
            self._ours = [-1, -1, -1]
        _close_fds(self._err)
        self._err = -1
        if self.daemon is None:
            shutil.rmtree(self.work, ignore_errors=True)

    def abort(self) -> None:
        """Stop a restore in flight and kill whatever it restored, including tasks still being restored (they
        stay in criu's process group until they take back their own session)."""
        if self.popen is not None:
            _kill_criu(self.popen, own_group=self._own_group)
        pid_text = _read_text(self.work / "pid").strip()
        if pid_text.isdigit():
            try:
                os.kill(int(pid_text), 9)
                os.waitpid(int(pid_text), 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        self._cleanup(close_ours=True)

    def finish(self) -> Proc:
        if self.popen is None:
            raise CriuError("RestoreJob.finish called before start")
        rc = _wait_criu(self.popen, "restore", self.image.path, self.abort)
        pid_text = _read_text(self.work / "pid").strip()
        if rc != 0 or not pid_text.isdigit():
            log = _read_text(self.work / "restore.log")
            err = _read_memfd(self._err)
            text = _tail(log + ("\n" + err if err.strip() else ""))
            self._cleanup(close_ours=True)
            raise CriuRefused(
                f"criu restore of {self.image.path} failed with exit {rc}; the image is unchanged."
                f"{_restore_hint(log)} criu restore log ends with:\n{text}",
                action="restore", returncode=rc, log_tail=text, log_path=None,
            )
        in_w, out_r, err_r = self._ours
        self._ours = [-1, -1, -1]
        self._cleanup(close_ours=False)
        pid = int(pid_text)
        tail = _stderr.drain(err_r) if err_r >= 0 else None
        try:
            proc = Proc(pid=pid, stdin=in_w, stdout=out_r, stderr=tail, argv=self.image.meta.get("command", []),
                        kind=THAWED, image=self.image)
        except ProcessLookupError as e:
            self._stop_daemon()
            shutil.rmtree(self.work, ignore_errors=True)
            if tail is not None:
                _stderr.stop(tail)
                _close_fds(tail.relay_r)
            _close_fds(in_w, out_r)
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            raise CriuRefused(
                f"process restored from {self.image.path} (pid {pid}) exited right after the restore",
                action="restore", returncode=0, log_tail="", log_path=None,
            ) from e
        proc.thaw_seconds = time.perf_counter() - self.t0
        if self.daemon is not None:
            image, work = self.image, self.work

            def done() -> None:
                image.unpin()
                shutil.rmtree(work, ignore_errors=True)

            proc.add_helper(Helper(self.daemon, on_finish=done))
            self.daemon = None
        if self.store is not None:
            self.store.adopt(proc)
        return proc


def prepare_thaw(image: Image | str | os.PathLike[str], *, validate: bool = True) -> tuple[Image, CriuBinary]:
    if not isinstance(image, Image):
        image = Image.open(image)
    criu = criu_binary()
    require_privileges("thaw (criu restore)")
    if validate:
        image.validate()
    image.touch()
    _sys.become_subreaper()
    return image, criu


def thaw(image: Image | str | os.PathLike[str], *, lazy: bool = False) -> Proc:
    """Restore one running copy of ``image`` with fresh pipes, in its own pid namespace (see :func:`thaw_many`)."""
    return thaw_many(image, 1, lazy=lazy)[0]


def thaw_many(image: Image | str | os.PathLike[str], n: int, *, lazy: bool = False) -> list[Proc]:
    """Restore ``n`` copies of ``image`` concurrently (n criu restores in flight), each with fresh pipes and its
    own pid namespace.  If any restore fails, the copies already made are closed and the first error raised.

    ``lazy=True`` restores memory on demand (userfaultfd): each copy gets a `criu lazy-pages` daemon that serves
    pages as they are touched and then pushes the rest in the background; the copy answers sooner, and
    ``Proc.settle()`` waits until all its memory is in place (freezing a copy does that first).
    """
    if n < 1:
        raise ValueError(f"thaw_many: n must be >= 1, got {n}")
    image, criu = prepare_thaw(image)
    jobs = [RestoreJob(image, criu, lazy=lazy) for _ in range(n)]
    try:
        for job in jobs:
            job.start_daemon()
        while not all(job.daemon_ready() for job in jobs):
            time.sleep(0.001)
        for job in jobs:
            job.start()
    except BaseException:
        for job in jobs:
            job.abort()
        raise
    return finish_all(jobs)


def finish_each(jobs: Sequence[RestoreJob]) -> tuple[list[Proc], BaseException | None]:
    """Finish every started restore (criu has exited); after the first failure the rest are aborted. Returns the
    copies made and the first error (the caller closes the copies when there is one: :func:`thaw_many_error`)."""
    procs: list[Proc] = []
    first: BaseException | None = None
    for job in jobs:
        if first is not None:
            job.abort()
            continue
        try:
            procs.append(job.finish())
        except BaseException as e:  # keep going: every started restore must be waited for and cleaned up
            first = e
    return procs, first


def thaw_many_error(first: BaseException, made: int, started: int) -> BaseException:
    """The error of a ``thaw_many`` whose ``made`` copies of ``started`` were closed after ``first`` failed."""
    if started > 1 and isinstance(first, CriuError):
        err = type(first)(f"thaw_many: restore failed ({made} of {started} had succeeded and were "
                          f"closed): {first}", **_error_kwargs(first))
        err.__cause__ = first
        return err
    return first


def finish_all(jobs: Sequence[RestoreJob]) -> list[Proc]:
    procs, first = finish_each(jobs)
    if first is not None:
        for p in procs:
            p.close()
        err = thaw_many_error(first, len(procs), len(jobs))
        if err is first:
            raise first
        raise err from first
    return procs


def _error_kwargs(e: CriuError) -> dict[str, Any]:
    if isinstance(e, CriuRefused):
        return {"action": e.action, "returncode": e.returncode, "log_tail": e.log_tail, "log_path": e.log_path}
    if isinstance(e, ImageCorrupt):
        return {"path": e.path}
    if isinstance(e, TargetGone):
        return {"pid": e.pid, "returncode": e.returncode}
    return {}


def beam(
    proc: Proc, store_or_dir: ImageStore | str | os.PathLike[str], *, leave_running: bool = True
) -> Proc:
    """Freeze ``proc`` and thaw one copy of the image (the original keeps running unless ``leave_running=False``)."""
    image = freeze(proc, store_or_dir, leave_running=leave_running)
    return thaw(image)
