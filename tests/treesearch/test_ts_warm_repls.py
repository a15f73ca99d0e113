"""Warm repls shared across theorems by native and pickle-warm (real MiniLean): a run's pools import the header
once per member, not once per theorem; dead repls are replaced; nothing outlives the WarmRepls."""

from __future__ import annotations

import os
import signal

import anyio
import psutil
import pytest
from conftest import AND_COMM, AND_COMM_TACTICS, AND_INTRO, AND_INTRO_TACTICS, IMP_TRANS, IMP_TRANS_TACTICS
from lean_env.repl_cmd import minilean_argv
from policies.proposers import FixedTactics
from policies.selection import UCT

from treesearch import SearchBudget, SearchDriver, Theorem, search
from treesearch.backends import make_backend
from treesearch.backends.warm import WarmRepls
from treesearch.errors import BackendError

BUDGET = SearchBudget(expansions=20, wall_seconds=120, tactic_timeout=20)
ARGV = minilean_argv(library_size=50, imports=("Mathlib",))
KINDS = ("native", "pickle-warm")


def with_mathlib(theorem: Theorem) -> Theorem:
    return Theorem(theorem.source, imports=("Mathlib",), name=theorem.name)


async def _search(kind: str, theorem: Theorem, tactics: list[str], warm: WarmRepls, in_flight: int = 1):
    backend = make_backend(kind, argv=ARGV, pool_size=2, warm_repls=warm)
    async with backend:
        return await search(theorem, backend=backend, proposer=FixedTactics(tactics), selector=UCT(),
                            budget=BUDGET, max_in_flight=in_flight, seed=0, tactics_per_expansion=len(tactics),
                            handle_sigint=False)


@pytest.mark.parametrize("kind", KINDS)
def test_three_theorems_import_once_per_pool_member(kind, no_leaks):
    async def main():
        async with WarmRepls(keep=2) as warm:
            results = [await _search(kind, with_mathlib(t), tacs, warm)
                       for t, tacs in ((AND_INTRO, AND_INTRO_TACTICS), (AND_COMM, AND_COMM_TACTICS),
                                       (IMP_TRANS, IMP_TRANS_TACTICS))]
            return results, warm.started, warm.reused, warm.idle_count()

    results, started, reused, idle = anyio.run(main)
    for res in results:
        assert res.verified, (res.stopped_by, res.errors)
        assert res.errors == []
    assert started == 2 and reused == 4 and idle == 2
    # the imports are the first theorem's; the others were stated on repls that had run the header
    assert results[0].timings.get("import", 0.0) > 0.0
    assert [r.timings.get("import", 0.0) for r in results[1:]] == [0.0, 0.0]


@pytest.mark.parametrize("kind", KINDS)
def test_a_repl_whose_request_was_cancelled_is_kept_once_its_reply_came(kind, no_leaks):
    """The search of the first theorem ends (proved) while the other repl runs a slow step: its request is
    cancelled, and give_back reads the owed reply instead of ending the repl, so no import is paid again."""
    slow = Theorem("theorem slow (p q : Prop) (hp : p) (hq : q) : p ∧ q := by sorry", imports=("Mathlib",),
                   name="slow")

    async def main():
        async with WarmRepls(keep=2) as warm:
            backend = make_backend(kind, argv=ARGV, pool_size=2, warm_repls=warm)
            async with backend:
                root = await backend.open(slow)
                async with anyio.create_task_group() as tg:
                    async def slow_step():
                        # a step MiniLean takes ~1.5 s over: 40000 `first` alternatives that fail, then one that works
                        await backend.expand(root.handle, ["first " + " ".join(["| exact hq"] * 40000) +
                                                           " | constructor"])

                    tg.start_soon(slow_step)
                    await anyio.sleep(0.3)
                    tg.cancel_scope.cancel()
            second = await _search(kind, with_mathlib(AND_INTRO), AND_INTRO_TACTICS, warm)
            return second, warm.started

    second, started = anyio.run(main)
    assert second.verified
    assert started == 2


@pytest.mark.parametrize("kind", KINDS)
def test_a_repl_that_died_while_idle_is_replaced(kind, no_leaks):
    async def main():
        async with WarmRepls(keep=2) as warm:
            first = await _search(kind, with_mathlib(AND_INTRO), AND_INTRO_TACTICS, warm)
            for idle in warm._idle.values():
                for w in idle:
                    os.kill(w.client.pid, signal.SIGKILL)
            await anyio.sleep(0.1)
            second = await _search(kind, with_mathlib(IMP_TRANS), IMP_TRANS_TACTICS, warm)
            return first, second, warm.started

    first, second, started = anyio.run(main)
    assert first.verified and second.verified, (second.stopped_by, second.errors)
    assert started == 4  # two for the first theorem, two fresh ones after the kill


