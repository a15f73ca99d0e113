"""The one search path: what `search` measures itself (policy time, expansion latencies, time to proof), its
hooks, the stop signal (before, during and after the re-check), failures recorded as a result, and backends it
makes from a factory. Real MiniLean repls throughout."""

from __future__ import annotations

import time

import anyio
import pytest
from conftest import AND_INTRO, AND_INTRO_TACTICS, IMP_TRANS, IMP_TRANS_TACTICS
from lean_env.repl_cmd import minilean_argv
from policies.proposers import FixedTactics
from policies.selection import UCT

from treesearch import SearchBudget, Theorem, search
from treesearch.backends import make_backend
from treesearch.backends.native import NativeBackend
from treesearch.search import RECHECK_INTERRUPTED_BEFORE, RECHECK_INTERRUPTED_DURING

HARD = Theorem("theorem hard (p q r : Prop) : (p → q) → (q → r) → (r → p) → p ∨ ¬p := by sorry")
HARD_TACTICS = ["intro h1", "intro h2", "intro h3", "apply Or.inl", "apply Or.inr", "apply h3", "apply h2",
                "apply h1"]
PAUSE = 0.02  # seconds each proposer call sleeps


class SlowFixed(FixedTactics):
    """The fixed proposer, taking PAUSE seconds per call (as a model's forward pass would)."""

    calls = 0

    def propose(self, goals, *, rng):
        SlowFixed.calls += 1
        time.sleep(PAUSE)
        return super().propose(goals, rng=rng)


def test_policy_time_latencies_and_time_to_proof_are_measured(no_leaks):
    events: list[dict] = []
    SlowFixed.calls = 0
    res = anyio.run(lambda: search(
        IMP_TRANS, backend=lambda: make_backend("native", pool_size=1), proposer=SlowFixed(IMP_TRANS_TACTICS),
        selector=UCT(), budget=SearchBudget(expansions=40, wall_seconds=60), max_in_flight=1,
        tactics_per_expansion=len(IMP_TRANS_TACTICS), value_fn="goal-size", handle_sigint=False,
        on_event=events.append))
    assert res.proved and res.recheck_status == "passed" and res.recheck.accepted
    # the proposer's sleeps, at least, are policy time; the selector and the value add their own calls
    assert SlowFixed.calls == res.expansions
    assert res.timings["policy"] >= PAUSE * SlowFixed.calls
    assert res.timings["counts"]["policy"] > SlowFixed.calls
    expanded = [e for e in events if e["event"] == "expanded"]
    assert len(expanded) == res.expansions == len(res.expansion_latencies)
    assert all(x > 0 for x in res.expansion_latencies)
    for e in expanded:  # the whole expansion includes the proposer's pause and the backend's expand call
        assert e["seconds"] >= e["expand_seconds"] + PAUSE > PAUSE
    assert sum(e["expand_seconds"] for e in expanded) == pytest.approx(sum(res.expansion_latencies))
    assert 0 < res.time_to_proof <= res.wall
    assert res.time_to_proof == pytest.approx(expanded[-1]["t"], abs=0.05)
    # the factory's backend was made and closed by search
    assert res.close_seconds > 0 and res.backend_settings["pool_size"] == 1


def test_stop_ends_the_search_as_interrupted_with_its_partial_result(no_leaks):
    async def main():
        stop = anyio.Event()
        seen = []

        def on_event(e):
            if e["event"] == "expanded":
                seen.append(e)
                if len(seen) == 2:
                    stop.set()

        t0 = time.monotonic()
        res = await search(HARD, backend="native", backend_settings={"pool_size": 2},
                           proposer=FixedTactics(HARD_TACTICS), selector=UCT(),
                           budget=SearchBudget(expansions=None, wall_seconds=120), max_in_flight=2,
                           handle_sigint=False, on_event=on_event, stop=stop)
        return res, time.monotonic() - t0

    res, took = anyio.run(main)
    assert res.stopped_by == "interrupted" and not res.proved
    assert res.expansions >= 2 and len(res.tree) > 1  # the tree so far is returned
    assert any(e["kind"] == "interrupted" for e in res.errors)
    assert res.recheck is None and res.recheck_status == "none"
    assert took < 60


