"""The async proposer seam: contexts, finalize, the sync adapter off the event loop, the batching window."""

from __future__ import annotations

import threading
import time

import anyio
import numpy as np
import pytest

from policies import FixedTactics, PolicyError, TacticProposal
from policies.errors import GoalParseError, StatsError
from policies.seam import (
    BatchWindow,
    ProposalContext,
    ProposalError,
    SyncProposerAdapter,
    as_async_proposer,
    finalize,
    normalise_tactic,
)

CTX = ProposalContext(theorem_name="t", statement="theorem t (p : Prop) : p → p", goals=["p : Prop\n⊢ p → p"])


def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# ------------------------------------------------------------------ ProposalContext
def test_context_freezes_lists_and_defaults_depth():
    ctx = ProposalContext(theorem_name="t", path=["intro h", "exact h"], goals=["⊢ p", "⊢ q"])
    assert ctx.path == ("intro h", "exact h") and ctx.goals == ("⊢ p", "⊢ q")
    assert ctx.depth == 2
    assert ctx.state == "⊢ p\n\n⊢ q"
    assert ctx.proof_before == "intro h\nexact h"
    assert ctx.parsed_goals is None
    assert hash(ctx) == hash(ProposalContext(theorem_name="t", path=("intro h", "exact h"), goals=("⊢ p", "⊢ q")))
    with pytest.raises(StatsError, match="sequence of strings"):
        ProposalContext(goals="⊢ p")
    with pytest.raises(StatsError, match="depth"):
        ProposalContext(depth=-1)


# ------------------------------------------------------------------ finalize
def test_finalize_dedups_on_whitespace_adds_priors_truncates_and_renormalises():
    props = [
        TacticProposal("intro  h", 0.2),
        TacticProposal("simp", 0.3),
        TacticProposal("intro h\n", 0.25),   # same tactic as the first up to whitespace
        TacticProposal("rfl", 0.15),
        TacticProposal("omega", 0.1),
    ]
    out = finalize(props, 2)
    assert [p.tactic for p in out] == ["intro  h", "simp"]  # first spelling kept; 0.45 > 0.3
    assert out[0].prior == pytest.approx(0.45 / 0.75) and out[1].prior == pytest.approx(0.3 / 0.75)
    assert sum(p.prior for p in out) == pytest.approx(1.0)
    assert normalise_tactic("  rcases h with\n ⟨a,  b⟩ ") == "rcases h with ⟨a, b⟩"


def test_finalize_ties_keep_order_zero_priors_become_uniform_and_bad_k_is_refused():
    out = finalize([TacticProposal("a", 0.0), TacticProposal("b", 0.0), TacticProposal("c", 0.0)], 2)
    assert [(p.tactic, p.prior) for p in out] == [("a", 0.5), ("b", 0.5)]
    assert finalize([], 3) == []
    for bad in (0, -1, 1.5, True):
        with pytest.raises(StatsError, match="int >= 1"):
            finalize([TacticProposal("a", 1.0)], bad)


# ------------------------------------------------------------------ sync adapter
class SlowSync:
    """A synchronous proposer that blocks its thread, as a CPU-bound or blocking-I/O proposer would."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.threads: set[int] = set()

    def propose(self, goals, *, rng):
        self.threads.add(threading.get_ident())
        if "bad" in goals[0]:
            raise GoalParseError(f"cannot read {goals[0]!r}")
        time.sleep(self.seconds)
        return [TacticProposal("intro h", 0.5), TacticProposal("intro   h", 0.3), TacticProposal("rfl", 0.2)]


def test_sync_adapter_runs_off_the_event_loop_and_finalizes():
    slow = SlowSync(0.3)
    adapter = as_async_proposer(slow)
    assert isinstance(adapter, SyncProposerAdapter)
    ticks = []

    async def main():
        async def ticker():
            for _ in range(100):
                ticks.append(time.monotonic())
                await anyio.sleep(0.01)

        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            t0 = time.monotonic()
            out = await adapter.propose(CTX, 5, rng=rng())
            t1 = time.monotonic()
            tg.cancel_scope.cancel()
        return out, t0, t1

    out, t0, t1 = anyio.run(main)
    assert [(p.tactic, round(p.prior, 6)) for p in out] == [("intro h", 0.8), ("rfl", 0.2)]
    during = [t for t in ticks if t0 <= t <= t1]
    assert t1 - t0 >= 0.3
    assert len(during) >= 10, f"the event loop ticked only {len(during)} times in {t1 - t0:.2f}s: it was blocked"
    assert threading.main_thread().ident not in slow.threads


def test_sync_adapter_one_bad_context_fails_alone_and_existing_proposers_work_unchanged():
    adapter = SyncProposerAdapter(SlowSync(0.0))
    bad = ProposalContext(goals=["bad goal"])
    results = anyio.run(lambda: adapter.propose_many([CTX, bad, CTX], 1, rng=rng()))
    assert [p.tactic for p in results[0]] == ["intro h"] and results[0][0].prior == pytest.approx(1.0)
    assert isinstance(results[1], GoalParseError) and "bad goal" in str(results[1])
    assert results[2] == results[0]
    with pytest.raises(GoalParseError):
        anyio.run(lambda: adapter.propose(bad, 1, rng=rng()))

    fixed = as_async_proposer(FixedTactics(["rfl", "simp", "rfl", "omega"]))
    out = anyio.run(lambda: fixed.propose(CTX, 2, rng=rng()))
    assert [p.tactic for p in out] == ["rfl", "simp"] and sum(p.prior for p in out) == pytest.approx(1.0)


def test_as_async_proposer_refuses_non_proposers():
    with pytest.raises(PolicyError, match="not a proposer"):
        as_async_proposer(object())


# ------------------------------------------------------------------ batching window
class Recorder:
    """An async proposer that records the contexts of every call and takes ``seconds`` per call."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.calls: list[list[str]] = []
        self.seconds = seconds
        self.in_flight = 0
        self.peak = 0

    async def propose_many(self, contexts, k, *, rng):
        self.calls.append([c.theorem_name for c in contexts])
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await anyio.sleep(self.seconds)
        finally:
            self.in_flight -= 1
        out = []
        for c in contexts:
            if c.theorem_name == "fail":
                out.append(ProposalError("the model server sent a broken reply for 'fail'"))
            else:
                out.append(finalize([TacticProposal(f"{c.theorem_name}-{i}", 1.0 / (i + 1)) for i in range(k + 2)], k))
        return out


