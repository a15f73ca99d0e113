"""The client talking to the embedded prover (python -m lean_env.minilean), and `transcript check` on it."""

from __future__ import annotations

import anyio

from lean_env.client import AsyncReplClient, ReplClient
from lean_env.judge import canonical_goals, judge_step
from lean_env.protocol import ErrorResponse, ProofStepResponse
from lean_env.repl_cmd import minilean_argv
from lean_env.transcripts import check_transcripts

THEOREM = "theorem swap (p q : Prop) (h : p ∧ q) : q ∧ p := by sorry"


def test_sync_client_proves_a_theorem_with_minilean(tmp_path):
    with ReplClient.spawn(minilean_argv(), cwd=tmp_path, timeout=60) as c:
        opened = c.command(THEOREM)
        assert judge_step(opened).ok and len(opened.sorries) == 1
        root = opened.sorries[0].proof_state
        split = c.tactic("constructor", root)
        assert isinstance(split, ProofStepResponse) and judge_step(split).ok and not judge_step(split).proved
        assert canonical_goals(split.goals) == ("p : Prop\nq : Prop\nh : p ∧ q\n⊢ q",
                                                "p : Prop\nq : Prop\nh : p ∧ q\n⊢ p")
        bad = c.tactic("exact h.1", split.proof_state)
        assert not judge_step(bad).ok
        left = c.tactic("exact h.2", split.proof_state)
        done = c.tactic("exact h.1", left.proof_state)
        assert judge_step(done).proved
        assert isinstance(c.tactic("rfl", 999), ErrorResponse)
        # pickling a proof state into the working directory and loading it back
        assert isinstance(c.pickle_to("swap.olean", proof_state=left.proof_state), ProofStepResponse)
        assert (tmp_path / "swap.olean").exists()
        back = c.unpickle_proof_state("swap.olean")
        assert isinstance(back, ProofStepResponse) and back.goals == left.goals


def test_async_client_runs_minilean_processes_side_by_side(tmp_path):
    async def prove(results, i):
        async with await AsyncReplClient.spawn(minilean_argv(), cwd=tmp_path, timeout=60) as c:
            opened = await c.command(THEOREM)
            ps = opened.sorries[0].proof_state
            step = await c.tactic("exact ⟨h.2, h.1⟩", ps)
            results[i] = judge_step(step)

    async def main():
        results = {}
        async with anyio.create_task_group() as tg:
            for i in range(3):
                tg.start_soon(prove, results, i)
        return results

    results = anyio.run(main)
    assert all(v.proved for v in results.values()) and len(results) == 3


def test_transcript_check_passes_on_minilean_for_core_transcripts(transcripts_dir):
    names = ["proof_step", "readme", "proof_branching2", "unknown_proof_state", "invalid_line_break"]
    results = check_transcripts([transcripts_dir / n for n in names], timeout=60)
    failing = {r.transcript.name: [(x.error, x.diff) for x in r.results if not x.ok] for r in results if not r.ok}
    assert not failing, failing
