"""Fixtures for criu_backend tests (helpers live in cb_helpers.py)."""

from __future__ import annotations

import pytest

from criu_backend import ImageStore


@pytest.fixture
def store(criu):
    with ImageStore() as s:
        yield s
