"""The search driver awaits the openai proposer through the seam: the random tiny model, kept to known tactics by
a GBNF grammar, drives ``treesearch.search`` (native backend, MiniLean repls) to proofs of bundled theorems that
the search re-checks in a fresh repl -- with several expansions' proposals in flight at once, merged by the
batch window, and no bridge between event loops."""

from __future__ import annotations

import anyio
import pytest

from policies import BestFirst
from policies.openai_compat import OpenAIProposer, tactic_grammar
from treesearch import SearchBudget, Theorem, search

THEOREMS = [  # from experiments/suites/01_basics.lean
    "theorem basic_id (p : Prop) : p → p := by sorry",
    "theorem basic_const (p q : Prop) : p → q → p := by sorry",
    "theorem basic_and_left (p q : Prop) : p ∧ q → p := by sorry",
]
TACTICS = ["intro h", "intro h1", "intro h2", "exact h", "exact h1", "exact h.1", "exact h.2", "constructor",
           "assumption", "trivial"]


@pytest.mark.timeout(300)
def test_the_random_model_with_a_grammar_proves_bundled_theorems(llama_server):
    proposer = OpenAIProposer(model=llama_server.model, base_url=llama_server.url, template="reprover",
                              n=16, n_per_request=1, max_tokens=32, stop=[],
                              extra_body={"grammar": tactic_grammar(TACTICS)})

    async def main():
        out = []
        for statement in THEOREMS:
            out.append(await search(
                statement, backend="native", backend_settings={"pool_size": 2, "tactic_timeout": 30.0},
                proposer=proposer, selector=BestFirst(), tactics_per_expansion=8,
                budget=SearchBudget(expansions=200, wall_seconds=120), max_in_flight=2, handle_sigint=False,
                batch_size=2, batch_wait=0.01))
        return out

    results = anyio.run(main)
    failed = [(s, r.stopped_by, r.expansions) for s, r in zip(THEOREMS, results) if not r.verified]
    assert not failed, f"not proved and re-checked (statement, stopped_by, expansions): {failed}"
    for r in results:
        assert r.proof and all(t in TACTICS for t in r.proof)
        assert r.batching["requests"] == r.expansions and r.batching["batches"] >= 1
        assert r.timings["policy"] > 0
    stats = proposer.stats()
    assert stats["errors"] == 0 and stats["model_calls"] > 0
    assert proposer._client is None  # each search closed the proposer's HTTP connections when it stopped


def test_the_driver_tells_the_proposer_the_theorem_the_path_and_the_parsed_goals():
    """What a proposer is told about each state: the theorem, the tactic path from the root, the goals as text
    and parsed (a goal the parser cannot read is left unparsed, never a failed node), the depth."""
    from lean_env.goals import Goal

    from policies import TacticProposal

    seen = []

    class Recording:
        async def propose(self, context, k, *, rng):
            seen.append(context)
            return [TacticProposal("intro h", 0.5), TacticProposal("intro  h", 0.25), TacticProposal("exact h", 0.25)]

    theorem = Theorem.parse("import Mathlib\ntheorem basic_id (p : Prop) : p → p := by sorry")
    result = anyio.run(lambda: search(
        theorem, backend="native", backend_settings={"pool_size": 1, "argv": _argv_with_init()},
        proposer=Recording(), selector=BestFirst(), tactics_per_expansion=2, max_in_flight=1,
        budget=SearchBudget(expansions=10, wall_seconds=60), handle_sigint=False))
    assert result.verified and result.proof == ["intro h", "exact h"]
    root, child = seen[:2]
    assert root.theorem_name == "basic_id" and root.statement == "theorem basic_id (p : Prop) : p → p"
    assert root.header == "import Mathlib" and root.path == () and root.depth == 0
    assert child.path == ("intro h",) and child.depth == 1 and child.goals == ("p : Prop\nh : p\n⊢ p",)
    assert isinstance(child.parsed_goals[0], Goal) and child.parsed_goals[0].target == "p"
    # "intro h" and "intro  h" are one tactic: its priors were added, then renormalised over the two kept
    edges = {e["tactic"]: e for e in result.tree.to_dict()["edges"]}
    assert set(edges) == {"intro h", "exact h"}


def _argv_with_init():
    from lean_env.repl_cmd import minilean_argv

    return minilean_argv(library_size=20, imports=("Mathlib",))


def test_a_goal_text_that_does_not_parse_is_left_unparsed():
    from treesearch.driver import _parsed

    good, bad, empty = _parsed(["p : Prop\n⊢ p", "no turnstile here", ""])
    assert good.target == "p" and bad is None and empty is None
