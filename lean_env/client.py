"""A repl client over any process's pipes: sync (``ReplClient``) and async (``AsyncReplClient``, anyio).

The process is either spawned here (``spawn(argv)``: a plain subprocess in its own session, so a kill reaches
``lake``'s child too; ``UV_USE_IO_URING=0`` is added to its environment unless set) or attached
(``attach(proc)``: anything with ``.pid``, ``.stdin``/``.stdout``/``.stderr`` (int fds or objects with
``fileno()``), ``.poll()``, ``.kill()`` -- e.g. a ``criu_backend.Proc`` thawed by CRIU).  An attached process
is only killed on a transport failure, or on ``close()`` when attached with ``owned=True`` (then its own
``close()`` is called too).

What the repl lacks, the client adds:

* a per-request timeout: on expiry the process is killed and reaped and ``ReplTimeout`` names the request;
* a crash or EOF raises ``ReplCrashed`` with the exit code and the tail of stderr;
* a memory cap (``memory_limit`` bytes of resident memory of the process and its descendants, polled every
  ``memory_poll_interval`` seconds while a reply is awaited) kills a runaway process: ``ReplOutOfMemory``;
* a reply that is not valid JSON (or not a repl reply) raises ``ProtocolError`` carrying the raw text; the
  process is killed, since the stream can no longer be trusted.

After any of these the client is dead: further requests raise ``ReplCrashed`` saying why.  Lean-reported
failures are values (``ErrorResponse``, error ``Message``s), not exceptions.
"""

from __future__ import annotations

import errno
import fcntl
import math
import os
import select
import signal
import subprocess
import time
from typing import Any, Awaitable, Generic, Mapping, Self, Sequence, TypeVar

import anyio
import psutil

from lean_env.errors import ProtocolError, ReplCrashed, ReplError, ReplOutOfMemory, ReplTimeout
from lean_env.framing import FrameDecoder, decode_frame, encode_request
from lean_env.protocol import (
    Command,
    FileCommand,
    PickleEnvironment,
    PickleProofState,
    ProofStep,
    Request,
    Response,
    UnpickleEnvironment,
    UnpickleProofState,
    parse_response,
)
from lean_env.repl_cmd import CRIU_SAFE_ENV

__all__ = [
    "ReplClient",
    "AsyncReplClient",
    "ReplError",
    "ReplTimeout",
    "ReplCrashed",
    "ReplOutOfMemory",
    "ProtocolError",
    "DEFAULT_TIMEOUT",
    "NO_TIMEOUT",
]

DEFAULT_TIMEOUT = 120.0  # seconds per request
NO_TIMEOUT = math.inf  # pass as timeout= to wait forever
STDERR_TAIL_BYTES = 16 * 1024
_READ_CHUNK = 1 << 20
_IDLE_WAKE = 0.1  # seconds: while awaiting a reply, drain stderr at least this often
_CHILDREN_REFRESH = 1.0  # seconds between re-listing descendants for the memory cap
_REAP_TIMEOUT = 5.0
_CRASH_STDERR_WAIT = 0.5  # seconds to collect stderr after stdout closed
_CRASH_EXIT_WAIT = 2.0  # seconds to wait for the exit code before killing


def _fd(obj: Any, name: str) -> int | None:
    if obj is None:
        return None
    if isinstance(obj, int):
        return obj
    if hasattr(obj, "fileno"):
        return obj.fileno()
    raise TypeError(f"attach: .{name} must be an int fd or have fileno(), got {type(obj).__name__}")


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "exit code unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _label(request: Any) -> str:
    """A short text naming a request, for error messages."""
    if isinstance(request, (bytes, bytearray)):
        text = bytes(request).decode("utf-8", errors="replace").strip()
    elif isinstance(request, str):
        text = request
    else:
        text = encode_request(request).decode("utf-8").strip()
    text = text.replace("\n", "\\n")
    return text if len(text) <= 300 else text[:297] + "..."


class _LazyLabel:
    """The text naming a request, computed only when an error message needs it."""

    __slots__ = ("_data", "_text")

    def __init__(self, data: Any):
        self._data = data
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = _label(self._data)
        return self._text