@pytest.mark.parametrize("kind", KINDS)
def test_a_header_that_fails_is_open_failed_and_keeps_nothing(kind, no_leaks):
    thm = Theorem(AND_INTRO.source, imports=("NoSuchModule",), name="and_intro")

    async def main():
        async with WarmRepls(keep=2) as warm:
            backend = make_backend(kind, argv=ARGV, pool_size=2, warm_repls=warm)
            async with backend:
                driver = SearchDriver(thm, backend=backend, proposer=FixedTactics(["constructor"]), selector=UCT(),
                                      budget=BUDGET, max_in_flight=1, seed=0, handle_sigint=False)
                res = await driver.run()
            return res, warm.started, warm.idle_count()

    res, started, idle = anyio.run(main)
    assert res.stopped_by == "open-failed"
    assert any("header" in e["message"] and "NoSuchModule" in e["message"] for e in res.errors), res.errors
    assert started == 0 and idle == 0


def test_a_statement_that_fails_gives_its_repls_back_alive(no_leaks):
    bad = Theorem("theorem bad (p : Prop) : p ∧ nonsense_name := by sorry", imports=("Mathlib",), name="bad")

    async def main():
        async with WarmRepls(keep=2) as warm:
            backend = make_backend("native", argv=ARGV, pool_size=2, warm_repls=warm)
            async with backend:
                out = await backend.open(bad)
            good = await _search("native", with_mathlib(AND_INTRO), AND_INTRO_TACTICS, warm)
            return out, good, warm.started

    out, good, started = anyio.run(main)
    assert not out.ok and "does not elaborate" in (out.message or "")
    assert good.verified and started == 2  # the failed statement did not cost the repls their import


def test_aclose_ends_the_idle_repls_and_refuses_new_leases(no_leaks):
    async def main():
        warm = WarmRepls(keep=2)
        await _search("native", with_mathlib(AND_INTRO), AND_INTRO_TACTICS, warm)
        pids = [w.client.pid for idle in warm._idle.values() for w in idle]
        await warm.aclose()
        async with make_backend("native", argv=ARGV, pool_size=2, warm_repls=warm) as backend:
            with pytest.raises(BackendError, match="WarmRepls is closed"):
                await backend.open(with_mathlib(AND_INTRO))
        return pids

    pids = anyio.run(main)
    assert len(pids) == 2
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)


def test_keep_bounds_the_idle_repls(no_leaks):
    async def main():
        async with WarmRepls(keep=1) as warm:
            await _search("native", with_mathlib(AND_INTRO), AND_INTRO_TACTICS, warm)
            return warm.idle_count()

    assert anyio.run(main) == 1


def test_cold_pickle_takes_no_warm_repls():
    async def main():
        async with WarmRepls() as warm:
            with pytest.raises(BackendError, match="only pickle-warm takes one"):
                make_backend("pickle", argv=ARGV, warm_repls=warm)
            with pytest.raises(BackendError, match="must be a WarmRepls"):
                make_backend("native", argv=ARGV, warm_repls=object())

    anyio.run(main)


def test_a_backend_that_cannot_open_makes_the_search_open_failed(no_leaks):
    """A BackendError from open() (here: the shared repls were closed) is retried once -- a failed open leaves
    the backend unclaimed -- and then ends the search as open-failed with the reason."""
    async def main():
        warm = WarmRepls(keep=2)
        await warm.aclose()
        backend = make_backend("native", argv=ARGV, pool_size=2, warm_repls=warm)
        async with backend:
            driver = SearchDriver(with_mathlib(AND_INTRO), backend=backend, proposer=FixedTactics(["constructor"]),
                                  selector=UCT(), budget=BUDGET, max_in_flight=1, seed=0, handle_sigint=False)
            return await driver.run()

    res = anyio.run(main)
    assert res.stopped_by == "open-failed"
    messages = [e["message"] for e in res.errors]
    assert len(messages) == 2 and "retrying once" in messages[0] and "could not open" in messages[1], messages
    assert all("WarmRepls is closed" in m for m in messages), messages
