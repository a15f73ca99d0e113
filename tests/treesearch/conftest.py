"""Fixtures for treesearch tests: small theorems, fixed tactics, and a per-test leak check."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from treesearch import Theorem

AND_INTRO = Theorem("theorem and_intro (p q : Prop) (hp : p) (hq : q) : p ∧ q := by sorry")
AND_INTRO_TACTICS = ["constructor", "exact hp", "exact hq"]

AND_COMM = Theorem("theorem and_comm' (p q : Prop) : p ∧ q → q ∧ p := by sorry")
AND_COMM_TACTICS = ["intro h", "constructor", "exact h.right", "exact h.left", "exact h.2", "exact h.1"]

IMP_TRANS = Theorem("theorem imp_trans' (p q r : Prop) : (p → q) → (q → r) → p → r := by sorry")
IMP_TRANS_TACTICS = ["intro hpq hqr hp", "apply hqr", "apply hpq", "exact hp", "intro h"]

SUITE = [(AND_INTRO, AND_INTRO_TACTICS), (AND_COMM, AND_COMM_TACTICS), (IMP_TRANS, IMP_TRANS_TACTICS)]


def our_children() -> list[str]:
    """Live descendants of this test process (zombies excluded)."""
    rows = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                rows.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    return rows


@pytest.fixture
def no_leaks():
    """After the test: no child process alive and nothing left under $CRYO_IMAGE_ROOT."""
    root = Path(os.environ["CRYO_IMAGE_ROOT"])
    before = set(os.listdir(root)) if root.exists() else set()
    yield
    import time

    deadline = time.monotonic() + 5
    while our_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert our_children() == []
    after = set(os.listdir(root)) if root.exists() else set()
    assert after - before == set(), f"left under {root}: {sorted(after - before)}"
