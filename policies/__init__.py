"""policies: tactic proposers, selection rules and value estimates for cryo's proof search.

Selection math is pure (:mod:`policies.selection`); proposers read goals (:mod:`policies.proposers`);
:func:`load_policy` loads any of them by builtin name, ``pkg.mod:Class`` or entry point ``cryo.policies``.
The async seam the search driver awaits (:mod:`policies.seam`: contexts, batching, ``finalize``) is exported too.
"""

from policies.base import (
    NO_CHILD,
    ROOT_DEPTH,
    ROOT_LOG_PRIOR,
    ROOT_ORDER,
    UNVISITED,
    NodeStats,
    NodeStatus,
    Proposer,
    SelectionScope,
    Selector,
    TacticProposal,
    ValueFn,
)
from policies.errors import GoalParseError, PolicyError, PolicyLoadError, StatsError
from policies.formula import is_tautology, parse_formula, render
from policies.proposers import FixedTactics, PropositionalProposer
from policies.registry import BUILTINS, ENTRY_POINT_GROUP, load_policy
from policies.seam import (
    AsyncProposer,
    BatchWindow,
    ProposalContext,
    ProposalError,
    SyncProposerAdapter,
    as_async_proposer,
    finalize,
    normalise_tactic,
)
from policies.selection import (
    PUCT,
    UCT,
    UNVISITED_SCORE,
    BestFirst,
    BreadthFirst,
    RandomSelection,
    best_first_scores,
    breadth_first_scores,
    puct_scores,
    random_scores,
    select_index,
    uct_scores,
)
from policies.tautologies import Tautology, generate_tautologies
from policies.values import ConstantValue, GoalSizeValue

__all__ = [
    "NO_CHILD",
    "ROOT_DEPTH",
    "ROOT_LOG_PRIOR",
    "ROOT_ORDER",
    "UNVISITED",
    "UNVISITED_SCORE",
    "NodeStats",
    "NodeStatus",
    "SelectionScope",
    "TacticProposal",
    "Proposer",
    "Selector",
    "ValueFn",
    "PolicyError",
    "PolicyLoadError",
    "StatsError",
    "GoalParseError",
    "uct_scores",
    "puct_scores",
    "best_first_scores",
    "breadth_first_scores",
    "random_scores",
    "select_index",
    "UCT",
    "PUCT",
    "BestFirst",
    "BreadthFirst",
    "RandomSelection",
    "FixedTactics",
    "PropositionalProposer",
    "ConstantValue",
    "GoalSizeValue",
    "load_policy",
    "BUILTINS",
    "ProposalContext",
    "ProposalError",
    "AsyncProposer",
    "SyncProposerAdapter",
    "BatchWindow",
    "as_async_proposer",
    "finalize",
    "normalise_tactic",
    "ENTRY_POINT_GROUP",
    "parse_formula",
    "render",
    "is_tautology",
    "Tautology",
    "generate_tautologies",
]
