"""The one exception family of ``lean_env``.

Lean-reported failures (an unknown proof state, a tactic error) are *values* (``ErrorResponse``,
``Message(severity="error")``); the classes here are for transport failures and malformed data.
"""

from __future__ import annotations

__all__ = [
    "ReplError",
    "ReplTimeout",
    "ReplCrashed",
    "ReplOutOfMemory",
    "ProtocolError",
    "TranscriptError",
    "GoalParseError",
    "TermParseError",
]


class ReplError(Exception):
    """Base class: something went wrong talking to a repl process (or reading repl data)."""


class ProtocolError(ReplError):
    """Bytes or JSON that do not follow the repl protocol. ``raw`` holds the offending text."""

    def __init__(self, message: str, *, raw: str | bytes | None = None, request: str | None = None):
        super().__init__(message)
        self.raw = raw
        self.request = request


class ReplTimeout(ReplError):
    """A request got no complete reply in time; the process has been killed and reaped."""

    def __init__(self, message: str, *, timeout: float, request: str | None = None, pid: int | None = None):
        super().__init__(message)
        self.timeout = timeout
        self.request = request
        self.pid = pid


class ReplCrashed(ReplError):
    """The process exited or closed its stdout; ``returncode`` and ``stderr_tail`` say how."""

    def __init__(
        self,
        message: str,
        *,
        returncode: int | None,
        stderr_tail: str = "",
        request: str | None = None,
        pid: int | None = None,
    ):
        super().__init__(message)
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.request = request
        self.pid = pid


class ReplOutOfMemory(ReplCrashed):
    """The process went over its memory cap; it has been killed and reaped."""

    def __init__(
        self,
        message: str,
        *,
        limit: int,
        rss: int,
        returncode: int | None,
        stderr_tail: str = "",
        request: str | None = None,
        pid: int | None = None,
    ):
        super().__init__(message, returncode=returncode, stderr_tail=stderr_tail, request=request, pid=pid)
        self.limit = limit
        self.rss = rss


class TranscriptError(ReplError):
    """A transcript file (``X.in`` / ``X.expected.out``) that cannot be read or parsed."""


class GoalParseError(ReplError, ValueError):
    """Goal text that is not laid out as Lean prints goals. ``text`` holds the whole text that was parsed."""

    def __init__(self, message: str, *, text: str):
        super().__init__(f"{message} (in goal text {_excerpt(text)})")
        self.reason = message
        self.text = text


class TermParseError(GoalParseError):
    """A term outside the notation that :mod:`lean_env.terms` reads; ``offset`` is where in ``text`` it failed."""

    def __init__(self, message: str, *, text: str, offset: int):
        ReplError.__init__(self, f"{message} at offset {offset} (in term {_excerpt(text)})")
        self.reason = message
        self.text = text
        self.offset = offset


def _excerpt(text: str, limit: int = 300) -> str:
    return repr(text) if len(text) <= limit else repr(text[: limit - 3] + "...")
