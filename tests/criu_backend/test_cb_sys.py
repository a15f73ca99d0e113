"""criu_backend._sys: waiting for a child through a pidfd (what every criu dump and restore is waited with)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from criu_backend import _sys


def test_wait_popen_returns_the_exit_code():
    p = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(7)"])
    assert _sys.wait_popen(p, 30.0) == 7
    assert p.returncode == 7  # reaped, like Popen.wait


def test_wait_popen_times_out_like_popen_wait_and_leaves_the_child_running():
    p = subprocess.Popen(["sleep", "30"])
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            _sys.wait_popen(p, 0.05)
        assert p.poll() is None
    finally:
        p.kill()
        assert _sys.wait_popen(p, None) == -9


def test_wait_popen_on_an_already_reaped_child():
    p = subprocess.Popen(["true"])
    p.wait()
    assert _sys.wait_popen(p, 1.0) == 0