class _Child:
    """Uniform handle over a spawned ``Popen`` or an attached process object."""

    __slots__ = ("proc", "pid", "stdin", "stdout", "stderr", "spawned", "owned", "_flags", "_group_killed")

    def __init__(self, proc: Any, *, spawned: bool, owned: bool):
        self.proc = proc
        self.pid: int = proc.pid
        self.stdin = _fd(proc.stdin, "stdin")
        self.stdout = _fd(proc.stdout, "stdout")
        self.stderr = _fd(getattr(proc, "stderr", None), "stderr")
        if self.stdin is None or self.stdout is None:
            raise TypeError("attach: the process needs .stdin and .stdout pipes")
        self.spawned = spawned
        self.owned = owned
        self._group_killed = False
        self._flags: dict[int, int] = {}
        for fd in (self.stdin, self.stdout, self.stderr):
            if fd is not None and fd not in self._flags:
                flags = fcntl.fcntl(fd, fcntl.F_GETFL)
                self._flags[fd] = flags
                fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)

    def poll(self) -> int | None:
        return self.proc.poll()

    def kill(self) -> None:
        """SIGKILL the process (and, when spawned here, its whole session: ``lake``'s child too)."""
        self.kill_group()
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass

    def kill_group(self) -> None:
        """SIGKILL the session we started (once: afterwards its id may be reused)."""
        if self.spawned and not self._group_killed:
            self._group_killed = True
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def wait_exit(self, timeout: float) -> int | None:
        """Poll for the exit status for up to ``timeout`` seconds; ``None`` if it is still running."""
        end = time.monotonic() + timeout
        pause = 0.0005
        while True:
            code = self.proc.poll()
            if code is not None or time.monotonic() >= end:
                return code
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def restore_flags(self) -> None:
        """Give attached fds back in blocking mode (they stay open: their owner closes them)."""
        for fd, flags in self._flags.items():
            try:
                fcntl.fcntl(fd, fcntl.F_SETFL, flags)
            except OSError:
                continue
        self._flags.clear()

    def release(self) -> None:
        """Close what we own: the Popen's pipes, or the attached process via its ``close()`` when owned."""
        if self.spawned:
            for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if f is not None:
                    f.close()
            self._flags.clear()
        elif self.owned and hasattr(self.proc, "close"):
            self._flags.clear()
            self.proc.close()
        else:
            self.restore_flags()


def _popen(argv: Sequence[str], cwd: str | os.PathLike | None, env: Mapping[str, str] | None) -> subprocess.Popen:
    argv = [os.fspath(a) for a in argv]
    if not argv:
        raise ValueError("spawn: empty command line")
    full_env = dict(os.environ if env is None else env)
    for key, value in CRIU_SAFE_ENV.items():
        full_env.setdefault(key, value)
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=full_env,
            bufsize=0,
            close_fds=True,
            start_new_session=True,
        )
    except OSError as e:
        raise ReplCrashed(
            f"could not start the repl {argv} (cwd {cwd or os.getcwd()}): {e}. Check the command and that it is "
            "installed (for Lean: a built repl, run in its Lake project or via `lake -d PROJECT env REPL`).",
            returncode=None,
        ) from e


