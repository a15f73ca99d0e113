"""Command lines and environments for repl processes; the CLI entry without a transcript."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lean_env.client import ReplClient
from lean_env.repl_cmd import lake_repl_argv, minilean_argv, repl_environment


def test_minilean_argv_flags():
    assert minilean_argv() == [sys.executable, "-m", "lean_env.minilean"]
    assert minilean_argv(library_size=500, imports=("Mathlib", "Aesop"))[3:] == [
        "--library-size", "500", "--modules", "Mathlib,Aesop"]
    with pytest.raises(ValueError, match="library_size must be >= 0"):
        minilean_argv(library_size=-1)


def test_lake_argv_and_environment():
    assert lake_repl_argv() == ["lake", "env", "repl"]
    assert lake_repl_argv(repl=".lake/build/bin/repl")[-1] == ".lake/build/bin/repl"
    assert lake_repl_argv(project="/p", repl="/p/.lake/build/bin/repl") == ["lake", "-d", "/p", "env",
                                                                          "/p/.lake/build/bin/repl"]
    env = repl_environment({"PATH": "/bin"}, LEAN_PATH="/x")
    assert env == {"PATH": "/bin", "UV_USE_IO_URING": "0", "LEAN_PATH": "/x"}


def test_spawned_processes_get_uv_use_io_uring_0_unless_set():
    show = [sys.executable, "-c",
            "import json, os, sys\nsys.stdin.readline(); sys.stdin.readline()\n"
            "print(json.dumps({'env': 0, 'messages': [{'severity': 'info', 'pos': {'line': 1, 'column': 0},"
            " 'data': os.environ.get('UV_USE_IO_URING', 'unset')}]}) + '\\n', flush=True)"]
    with ReplClient.spawn(show) as c:
        assert c.command("x").messages[0].data == "0"
    with ReplClient.spawn(show, env={"UV_USE_IO_URING": "1", "PATH": "/usr/bin:/bin"}) as c:
        assert c.command("x").messages[0].data == "1"


def test_cli_reports_a_missing_transcript_with_status_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "lean_env.cli", "transcript", "check", str(tmp_path / "nope.in")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "does not exist" in out.stderr


def test_bench_runs_and_reports_every_client():
    out = subprocess.run([sys.executable, "-m", "lean_env.cli", "bench", "repl", "--requests", "30"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for name in ("pipes", "sync", "async"):
        assert f"  {name}" in out.stdout
    assert "client overhead over bare pipes" in out.stdout
