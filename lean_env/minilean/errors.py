"""MiniLean's exception family."""

from __future__ import annotations


class MiniLeanError(Exception):
    """Base of every error MiniLean raises."""


class ParseError(MiniLeanError):
    """Text that the parser rejects, at codepoint ``offset`` of the parsed text."""

    def __init__(self, message: str, offset: int, end: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.end = offset if end is None else end


class ElabError(MiniLeanError):
    """An elaboration or tactic failure with the Lean-style message and source range (offsets or None)."""

    def __init__(self, message: str, start: int | None = None, end: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end


class AbortTactic(MiniLeanError):
    """Internal: abort the current tactic block after its error was already logged."""
