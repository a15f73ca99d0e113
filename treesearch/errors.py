"""The treesearch exception family: every error this package raises derives from ``TreeSearchError``."""

from __future__ import annotations


class TreeSearchError(Exception):
    """Base of every error raised by ``treesearch``."""


class TheoremError(TreeSearchError, ValueError):
    """A theorem's source is not of the form ``theorem name binders : statement := by sorry``."""


class TreeError(TreeSearchError):
    """The proof tree was asked for something inconsistent (unknown node, bad saved file)."""


class BackendError(TreeSearchError):
    """A backend could not open a theorem, expand a node or replay a path."""


class StateLost(BackendError):
    """A node's state is gone (process died, image evicted) and must be rebuilt by replay."""


class RecheckError(TreeSearchError):
    """The fresh repl used to re-check a proof could not be run at all (not: the proof was rejected)."""
