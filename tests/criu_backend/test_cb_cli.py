"""`cryo freeze|thaw|beam|doctor` through `python -m criu_backend.cli`, on processes started the way a shell
would start them (not by criu_backend.spawn)."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cb_helpers import COUNTER, ask

CLI = [sys.executable, "-m", "criu_backend.cli"]
REPO = Path(__file__).resolve().parents[2]


class Pipes:
    """Line I/O over a Popen's stdin/stdout fds, shaped like a Proc for ask()."""

    def __init__(self, popen: subprocess.Popen):
        self.pid = popen.pid
        self.stdin = popen.stdin.fileno()
        self.stdout = popen.stdout.fileno()

    def stderr_tail(self) -> bytes:
        return b""


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=REPO, timeout=120, **kw)


@pytest.fixture
def shell_counter(criu):
    """A counter started like `setsid python -c ... &` from a shell: not a pid-namespace init, plain pipes."""
    p = subprocess.Popen(["setsid", sys.executable, "-c", COUNTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    yield p
    p.kill()
    p.wait()
    p.stdin.close()
    p.stdout.close()


def _thaw_foreground(*args: str) -> subprocess.Popen:
    return subprocess.Popen([*CLI, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=REPO)


def _stop(cli: subprocess.Popen) -> str:
    first = cli.stderr.readline().decode()  # "thawed ... (kill N to stop it)": the restore is complete
    cli.send_signal(signal.SIGINT)  # the CLI kills the copy and exits 130
    rc = cli.wait(60)
    err = first + cli.stderr.read().decode()
    for f in (cli.stdin, cli.stdout, cli.stderr):
        f.close()
    assert rc == 130, err
    return err


def test_freeze_by_pid_then_thaw_gives_independent_copy(shell_counter, tmp_path):
    orig = Pipes(shell_counter)
    assert ask(orig, "5") == "5"
    out = _cli("freeze", "--pid", str(shell_counter.pid), "--dir", str(tmp_path / "img"))
    assert out.returncode == 0, out.stderr
    assert "cryo thaw --dir" in out.stderr
    assert ask(orig, "1") == "6"  # still running
    cli = _thaw_foreground("thaw", "--dir", str(tmp_path / "img"))
    try:
        copy = Pipes(cli)  # the copy's stdin/stdout are re-attached to the CLI's
        assert ask(copy, "10") == "15"
        assert ask(orig, "1") == "7"
        assert ask(copy, "1") == "16"
    finally:
        err = _stop(cli)
    assert "own pid namespace" in err


def test_beam_with_kill(shell_counter, tmp_path):
    orig = Pipes(shell_counter)
    assert ask(orig, "2") == "2"
    cli = _thaw_foreground("beam", "--pid", str(shell_counter.pid), "--dir", str(tmp_path / "img"), "--kill")
    try:
        assert ask(Pipes(cli), "3") == "5"
        assert shell_counter.wait(30) == -signal.SIGKILL
    finally:
        _stop(cli)


def test_socket_to_elsewhere_is_refused_clearly(criu, tmp_path):
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        code = f"import socket,sys\ns=socket.create_connection(('127.0.0.1',{srv.getsockname()[1]}))\n" \
               "print('up',flush=True)\nsys.stdin.read()"
        p = subprocess.Popen(["setsid", sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert p.stdout.readline() == b"up\n"
            out = _cli("freeze", "--pid", str(p.pid), "--dir", str(tmp_path / "img"))
            assert out.returncode == 1
            assert "open TCP connection" in out.stderr and "nothing was lost" in out.stderr
            assert p.poll() is None
            assert not (tmp_path / "img").exists()
        finally:
            p.kill()
            p.wait()
            p.stdin.close()
            p.stdout.close()


def test_thaw_errors(criu, tmp_path):
    out = _cli("thaw", "--dir", str(tmp_path / "missing"))
    assert out.returncode == 1 and "does not exist" in out.stderr
    dead = subprocess.Popen(["true"])
    dead.wait()
    out = _cli("freeze", "--pid", str(dead.pid), "--dir", str(tmp_path / "x"))
    assert out.returncode == 1 and f"process {dead.pid} does not exist" in out.stderr


def test_doctor_ok_here_and_fails_with_fix(criu, tmp_path):
    out = _cli("doctor")
    assert out.returncode == 0, out.stdout
    assert "criu check: Looks good" in out.stdout and "UV_USE_IO_URING=0" in out.stdout
    out = _cli("doctor", env={**os.environ, "CRYO_CRIU": str(tmp_path / "nope")})
    assert out.returncode == 1
    assert "[FAIL] criu:" in out.stdout and "fix: run `make setup`" in out.stdout


def _pty_talk(master: int, line: str, want: str, timeout: float = 20.0) -> bytes:
    """Type a line on a terminal and collect output until the answer ``want`` appears on its own line."""
    import time

    os.write(master, (line + "\n").encode())
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            buf += os.read(master, 4096)
            if f"\r\n{want}\r\n".encode() in b"\r\n" + buf:
                return buf
    pytest.fail(f"no {want!r} on the terminal after {line!r}; got {buf!r}")


def test_shell_job_on_a_terminal(criu, tmp_path):
    """A process attached to a terminal (a shell job) is frozen with --shell-job and thawed onto the terminal of
    `cryo thaw`, independent of the original."""
    ma, sa = os.openpty()
    orig = subprocess.Popen(["setsid", "-c", sys.executable, "-c", COUNTER], stdin=sa, stdout=sa, stderr=sa)
    os.close(sa)
    mb = -1
    cli = None
    try:
        _pty_talk(ma, "5", "5")
        out = _cli("freeze", "--pid", str(orig.pid), "--dir", str(tmp_path / "img"))
        assert out.returncode == 0, out.stderr
        mb, sb = os.openpty()
        cli = subprocess.Popen(["setsid", "-c", *CLI, "thaw", "--dir", str(tmp_path / "img")], stdin=sb, stdout=sb,
                               stderr=sb, cwd=REPO)
        os.close(sb)
        _pty_talk(mb, "10", "15")  # the copy, on the new terminal, kept the state (5)
        _pty_talk(ma, "1", "6")  # the original goes on by itself
    finally:
        if cli is not None:
            cli.send_signal(signal.SIGINT)
            assert cli.wait(30) == 130
        orig.kill()
        orig.wait()
        for fd in (ma, mb):
            if fd >= 0:
                os.close(fd)
