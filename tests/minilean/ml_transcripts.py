"""Run a repl transcript (X.in) through a MiniLean process and compare with X.expected.out as JSON values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def split_frames(text: str) -> list[str]:
    """Blank-line separated frames (the repl's framing)."""
    frames, cur = [], []
    for line in text.splitlines():
        if line.strip() == "":
            if cur:
                frames.append("\n".join(cur))
                cur = []
        else:
            cur.append(line)
    if cur:
        frames.append("\n".join(cur))
    return frames


def expected_values(path: Path) -> list:
    return [json.loads(f) for f in split_frames(path.read_text(encoding="utf-8"))]


def run_minilean_raw(in_text: str, *, cwd: Path, library_size: int = 20, timeout: float = 60.0
                     ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lean_env.minilean", "--library-size", str(library_size)],
                          input=in_text, capture_output=True, text=True, cwd=cwd, timeout=timeout, encoding="utf-8")


def run_minilean(in_text: str, *, cwd: Path, library_size: int = 20, timeout: float = 60.0) -> tuple[list, str]:
    proc = run_minilean_raw(in_text, cwd=cwd, library_size=library_size, timeout=timeout)
    return [json.loads(f) for f in split_frames(proc.stdout)], proc.stderr


def diff(expected: list, got: list) -> list[str]:
    """Human-readable differences between two reply lists (dict key order ignored)."""
    out = []
    for i in range(max(len(expected), len(got))):
        e = expected[i] if i < len(expected) else None
        g = got[i] if i < len(got) else None
        if e != g:
            out.append(f"reply {i}:\n  expected {json.dumps(e, ensure_ascii=False)}\n  got      "
                       f"{json.dumps(g, ensure_ascii=False)}")
    return out