def test_stop_at_the_proof_skips_the_recheck(no_leaks):
    async def main():
        stop = anyio.Event()

        def on_event(e):
            if e["event"] == "expanded" and e["status"] == "proved":
                stop.set()

        return await search(AND_INTRO, backend="native", backend_settings={"pool_size": 1},
                            proposer=FixedTactics(AND_INTRO_TACTICS), selector=UCT(), max_in_flight=1,
                            budget=SearchBudget(expansions=40, wall_seconds=60), handle_sigint=False,
                            on_event=on_event, stop=stop)

    res = anyio.run(main)
    assert res.proved and res.proof == AND_INTRO_TACTICS
    assert res.recheck is None and (res.recheck_status, res.recheck_note) == ("skipped", RECHECK_INTERRUPTED_BEFORE)


def test_stop_during_the_recheck_cuts_it_short_and_ends_its_repl(no_leaks):
    """The re-check repl imports a Mathlib-sized library (seconds); the stop comes while it does."""
    theorem = Theorem(AND_INTRO.source, imports=("Mathlib",), name="and_intro")
    argv = minilean_argv(library_size=1500)

    async def main():
        stop = anyio.Event()
        proved = anyio.Event()

        def on_event(e):
            if e["event"] == "expanded" and e["status"] == "proved":
                proved.set()

        async def stop_soon():
            await proved.wait()
            await anyio.sleep(0.5)  # the search has returned and closed its backend; the re-check runs
            stop.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_soon)
            t0 = time.monotonic()
            res = await search(theorem, backend=lambda: make_backend("native", pool_size=1, argv=argv),
                               proposer=FixedTactics(AND_INTRO_TACTICS), selector=UCT(), max_in_flight=1,
                               budget=SearchBudget(expansions=40, wall_seconds=120), handle_sigint=False,
                               on_event=on_event, stop=stop)
            after_proof = time.monotonic() - t0 - res.wall
        return res, after_proof

    res, after_proof = anyio.run(main)
    assert res.proved and res.stopped_by == "proved"
    assert (res.recheck_status, res.recheck_note) == ("skipped", RECHECK_INTERRUPTED_DURING)
    assert after_proof < 1.5  # a 1500-lemma import alone takes longer than that


class BrokenDisk(NativeBackend):
    """The native backend, whose second expansion meets an OS failure (as a full disk would give)."""

    name = "broken-disk"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.expands = 0

    async def expand(self, handle, tactics, *, timeout=None):
        self.expands += 1
        if self.expands == 2:
            raise OSError(28, "No space left on device")
        return await super().expand(handle, tactics, timeout=timeout)


def test_failures_end_the_search_as_error_with_its_partial_result(no_leaks):
    def go(**kw):
        return anyio.run(lambda: search(
            IMP_TRANS, backend=lambda: BrokenDisk(pool_size=1), proposer=FixedTactics(IMP_TRANS_TACTICS),
            selector=UCT(), budget=SearchBudget(expansions=40, wall_seconds=60), max_in_flight=1,
            handle_sigint=False, **kw))

    res = go(failures=(OSError,))
    assert res.stopped_by == "error" and not res.proved and res.recheck_status == "none"
    assert res.expansions >= 2 and len(res.tree) > 1  # the one that failed may have let a next one start
    assert [e["message"] for e in res.errors if e["kind"] == "failed"] == [
        "OSError: [Errno 28] No space left on device"]
    with pytest.raises(BaseExceptionGroup) as ei:  # not a failure the caller named: raised, backend closed
        go()
    assert ei.group_contains(OSError)


def test_a_backend_given_as_an_object_stays_the_callers(no_leaks):
    async def main():
        async with make_backend("native", pool_size=1) as backend:
            res = await search(AND_INTRO, backend=backend, proposer=FixedTactics(AND_INTRO_TACTICS),
                               selector=UCT(), max_in_flight=1, handle_sigint=False)
            alive = (await backend.usage()).processes
        return res, alive

    res, alive = anyio.run(main)
    assert res.proved and res.recheck_status == "passed" and res.close_seconds == 0.0
    assert alive == 1  # search did not close it


def test_bad_stop_and_backend_arguments_are_refused():
    from treesearch.errors import TreeSearchError

    with pytest.raises(TreeSearchError, match="stop must have is_set"):
        anyio.run(lambda: search(AND_INTRO, backend="native", proposer=FixedTactics(AND_INTRO_TACTICS),
                                 selector=UCT(), stop=True, handle_sigint=False))
    with pytest.raises(TreeSearchError, match="not a treesearch Backend"):
        anyio.run(lambda: search(AND_INTRO, backend=lambda: "native", proposer=FixedTactics(AND_INTRO_TACTICS),
                                 selector=UCT(), handle_sigint=False))
