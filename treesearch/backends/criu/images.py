"""Image references of the criu backend: which frozen image holds which state, and when an image may go.

A state is a ``CriuHandle``: the image it was frozen into (``None``: not frozen yet, or lost), its proof state id
there, a serial, and the *session* -- one run of one clone -- that made it. A clone restored from image I that
ran sessions s1, s2 and is frozen again into J holds every state of I and of s1, s2; so a state whose own image
was evicted is found in any later image frozen from a clone that held its session.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from criu_backend import Image

from treesearch.backends.base import Kind

__all__ = ["CriuHandle", "ImageRefs", "ROOT_SERIAL", "NO_SESSION"]

ROOT_SERIAL = 0
"""The serial of the root's handle (the root is never released)."""
NO_SESSION = 0
"""The session of a handle no live clone holds (made in a clone that died)."""


@dataclass(frozen=True)
class CriuHandle:
    """A state: the image holding it (``None``: not frozen yet, or lost), its proof state id there, and the
    run (``session``) of the clone that made it: a live clone that ran that session still holds the state."""

    image: Image | None
    proof_state: int
    serial: int
    session: int = NO_SESSION


class ImageRefs:
    """The per-image handle reference counts, the session-to-image index and the lazy root's first image.

    Invariants:

    * ``refs[path]``: handles on the image at ``path`` made and not yet released (the root's handle is never
      counted: it is never released). When it drops to 0 the image is removed -- unless a restore holds it
      (pinned) or an image-less state of one of its sessions still needs it (then the store's LRU budget
      evicts it later).
    * ``sessions_in(image)``: the sessions whose states an image holds; ``image_of(handle)``: the handle's own
      image, else the newest live image frozen from a clone that held its session.
    * ``unfrozen[session]``: unreleased OPEN handles of a session made without an image; a clone holding such a
      session must be frozen before it is ended (``only_in_clone``).
    * ``root_image``: the first image frozen from a clone holding the lazy root's session, pinned once (the
      floor of eviction and replay, as an eager root's image is).
    """

    def __init__(self) -> None:
        self._serial = itertools.count(ROOT_SERIAL + 1)
        self._refs: dict[str, int] = {}  # image path -> handles on it not yet released
        self._released: set[int] = set()  # serials
        self._image_sessions: dict[str, frozenset[int]] = {}  # image path -> sessions whose states it holds
        self._session_images: dict[int, list[Image]] = {}  # session -> images frozen from clones holding it
        self._unfrozen: dict[int, int] = {}  # session -> unreleased open handles made without an image
        self.root_image: Image | None = None

    # ------------------------------------------------------------------ recording
    def frozen(self, image: Image, sessions: Iterable[int], *, root: CriuHandle | None) -> None:
        """``image`` was frozen from a clone holding ``sessions``; pin it as the root's image if it is the first
        one holding the (lazy, image-less) ``root``."""
        sessions = frozenset(sessions)
        self._image_sessions[str(image.path)] = sessions
        for s in sessions:
            self._session_images.setdefault(s, []).append(image)
        if root is not None and root.image is None and root.session in sessions and self.root_image is None:
            image.pin()
            self.root_image = image

    def new_handle(self, image: Image | None, proof_state: int, session: int, *,
                   kind: Kind = Kind.OPEN) -> CriuHandle:
        """A handle on a new state, counted against its image (or as unfrozen in its session)."""
        if image is not None:
            key = str(image.path)
            self._refs[key] = self._refs.get(key, 0) + 1
        elif kind is Kind.OPEN and session != NO_SESSION:
            self._unfrozen[session] = self._unfrozen.get(session, 0) + 1
        return CriuHandle(image, proof_state, next(self._serial), session)

    def root_handle(self, image: Image | None, proof_state: int, session: int) -> CriuHandle:
        """The root's handle; a lazy root (no image) lives only in its clone until that clone is frozen."""
        if image is None:
            self._unfrozen[session] = 1
        return CriuHandle(image, proof_state, ROOT_SERIAL, session)

    # ------------------------------------------------------------------ lookup
    def image_of(self, handle: CriuHandle) -> Image | None:
        """An image holding ``handle``'s state: its own, else one frozen later from a clone that held it."""
        if handle.image is not None and not handle.image.removed:
            return handle.image
        return self.session_image(handle.session)

    def session_image(self, session: int) -> Image | None:
        """The newest live image frozen from a clone that held ``session``."""
        for image in reversed(self._session_images.get(session, ())):
            if not image.removed:
                return image
        return None

    def sessions_in(self, image: Image, *, default: int) -> set[int]:
        """The sessions whose states ``image`` holds (``{default}`` for an image frozen elsewhere)."""
        return set(self._image_sessions.get(str(image.path), frozenset({default})))

    def only_in_clone(self, sessions: Iterable[int]) -> bool:
        """Whether a clone holding ``sessions`` holds states found in no image (freeze it before ending it)."""
        return any(self._unfrozen.get(s, 0) > 0 and self.session_image(s) is None for s in sessions)

    # ------------------------------------------------------------------ release
    def release(self, handle: CriuHandle) -> None:
        """Drop a (non-root) handle's claim on its image; the image is removed when no unreleased handle refers to
        it. Idempotent per handle."""
        if handle.serial in self._released:
            return
        self._released.add(handle.serial)
        if handle.image is None:
            if self._unfrozen.get(handle.session, 0) > 0:
                self._unfrozen[handle.session] -= 1
            return
        key = str(handle.image.path)
        left = self._refs.get(key, 1) - 1
        if left > 0:
            self._refs[key] = left
            return
        self._refs.pop(key, None)
        image = handle.image
        # Other states may live in this image too (those of its clone's earlier sessions); while a thaw holds
        # it (pinned) or an image-less state needs it, the store's LRU budget evicts it later instead.
        if image.removed or image.pins or any(self._unfrozen.get(s, 0) > 0
                                              for s in self._image_sessions.get(key, ())):
            return
        self._image_sessions.pop(key, None)
        image.remove()
