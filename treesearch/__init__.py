"""treesearch -- the proof tree, the anyio search driver, and the backends.

    result = await search(theorem, backend="criu", proposer="...", selector="uct", budget=SearchBudget())
"""

from __future__ import annotations

from treesearch.budget import SearchBudget
from treesearch.driver import SearchDriver, SearchResult, default_value
from treesearch.errors import BackendError, RecheckError, StateLost, TheoremError, TreeError, TreeSearchError
from treesearch.search import search
from treesearch.theorem import Theorem
from treesearch.tree import ROOT, ProofTree, Status

__all__ = [
    "ProofTree", "SearchDriver", "SearchBudget", "SearchResult", "Theorem", "search", "default_value",
    "Status", "ROOT", "TreeSearchError", "TheoremError", "TreeError", "BackendError", "StateLost", "RecheckError",
]