class _Core:
    """State and bookkeeping shared by the sync and async clients (no waiting here)."""

    def __init__(
        self,
        child: _Child,
        *,
        timeout: float,
        memory_limit: int | None,
        memory_poll_interval: float,
        argv: Sequence[str] | None,
    ):
        if timeout is None or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds (or NO_TIMEOUT), got {timeout!r}")
        if memory_limit is not None and memory_limit <= 0:
            raise ValueError(f"memory_limit must be a positive number of bytes, got {memory_limit!r}")
        self._child = child
        self.timeout = timeout
        self.memory_limit = memory_limit
        self.memory_poll_interval = memory_poll_interval
        self.argv = list(argv) if argv is not None else None
        self._decoder = FrameDecoder()
        self._stderr_tail = bytearray()
        self._stderr_open = child.stderr is not None
        self._dead: str | None = None  # why the client can no longer be used
        self._closed = False
        self._ps: psutil.Process | None = None
        self._ps_children: list[psutil.Process] = []
        self._ps_children_at = -math.inf
        self._mem_checked_at = time.monotonic()
        self.requests_sent = 0

    @classmethod
    def _spawned(
        cls,
        argv: Sequence[str],
        cwd: str | os.PathLike | None,
        env: Mapping[str, str] | None,
        **knobs: Any,
    ) -> Self:
        return cls(_Child(_popen(argv, cwd, env), spawned=True, owned=True), argv=argv, **knobs)

    @classmethod
    def attach(
        cls,
        proc: Any,
        *,
        owned: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        memory_limit: int | None = None,
        memory_poll_interval: float = 0.05,
    ) -> Self:
        """Talk to an already running process over its pipes (see the module docstring)."""
        return cls(
            _Child(proc, spawned=False, owned=owned),
            timeout=timeout,
            memory_limit=memory_limit,
            memory_poll_interval=memory_poll_interval,
            argv=None,
        )

    # ---------------------------------------------------------------------------------------------- info

    @property
    def pid(self) -> int:
        return self._child.pid

    @property
    def process(self) -> Any:
        """The underlying process object (a ``Popen`` when spawned, the attached object otherwise)."""
        return self._child.proc

    @property
    def alive(self) -> bool:
        return self._dead is None and not self._closed and self._child.poll() is None

    def stderr_tail(self) -> str:
        """The last bytes the process wrote to stderr (read while awaiting replies), as text."""
        if not self._stderr_tail and callable(getattr(self._child.proc, "stderr_tail", None)):
            kept = self._child.proc.stderr_tail()  # e.g. criu_backend.Proc keeps its own tail
            return kept.decode("utf-8", errors="replace") if isinstance(kept, bytes) else str(kept)
        return self._stderr_tail.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("dead" if self._dead else "alive")
        return f"<{type(self).__name__} pid={self.pid} {state}>"

    # ----------------------------------------------------------------------------------------- plumbing

    def _where(self) -> str:
        what = f" ({' '.join(self.argv)})" if self.argv else ""
        return f"repl pid {self.pid}{what}"

    def _usable(self, label: str) -> None:
        if self._closed:
            raise ReplError(f"{self._where()}: client is closed; cannot send {label}")
        if self._dead is not None:
            raise ReplCrashed(
                f"{self._where()}: client unusable after an earlier failure ({self._dead}); cannot send {label}. "
                "Start a new repl.",
                returncode=self._child.poll(),
                stderr_tail=self.stderr_tail(),
                request=str(label),
                pid=self.pid,
            )

    def _keep_stderr(self, data: bytes) -> None:
        tail = self._stderr_tail
        tail += data
        if len(tail) > STDERR_TAIL_BYTES:
            del tail[: len(tail) - STDERR_TAIL_BYTES]

    def _drain_stderr(self) -> None:
        """Read whatever stderr has now (non-blocking)."""
        while self._stderr_open:
            try:
                data = os.read(self._child.stderr, _READ_CHUNK)  # type: ignore[arg-type]
            except BlockingIOError:
                return
            except OSError:
                self._stderr_open = False
                return
            if not data:
                self._stderr_open = False
                return
            self._keep_stderr(data)

    def _read_stdout(self) -> bool:
        """Read what stdout has now into the decoder; False on EOF."""
        while True:
            try:
                data = os.read(self._child.stdout, _READ_CHUNK)  # type: ignore[arg-type]
            except BlockingIOError:
                return True
            except OSError as e:
                if e.errno == errno.EBADF:
                    return False
                raise
            if not data:
                return False
            self._decoder.feed(data)
            if len(data) < _READ_CHUNK:
                return True

    def _write_some(self, data: memoryview) -> int:
        """Write what the pipe takes now; -1 when the reader is gone."""
        try:
            return os.write(self._child.stdin, data)  # type: ignore[arg-type]
        except BlockingIOError:
            return 0
        except (BrokenPipeError, ConnectionResetError):
            return -1

    def _rss(self) -> int:
        now = time.monotonic()
        try:
            if self._ps is None:
                self._ps = psutil.Process(self.pid)
            if now - self._ps_children_at > _CHILDREN_REFRESH:
                self._ps_children = self._ps.children(recursive=True)
                self._ps_children_at = now
            total = self._ps.memory_info().rss
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            return 0
        for c in self._ps_children:
            try:
                total += c.memory_info().rss
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue
        return total

    def _memory_due(self) -> bool:
        if self.memory_limit is None:
            return False
        now = time.monotonic()
        if now - self._mem_checked_at < self.memory_poll_interval:
            return False
        self._mem_checked_at = now
        return True

    def _wait_slice(self, deadline: float) -> float:
        """Seconds to wait for output before the next bookkeeping wake-up (never past the deadline)."""
        step = _IDLE_WAKE if self.memory_limit is None else min(_IDLE_WAKE, self.memory_poll_interval)
        return max(0.0, min(deadline - time.monotonic(), step))

    # -------------------------------------------------------------------------------------------- errors

    def _timeout_error(self, label: str, timeout: float) -> ReplTimeout:
        self._dead = f"request timed out after {timeout:g} s"
        return ReplTimeout(
            f"{self._where()}: no reply within {timeout:g} s to {label}; the process was killed. "
            "Give a larger timeout= if the request is legitimately slow.",
            timeout=timeout,
            request=str(label),
            pid=self.pid,
        )

    def _oom_error(self, label: str, rss: int, code: int | None) -> ReplOutOfMemory:
        self._dead = f"out of memory ({rss / 2**20:.0f} MiB > {self.memory_limit / 2**20:.0f} MiB)"  # type: ignore[operator]
        return ReplOutOfMemory(
            f"{self._where()}: used {rss / 2**20:.0f} MiB, over its memory cap of "
            f"{self.memory_limit / 2**20:.0f} MiB, while handling {label}; the process was killed "  # type: ignore[operator]
            f"({_describe_exit(code)}). Raise memory_limit= or avoid the request.",
            limit=self.memory_limit,  # type: ignore[arg-type]
            rss=rss,
            returncode=code,
            stderr_tail=self.stderr_tail(),
            request=str(label),
            pid=self.pid,
        )

    def _crash_error(self, label: str, what: str, code: int | None) -> ReplCrashed:
        self._dead = f"process {what} ({_describe_exit(code)})"
        tail = self.stderr_tail().rstrip()
        partial = self._decoder.pending().decode("utf-8", errors="replace").strip()
        text = f"{self._where()}: process {what} while handling {label} ({_describe_exit(code)})."
        text += "\n--- stderr tail ---\n" + (tail[-4000:] if tail else "(empty)")
        if partial:
            text += "\n--- unfinished reply on stdout ---\n" + partial[-2000:]
        return ReplCrashed(text, returncode=code, stderr_tail=tail, request=str(label), pid=self.pid)

    def _protocol_error(self, e: ProtocolError, label: str, raw: bytes) -> ProtocolError:
        self._dead = "protocol error"
        text = f"{self._where()}: {e} -- while handling {label}; the process was killed"
        if e.raw is None:  # valid JSON of the wrong shape: show it
            shown = raw.decode("utf-8", errors="replace")
            text += "\n--- raw reply ---\n" + (shown if len(shown) <= 2000 else shown[:2000] + " ...")
        return ProtocolError(text, raw=raw, request=str(label))

    def _decode(self, raw: bytes, label: str) -> Response:
        return parse_response(decode_frame(raw, request=label))


