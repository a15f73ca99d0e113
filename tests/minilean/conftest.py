"""Fixtures for MiniLean tests: a real MiniLean process per test, small library."""

from __future__ import annotations

import pytest

from ml_repl import Repl


@pytest.fixture
def repl(tmp_path):
    r = Repl(tmp_path)
    yield r
    r.close()
