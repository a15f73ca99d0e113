"""Fixtures for lean_env tests: the recorded repl transcripts (required, never skipped) and small scripts."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def transcripts_dir(repl_transcripts: Path) -> Path:
    """The recorded repl transcripts in ``tests/data/repl-transcripts`` (the fixture fails when they are missing)."""
    return repl_transcripts


@pytest.fixture(scope="session")
def all_transcripts(transcripts_dir: Path) -> list[Path]:
    from lean_env.transcripts import find_transcripts

    found = find_transcripts(transcripts_dir)
    if len(found) < 40:
        pytest.fail(f"expected the repl's recorded transcripts under {transcripts_dir}, found {len(found)}")
    return found


@pytest.fixture
def script(tmp_path: Path):
    """Write a small Python program and return the argv that runs it."""

    def make(source: str, name: str = "peer.py") -> list[str]:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return [sys.executable, str(path)]

    return make
