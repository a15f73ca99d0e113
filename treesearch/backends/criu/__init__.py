"""criu: every node of the search tree is a frozen repl process (see ``backend.py`` for the expansion modes).

One module per concept, composed by the backend:

=============  ===========================================================================================
``headers``    ``HeaderImages`` / ``Header``: the post-import header images a run's theorems share, with the
               copies thawed ahead of demand (an async ``criu_backend.aio.ClonePool`` per header image)
``images``     ``CriuHandle`` and ``ImageRefs``: which image holds which state (per-image reference counts, the
               session-to-image index), when an image may be removed, the lazy root's pinned first image
``clones``     ``WarmClones``: the clones a backend owns, idle (the ``keep_warm`` LRU) or busy
``backend``    ``CriuBackend`` (open / expand / replay / release / close) and its settings constants
``kind``       ``KIND``: the registry entry (``[backend] kind = "criu"``): settings, preflight, run context
=============  ===========================================================================================
"""

from __future__ import annotations

from treesearch.backends.criu.backend import CANCELLED_STEP_WAIT, EAGER, LAZY, PER_EXPANSION, PER_TACTIC, CriuBackend
from treesearch.backends.criu.clones import WarmClones
from treesearch.backends.criu.headers import Header, HeaderImages
from treesearch.backends.criu.images import CriuHandle, ImageRefs
from treesearch.backends.criu.kind import KIND, CriuKind

__all__ = ["CriuBackend", "CriuHandle", "HeaderImages", "Header", "ImageRefs", "WarmClones", "CriuKind", "KIND",
           "EAGER", "LAZY", "PER_EXPANSION", "PER_TACTIC", "CANCELLED_STEP_WAIT"]
