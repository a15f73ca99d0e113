"""End to end, ahead of the driver wiring: the random tiny model, kept to known tactics by a GBNF grammar,
drives the real treesearch driver (native backend, MiniLean repls) to proofs of bundled theorems that the
driver re-checks in a fresh repl.

Today's driver calls ``proposer.propose(goals, *, rng)`` synchronously, so this test bridges to the async
proposer through an anyio blocking portal (the proposer's own event loop in a thread).  That bridge blocks
the driver while the model answers -- exactly what the driver wiring of issue 12 removes; then this test
becomes ``cryo run`` with ``[policy] proposer = "openai"``.
"""

from __future__ import annotations

import anyio
import anyio.from_thread
import pytest

from policies import BestFirst
from policies.openai_compat import OpenAIProposer, tactic_grammar
from policies.seam import ProposalContext
from treesearch import SearchBudget, search

THEOREMS = [  # from experiments/suites/01_basics.lean
    "theorem basic_id (p : Prop) : p → p := by sorry",
    "theorem basic_const (p q : Prop) : p → q → p := by sorry",
    "theorem basic_and_left (p q : Prop) : p ∧ q → p := by sorry",
]
TACTICS = ["intro h", "intro h1", "intro h2", "exact h", "exact h1", "exact h.1", "exact h.2", "constructor",
           "assumption", "trivial"]


class PortalProposer:
    """A synchronous ``propose(goals, *, rng)`` over the async proposer, through a blocking portal."""

    def __init__(self, portal, proposer: OpenAIProposer, k: int) -> None:
        self.portal = portal
        self.proposer = proposer
        self.k = k

    def propose(self, goals, *, rng):
        ctx = ProposalContext(goals=tuple(goals))
        return self.portal.call(lambda: self.proposer.propose(ctx, self.k, rng=rng))


@pytest.mark.timeout(300)
def test_the_random_model_with_a_grammar_proves_bundled_theorems(llama_server):
    proposer = OpenAIProposer(model=llama_server.model, base_url=llama_server.url, template="reprover",
                              n=16, n_per_request=1, max_tokens=32, stop=[],
                              extra_body={"grammar": tactic_grammar(TACTICS)})
    results = []
    with anyio.from_thread.start_blocking_portal() as portal:
        try:
            shim = PortalProposer(portal, proposer, k=8)
            for statement in THEOREMS:
                result = anyio.run(lambda: search(
                    statement, backend="native", backend_settings={"pool_size": 1, "tactic_timeout": 30.0},
                    proposer=shim, selector=BestFirst(), tactics_per_expansion=8,
                    budget=SearchBudget(expansions=200, wall_seconds=120), max_in_flight=1, handle_sigint=False,
                ))
                results.append((statement, result))
        finally:
            portal.call(proposer.aclose)
    failed = [(s, r.stopped_by, r.expansions) for s, r in results if not r.verified]
    assert not failed, f"not proved and re-checked (statement, stopped_by, expansions): {failed}"
    for _s, r in results:
        assert r.proof and all(t in TACTICS for t in r.proof)
    stats = proposer.stats()
    assert stats["errors"] == 0 and stats["model_calls"] > 0
