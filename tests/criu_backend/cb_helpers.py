"""Helpers for criu_backend tests: a tiny stateful counter process and a line-oriented ask()."""

from __future__ import annotations

import os
import select
import sys

import pytest


# Reads integers, one per line; answers the running total.  "pid" answers its own pid; "err N" writes N bytes
# to stderr and then answers "ok".
COUNTER = r"""
import os, sys
total = 0
for line in sys.stdin:
    word = line.strip()
    if word == "pid":
        out = str(os.getpid())
    elif word.startswith("err "):
        n = int(word.split()[1])
        chunk = b"e" * 4095 + b"\n"
        for _ in range(n // 4096):
            sys.stderr.buffer.write(chunk)
        sys.stderr.buffer.write(b"END-OF-STDERR\n")
        sys.stderr.flush()
        out = "ok"
    elif word.startswith("alloc "):
        blob = bytearray(int(word.split()[1]) * 1024 * 1024)
        for i in range(0, len(blob), 4096):
            blob[i] = 1
        out = "ok"
    else:
        total += int(word)
        out = str(total)
    sys.stdout.write(out + "\n")
    sys.stdout.flush()
"""

COUNTER_ARGV = [sys.executable, "-c", COUNTER]


def ask(proc, line: str, *, timeout: float = 20.0) -> str:
    """Send one line, return the one-line answer (fails the test on a hang or EOF)."""
    os.write(proc.stdin, (line + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            pytest.fail(f"no answer to {line!r} from pid {proc.pid} within {timeout} s")
        chunk = os.read(proc.stdout, 4096)
        if not chunk:
            pytest.fail(f"pid {proc.pid} closed stdout after {line!r}; stderr: {proc.stderr_tail()[-500:]!r}")
        buf += chunk
    return buf.decode().strip()