_R = TypeVar("_R")


class _Requests(Generic[_R]):
    """The request helpers, written once for both clients: each builds its request value and hands it to
    ``self.request`` -- which returns the reply (``ReplClient``) or an awaitable of it (``AsyncReplClient``)."""

    __slots__ = ()

    def request(self, request: Request | Mapping[str, Any], *, timeout: float | None = None) -> _R:
        raise NotImplementedError

    def command(
        self,
        cmd: str,
        env: int | None = None,
        *,
        all_tactics: bool | None = None,
        root_goals: bool | None = None,
        infotree: str | None = None,
        timeout: float | None = None,
    ) -> _R:
        """``{"cmd": cmd, "env": env, ...}``: run Lean commands (a fresh environment when ``env`` is None)."""
        request = Command(cmd=cmd, env=env, all_tactics=all_tactics, root_goals=root_goals, infotree=infotree)
        return self.request(request, timeout=timeout)

    def file(self, path: str | os.PathLike, env: int | None = None, *, timeout: float | None = None) -> _R:
        """``{"path": path}``: run a Lean file (relative to the repl's working directory)."""
        return self.request(FileCommand(path=os.fspath(path), env=env), timeout=timeout)

    def tactic(self, tactic: str, proof_state: int, *, timeout: float | None = None) -> _R:
        """``{"tactic": tactic, "proofState": proof_state}``."""
        return self.request(ProofStep(tactic=tactic, proof_state=proof_state), timeout=timeout)

    def pickle_to(
        self,
        path: str | os.PathLike,
        *,
        env: int | None = None,
        proof_state: int | None = None,
        timeout: float | None = None,
    ) -> _R:
        """Pickle environment ``env`` or proof state ``proof_state`` (exactly one) to ``path``."""
        if (env is None) == (proof_state is None):
            raise ValueError("pickle_to: give exactly one of env= or proof_state=")
        if env is not None:
            return self.request(PickleEnvironment(pickle_to=os.fspath(path), env=env), timeout=timeout)
        request = PickleProofState(pickle_to=os.fspath(path), proof_state=proof_state)  # type: ignore[arg-type]
        return self.request(request, timeout=timeout)

    def unpickle_env(self, path: str | os.PathLike, *, timeout: float | None = None) -> _R:
        """``{"unpickleEnvFrom": path}``."""
        return self.request(UnpickleEnvironment(unpickle_env_from=os.fspath(path)), timeout=timeout)

    def unpickle_proof_state(
        self, path: str | os.PathLike, env: int | None = None, *, timeout: float | None = None
    ) -> _R:
        """``{"unpickleProofStateFrom": path, "env": env}``."""
        return self.request(UnpickleProofState(unpickle_proof_state_from=os.fspath(path), env=env), timeout=timeout)


