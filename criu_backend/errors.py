"""The criu_backend exception family.

``CriuError`` is the root.  Subclasses separate "criu ran and refused" (``CriuRefused``, with the exit code and
the tail of criu's own log) from problems found on our side before or after criu ran.
"""

from __future__ import annotations

from pathlib import Path


class CriuError(RuntimeError):
    """Any failure of criu_backend; the message says what failed, where, and what to do."""


class CriuPermissionError(CriuError):
    """The caller lacks the privileges CRIU needs (root, or CAP_SYS_ADMIN + CAP_CHECKPOINT_RESTORE)."""


class CriuRefused(CriuError):
    """criu ran and exited non-zero.  ``log_tail`` holds the end of its log."""

    def __init__(self, message: str, *, action: str, returncode: int, log_tail: str, log_path: Path | None):
        super().__init__(message)
        self.action = action
        self.returncode = returncode
        self.log_tail = log_tail
        self.log_path = log_path


class ImageCorrupt(CriuError):
    """An image directory is missing, truncated, altered, or not a cryo image (checked before restoring)."""

    def __init__(self, message: str, *, path: Path):
        super().__init__(message)
        self.path = path


class ImageStoreFull(CriuError):
    """The image store's byte budget or its filesystem has no room for another image."""


class TargetGone(CriuError):
    """The process to freeze exited before or during the freeze."""

    def __init__(self, message: str, *, pid: int, returncode: int | None = None):
        super().__init__(message)
        self.pid = pid
        self.returncode = returncode
