"""The experiment runner's error: a run that could not start or could not write its output."""

from __future__ import annotations

__all__ = ["RunError"]


class RunError(RuntimeError):
    """An experiment that could not start or could not write its output; the message says what to do."""