# ================================================================================================ sync client


class ReplClient(_Core, _Requests[Response]):
    """Blocking client. Use as a context manager; ``close()`` kills and reaps a process it owns."""

    @classmethod
    def spawn(
        cls,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        memory_limit: int | None = None,
        memory_poll_interval: float = 0.05,
    ) -> "ReplClient":
        """Start ``argv`` (its own session) and talk to it; ``env`` is the whole environment (None: inherit)."""
        return cls._spawned(argv, cwd, env, timeout=timeout, memory_limit=memory_limit,
                            memory_poll_interval=memory_poll_interval)

    # ------------------------------------------------------------------------------------------ requests

    def request(self, request: Request | Mapping[str, Any], *, timeout: float | None = None) -> Response:
        """Send one request and return the typed reply."""
        data = encode_request(request)
        label = _LazyLabel(data)
        raw = self.request_raw(data, timeout=timeout, label=label)
        try:
            return self._decode(raw, label)
        except ProtocolError as e:
            self._terminate()
            raise self._protocol_error(e, label, raw) from e

    def request_raw(self, data: bytes, *, timeout: float | None = None, label: Any = None) -> bytes:
        """Send request bytes as they are (they must end with a blank line); return the reply frame's bytes."""
        label = label if label is not None else _LazyLabel(data)
        self._usable(label)
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        self.requests_sent += 1
        try:
            self._write(memoryview(data), deadline, label, timeout)
            return self._read_frame(deadline, label, timeout)
        except BaseException:
            if self._dead is None:  # interrupted (KeyboardInterrupt...): the stream is mid-request
                self._dead = "interrupted mid-request"
            self._terminate()
            raise

    # ------------------------------------------------------------------------------------------- waiting

    def _poll(self, fds: list[tuple[int, int]], wait: float) -> list[tuple[int, int]]:
        poller = select.poll()
        for fd, mask in fds:
            poller.register(fd, mask)
        return poller.poll(max(0, math.ceil(wait * 1000)))

    def _check_memory(self, label: str) -> None:
        if self._memory_due():
            rss = self._rss()
            if rss > self.memory_limit:  # type: ignore[operator]
                code = self._terminate()
                raise self._oom_error(label, rss, code)

    def _write(self, data: memoryview, deadline: float, label: str, timeout: float) -> None:
        while data:
            n = self._write_some(data)
            if n < 0:
                raise self._crashed(label, "closed its stdin")
            data = data[n:]
            if not data:
                return
            if time.monotonic() >= deadline:
                self._terminate()
                raise self._timeout_error(label, timeout)
            fds = [(self._child.stdin, select.POLLOUT)]
            if self._stderr_open:
                fds.append((self._child.stderr, select.POLLIN))  # type: ignore[arg-type]
            self._poll(fds, self._wait_slice(deadline))
            self._drain_stderr()
            self._check_memory(label)

    def _read_frame(self, deadline: float, label: str, timeout: float) -> bytes:
        decoder = self._decoder
        stdout = self._child.stdout
        while True:
            frame = decoder.pop()
            if frame is not None:
                return frame
            fds = [(stdout, select.POLLIN)]
            if self._stderr_open:
                fds.append((self._child.stderr, select.POLLIN))  # type: ignore[arg-type]
            events = self._poll(fds, self._wait_slice(deadline))  # type: ignore[arg-type]
            for fd, _ in events:
                if fd == stdout:
                    if not self._read_stdout():
                        if (frame := decoder.pop()) is not None:
                            return frame
                        raise self._crashed(label, "closed its stdout")
                else:
                    self._drain_stderr()
            if not events:
                self._drain_stderr()
                if time.monotonic() >= deadline:
                    self._terminate()
                    raise self._timeout_error(label, timeout)
            self._check_memory(label)

    def _crashed(self, label: str, what: str) -> ReplCrashed:
        """Collect stderr and the exit status of a process that stopped talking; kill it if it lingers."""
        end = time.monotonic() + _CRASH_STDERR_WAIT
        while self._stderr_open and time.monotonic() < end:
            self._poll([(self._child.stderr, select.POLLIN)], end - time.monotonic())  # type: ignore[list-item]
            self._drain_stderr()
        code = self._child.wait_exit(_CRASH_EXIT_WAIT)
        if code is None:
            code = self._terminate()
        else:
            self._terminate()
        return self._crash_error(label, what, code)

    def _terminate(self) -> int | None:
        """Kill the process and reap it; return its exit status."""
        child = self._child
        code = child.poll()
        if code is None:
            child.kill()
            code = child.wait_exit(_REAP_TIMEOUT)
            if code is None:
                raise ReplError(f"{self._where()}: process did not exit {_REAP_TIMEOUT} s after SIGKILL")
        else:
            child.kill_group()
        return code

    # ------------------------------------------------------------------------------------------- closing

    def close(self) -> None:
        """Kill and reap the process if this client owns it, and close its pipes (idempotent)."""
        if self._closed:
            return
        self._closed = True
        child = self._child
        try:
            if child.owned or child.poll() is not None:
                self._terminate()
        finally:
            child.release()

    def __enter__(self) -> "ReplClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# =============================================================================================== async client