def _ctx(name: str) -> ProposalContext:
    return ProposalContext(theorem_name=name, goals=["⊢ p"])


def test_batch_window_merges_concurrent_calls_up_to_max_batch():
    inner = Recorder(0.05)
    results = {}

    async def main():
        async with BatchWindow(inner, max_batch=4, max_wait=0.2) as window:
            async def one(i):
                results[i] = await window.propose(_ctx(f"s{i}"), 3, rng=rng())

            async with anyio.create_task_group() as tg:
                for i in range(10):
                    tg.start_soon(one, i)
            return window.stats()

    t0 = time.monotonic()
    stats = anyio.run(main)
    wall = time.monotonic() - t0
    assert sorted(len(c) for c in inner.calls) == [2, 4, 4]
    assert sorted(n for c in inner.calls for n in c) == sorted(f"s{i}" for i in range(10))
    for i in range(10):
        assert [p.tactic for p in results[i]] == [f"s{i}-0", f"s{i}-1", f"s{i}-2"]
        assert sum(p.prior for p in results[i]) == pytest.approx(1.0)
    assert stats["batches"] == 3 and stats["requests"] == 10 and stats["largest_batch"] == 4
    # The two full batches closed at once; only the last waited for max_wait, and batches overlapped.
    assert wall < 0.2 + 0.05 * 3, wall
    assert inner.peak >= 2


def test_batch_window_wait_bound_separates_k_and_fails_items_alone():
    inner = Recorder(0.0)

    async def main():
        async with BatchWindow(inner, max_batch=64, max_wait=0.1) as window:
            t0 = time.monotonic()
            lone = await window.propose(_ctx("lone"), 1, rng=rng())
            lone_wait = time.monotonic() - t0
            out = {}

            async def one(name, k):
                try:
                    out[name] = await window.propose(_ctx(name), k, rng=rng())
                except ProposalError as e:
                    out[name] = e

            async with anyio.create_task_group() as tg:
                tg.start_soon(one, "a", 2)
                tg.start_soon(one, "fail", 2)
                tg.start_soon(one, "b", 5)
            return lone, lone_wait, out

    lone, lone_wait, out = anyio.run(main)
    assert [p.tactic for p in lone] == ["lone-0"]
    assert 0.09 <= lone_wait < 0.5, lone_wait
    assert isinstance(out["fail"], ProposalError) and "broken reply" in str(out["fail"])
    assert len(out["a"]) == 2 and len(out["b"]) == 5
    assert sorted(map(sorted, inner.calls)) == [["a", "fail"], ["b"], ["lone"]]


def test_batch_window_delivers_a_raised_error_to_every_caller_and_needs_opening():
    class Broken:
        async def propose_many(self, contexts, k, *, rng):
            raise ProposalError("server gone")

    async def main():
        errors = []
        async with BatchWindow(Broken(), max_batch=8, max_wait=0.05) as window:
            async def one(i):
                try:
                    await window.propose(_ctx(f"s{i}"), 2, rng=rng())
                except ProposalError as e:
                    errors.append(str(e))

            async with anyio.create_task_group() as tg:
                for i in range(3):
                    tg.start_soon(one, i)
        return errors

    assert anyio.run(main) == ["server gone"] * 3
    with pytest.raises(PolicyError, match="not open"):
        anyio.run(lambda: BatchWindow(Recorder()).propose(_ctx("x"), 1, rng=rng()))


def test_batch_window_over_the_sync_adapter():
    async def main():
        async with BatchWindow(as_async_proposer(FixedTactics(["a", "b", "c"])), max_batch=3, max_wait=0.05) as w:
            return await w.propose_many([_ctx("x"), _ctx("y"), _ctx("z")], 2, rng=rng())

    results = anyio.run(main)
    assert [[p.tactic for p in r] for r in results] == [["a", "b"]] * 3


def test_batch_window_cancel_releases_waiting_callers_with_a_proposal_error():
    """A search that stops cancels the window: a caller still waiting gets an error, never hangs."""
    inner = Recorder(30.0)  # a model call that would take 30 s

    async def main():
        got = []
        t0 = time.monotonic()
        async with BatchWindow(inner, max_batch=2, max_wait=0.01) as window:
            async def one(name):
                try:
                    await window.propose(_ctx(name), 1, rng=rng())
                except ProposalError as e:
                    got.append(str(e))

            async with anyio.create_task_group() as tg:
                tg.start_soon(one, "a")
                tg.start_soon(one, "b")
                await anyio.sleep(0.1)  # both in a batch, in flight
                window.cancel()
        return got, time.monotonic() - t0

    got, wall = anyio.run(main)
    assert got == ["the batch window was closed before the proposer answered"] * 2
    assert wall < 5.0
