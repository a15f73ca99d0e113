"""The exception family of the ``policies`` package."""

from __future__ import annotations


class PolicyError(Exception):
    """Base class of every error raised by ``policies``."""


class StatsError(PolicyError, ValueError):
    """Node statistics that cannot describe a search node (negative counts, bad prior, ...)."""


class PolicyLoadError(PolicyError):
    """A policy spec (builtin name, ``pkg.mod:Class`` or entry point) could not be loaded."""


class GoalParseError(PolicyError, ValueError):
    """A pretty-printed goal or formula could not be read."""