class AsyncReplClient(_Core, _Requests[Awaitable[Response]]):
    """anyio client: non-blocking fds awaited with ``anyio.wait_readable``/``wait_writable``.

    One request at a time per client (an ``anyio.Lock`` queues concurrent callers).  Cancelling a request
    whose bytes were all written leaves the process running and its reply *owed*: the next request (or
    :meth:`resync`) first reads and drops it, under that request's own timeout.  Cancelling a request half
    written kills and reaps the process (the stream is broken); either way the cancellation is re-raised.
    ``aclose()`` is shielded.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._lock = anyio.Lock()
        self.owed = 0  # replies of cancelled requests still to be read and dropped

    async def resync(self, timeout: float) -> bool:
        """Read and drop the replies owed by cancelled requests.  True when none is owed any more; False when
        they did not come within ``timeout`` or the process failed -- then it has been killed and reaped."""
        if not self.owed:
            return self.alive
        label = f"the reply owed by a cancelled request ({self.owed} owed)"
        async with self._lock:
            if self._dead is not None or self._closed:
                return False
            deadline = time.monotonic() + timeout
            try:
                await self._drop_owed(deadline, label, timeout)
            except ReplError:
                return False
            except BaseException:
                if self._dead is None:
                    self._dead = "interrupted while reading an owed reply"
                with anyio.CancelScope(shield=True):
                    await self._terminate()
                raise
        return self.alive

    async def _drop_owed(self, deadline: float, label: Any, timeout: float) -> None:
        while self.owed:
            await self._read_frame(deadline, label, timeout)
            self.owed -= 1

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        memory_limit: int | None = None,
        memory_poll_interval: float = 0.05,
    ) -> "AsyncReplClient":
        """Start ``argv`` (its own session) and talk to it; ``env`` is the whole environment (None: inherit)."""
        return cls._spawned(argv, cwd, env, timeout=timeout, memory_limit=memory_limit,
                            memory_poll_interval=memory_poll_interval)

    async def request(self, request: Request | Mapping[str, Any], *, timeout: float | None = None) -> Response:
        """Send one request and return the typed reply."""
        data = encode_request(request)
        label = _LazyLabel(data)
        raw = await self.request_raw(data, timeout=timeout, label=label)
        try:
            return self._decode(raw, label)
        except ProtocolError as e:
            with anyio.CancelScope(shield=True):
                await self._terminate()
            raise self._protocol_error(e, label, raw) from e

    async def request_raw(self, data: bytes, *, timeout: float | None = None, label: Any = None) -> bytes:
        """Send request bytes as they are (they must end with a blank line); return the reply frame's bytes."""
        label = label if label is not None else _LazyLabel(data)
        async with self._lock:
            self._usable(label)
            timeout = self.timeout if timeout is None else timeout
            deadline = time.monotonic() + timeout
            writing = written = False
            try:
                await self._drop_owed(deadline, label, timeout)
                self.requests_sent += 1
                writing = True
                await self._write(memoryview(data), deadline, label, timeout)
                written = True
                return await self._read_frame(deadline, label, timeout)
            except anyio.get_cancelled_exc_class():
                if self._dead is None and (written or not writing):
                    # The stream is whole: a request on the wire owes its reply, which is read and dropped first
                    # by the next request (a cancelled wait for an owed reply leaves it owed).
                    self.owed += written
                    raise
                if self._dead is None:  # cancelled half-way through writing: the stream is broken
                    self._dead = "cancelled mid-request"
                with anyio.CancelScope(shield=True):
                    await self._terminate()
                raise
            except BaseException:
                if self._dead is None:  # interrupted: the stream is mid-request
                    self._dead = "interrupted mid-request"
                with anyio.CancelScope(shield=True):
                    await self._terminate()
                raise

    # ------------------------------------------------------------------------------------------- waiting

    async def _check_memory(self, label: str) -> None:
        if self._memory_due():
            rss = self._rss()
            if rss > self.memory_limit:  # type: ignore[operator]
                code = await self._terminate()
                raise self._oom_error(label, rss, code)

    async def _write(self, data: memoryview, deadline: float, label: str, timeout: float) -> None:
        while data:
            n = self._write_some(data)
            if n < 0:
                raise await self._crashed(label, "closed its stdin")
            data = data[n:]
            if not data:
                return
            if time.monotonic() >= deadline:
                await self._terminate()
                raise self._timeout_error(label, timeout)
            with anyio.move_on_after(self._wait_slice(deadline)):
                await anyio.wait_writable(self._child.stdin)  # type: ignore[arg-type]
            self._drain_stderr()
            await self._check_memory(label)

    async def _read_frame(self, deadline: float, label: str, timeout: float) -> bytes:
        decoder = self._decoder
        stdout = self._child.stdout
        while True:
            frame = decoder.pop()
            if frame is not None:
                return frame
            readable = False
            with anyio.move_on_after(self._wait_slice(deadline)):
                await anyio.wait_readable(stdout)  # type: ignore[arg-type]
                readable = True
            if readable:
                if not self._read_stdout():
                    if (frame := decoder.pop()) is not None:
                        return frame
                    raise await self._crashed(label, "closed its stdout")
            self._drain_stderr()
            if not readable and time.monotonic() >= deadline:
                await self._terminate()
                raise self._timeout_error(label, timeout)
            await self._check_memory(label)

    async def _crashed(self, label: str, what: str) -> ReplCrashed:
        """Collect stderr and the exit status of a process that stopped talking; kill it if it lingers."""
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(_CRASH_STDERR_WAIT):
                while self._stderr_open:
                    await anyio.wait_readable(self._child.stderr)  # type: ignore[arg-type]
                    self._drain_stderr()
            code = await self._wait_exit(_CRASH_EXIT_WAIT)
            if code is None:
                code = await self._terminate()
            else:
                await self._terminate()
        return self._crash_error(label, what, code)

    async def _wait_exit(self, timeout: float) -> int | None:
        """Poll for the exit status without blocking the event loop; ``None`` if still running at timeout."""
        end = time.monotonic() + timeout
        pause = 0.0005
        while True:
            code = self._child.poll()
            if code is not None or time.monotonic() >= end:
                return code
            await anyio.sleep(pause)
            pause = min(pause * 2, 0.05)

    async def _terminate(self) -> int | None:
        """Kill the process and reap it; return its exit status."""
        child = self._child
        code = child.poll()
        if code is None:
            child.kill()
            code = await self._wait_exit(_REAP_TIMEOUT)
            if code is None:
                raise ReplError(f"{self._where()}: process did not exit {_REAP_TIMEOUT} s after SIGKILL")
        else:
            child.kill_group()
        return code

    # ------------------------------------------------------------------------------------------- closing

    async def aclose(self) -> None:
        """Kill and reap the process if this client owns it, and close its pipes (idempotent, shielded)."""
        if self._closed:
            return
        self._closed = True
        child = self._child
        with anyio.CancelScope(shield=True):
            try:
                if child.owned or child.poll() is not None:
                    await self._terminate()
            finally:
                child.release()

    async def __aenter__(self) -> "AsyncReplClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
