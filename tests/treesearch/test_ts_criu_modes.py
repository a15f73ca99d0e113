"""The criu backend's expansion modes on real processes: one clone per expansion (children share one image)
against one clone per tactic, warm clones, faults inside the shared clone, eviction and replay, release."""

from __future__ import annotations

import anyio
import pytest
from conftest import AND_COMM, AND_COMM_TACTICS, AND_INTRO, IMP_TRANS, IMP_TRANS_TACTICS, SUITE
from policies.proposers import FixedTactics
from policies.selection import UCT, BreadthFirst

from treesearch import SearchBudget, search
from treesearch.backends import Kind, make_backend
from treesearch.errors import BackendError

BUDGET = SearchBudget(expansions=40, wall_seconds=120, tactic_timeout=20)

# A real slow tactic: MiniLean elaborates 200k `skip`s in about 2 s, far past a 0.5 s tactic timeout.
SLOW_TACTIC = "\n".join(["skip"] * 200_000) + "\nconstructor"


def go(theorem, tactics, backend="criu", *, budget=BUDGET, **kw):
    selector = kw.pop("selector", UCT())
    return anyio.run(lambda: search(theorem, backend=backend, proposer=FixedTactics(tactics), selector=selector,
                                    budget=budget, max_in_flight=kw.pop("max_in_flight", 1), seed=0,
                                    tactics_per_expansion=len(tactics), handle_sigint=False, **kw))


def _shape(res):
    """The tree without handles: node goals and statuses, edges with tactics and outcomes."""
    g = res.tree.graph
    nodes = sorted((tuple(res.tree.node(n)["goals"] or ()), res.tree.node(n)["status"].value) for n in g)
    edges = sorted((d["tactic"], d["outcome"]) for _u, _v, d in g.edges(data=True))
    return nodes, edges


MODES = {
    "per-tactic": {"clones": "per-tactic"},
    "per-expansion": {"clones": "per-expansion"},
    "per-expansion-lazy": {"clones": "per-expansion", "freeze": "lazy"},
    "per-expansion-warm": {"clones": "per-expansion", "keep_warm": 2},
    "per-expansion-lazy-warm": {"clones": "per-expansion", "freeze": "lazy", "keep_warm": 1},
}


@pytest.mark.parametrize("theorem,tactics", SUITE, ids=[t.name for t, _ in SUITE])
def test_every_mode_finds_the_native_proof_and_tree(theorem, tactics, criu, no_leaks):
    native = go(theorem, tactics, "native", backend_settings={"pool_size": 1})
    assert native.verified
    for label, settings in MODES.items():
        res = go(theorem, tactics, backend_settings=settings)
        assert res.verified, (label, res.stopped_by, res.errors)
        assert res.errors == [], (label, res.errors)
        assert res.proof == native.proof, label
        assert _shape(res) == _shape(native), label


def test_per_expansion_thaws_and_freezes_once_per_expansion(criu, no_leaks):
    per_tactic = go(IMP_TRANS, IMP_TRANS_TACTICS, backend_settings={"clones": "per-tactic"})
    shared = go(IMP_TRANS, IMP_TRANS_TACTICS, backend_settings={"clones": "per-expansion"})
    assert per_tactic.proof == shared.proof == IMP_TRANS_TACTICS[:4]
    k = len(IMP_TRANS_TACTICS)
    assert per_tactic.timings["counts"]["thaw"] == k * per_tactic.expansions
    assert shared.timings["counts"]["thaw"] == shared.expansions
    # at most one dump per expansion, plus the root's
    assert shared.timings["counts"]["freeze"] <= shared.expansions + 1


def test_warm_clones_skip_restores_and_are_ended_on_close(criu, no_leaks):
    backend = make_backend("criu", clones="per-expansion", keep_warm=1)

    async def main():
        async with backend:
            root = await backend.open(IMP_TRANS)
            assert len((await backend.usage()).pids) == 1  # the root's repl, kept warm
            (child,) = await backend.expand(root.handle, ["intro hpq hqr hp"])
            assert child.kind is Kind.OPEN and await backend.has_state(child.handle)
            (grand,) = await backend.expand(child.handle, ["apply hqr"])
            assert grand.kind is Kind.OPEN
            assert grand.goals == ("p q r : Prop\nhpq : p → q\nhqr : q → r\nhp : p\n⊢ q",)
            assert backend.timings.counts["thaw"] == 0 and backend.counters["warm_hits"] == 2
            assert len((await backend.usage()).pids) == 1
        assert (await backend.usage()).pids == ()

    anyio.run(main)


def test_a_hanging_tactic_among_k_fails_only_itself(criu, no_leaks):
    backend = make_backend("criu", clones="per-expansion", tactic_timeout=0.5)
    tactics = ["constructor", "exact nonsense_here", SLOW_TACTIC, "exact hp", "apply And.intro"]

    async def main():
        async with backend:
            root = await backend.open(AND_INTRO)
            outs = await backend.expand(root.handle, tactics)
            assert [o.kind for o in outs] == [Kind.OPEN, Kind.ERROR, Kind.FAULT, Kind.ERROR, Kind.OPEN]
            assert "ReplTimeout" in outs[2].message
            assert outs[0].goals == outs[4].goals and len(outs[0].goals) == 2
            # the hang killed the first clone: a second one ran the tactics left, and only it was frozen
            assert backend.timings.counts["thaw"] == 2 and backend.timings.counts["freeze"] == 2
            assert not await backend.has_state(outs[0].handle)  # its state died with the first clone
            assert await backend.has_state(outs[4].handle)
            rebuilt = await backend.replay(root.handle, ["constructor"])
            assert rebuilt.goals == outs[0].goals and await backend.has_state(rebuilt.handle)
            for o in (outs[4], rebuilt):
                (step,) = await backend.expand(o.handle, ["exact hp"])
                assert step.kind is Kind.OPEN and len(step.goals) == 1
            assert (await backend.usage()).pids == ()

    anyio.run(main)


def test_shared_image_is_removed_with_its_last_child(criu, no_leaks):
    backend = make_backend("criu", clones="per-expansion")

    async def main():
        async with backend:
            root = await backend.open(IMP_TRANS)
            a, b, c = await backend.expand(root.handle, ["intro hpq", "intro hpq hqr", "exact nonsense_here"])
            assert (a.kind, b.kind, c.kind) == (Kind.OPEN, Kind.OPEN, Kind.ERROR)
            assert a.handle.image is b.handle.image and a.handle.proof_state != b.handle.proof_state
            image = a.handle.image
            await backend.release(a.handle)
            await backend.release(a.handle)  # twice: counted once
            assert not image.removed and await backend.has_state(b.handle)
            await backend.release(b.handle)
            assert image.removed and not await backend.has_state(b.handle)
            with pytest.raises(BackendError):  # StateLost: the driver replays it
                await backend.expand(b.handle, ["intro hp"])

    anyio.run(main)


# Several ways into the same chain, so a breadth-first search keeps many branches open at once.
BRANCHY = ["intro hpq", "intro hpq hqr", "intro hqr", "intro hp", "intro hqr hp", "apply hqr", "apply hpq", "exact hp"]


def test_per_expansion_eviction_rebuilds_shared_images_by_replay(criu, no_leaks):
    probe = go(IMP_TRANS, BRANCHY, budget=SearchBudget(expansions=1, wall_seconds=60),
               backend_settings={"clones": "per-expansion"})
    one_image = probe.peak_image_bytes // 2  # the root and one expansion's shared image
    assert one_image > 0
    limit = int(one_image * 3.5)
    events = []
    res = go(IMP_TRANS, BRANCHY, budget=SearchBudget(expansions=80, wall_seconds=120, image_bytes=limit),
             backend_settings={"clones": "per-expansion"}, on_event=events.append, max_in_flight=2,
             selector=BreadthFirst())
    assert res.verified and res.proof[-3:] == ["apply hqr", "apply hpq", "exact hp"]
    assert res.peak_image_bytes <= limit
    assert any(e["event"] == "replay" for e in events)
    assert not [e for e in res.errors if e["kind"] == "fault"]


def test_bad_mode_settings_are_refused():
    with pytest.raises(BackendError, match="per-expansion"):
        make_backend("criu", clones="per-node")
    with pytest.raises(BackendError, match="keep_warm"):
        make_backend("criu", keep_warm=-1)


@pytest.mark.parametrize("settings", [{"freeze": "lazy", "keep_warm": 1}, {"freeze": "eager", "keep_warm": 1}],
                         ids=["lazy", "eager"])
def test_concurrent_expansions_share_warm_clones(settings, criu, no_leaks):
    """Two expansions in flight with one warm clone: a state held only by a busy clone waits for it (or a
    replay rebuilds it); the search finds the proof without faults."""
    res = go(IMP_TRANS, IMP_TRANS_TACTICS, max_in_flight=2,
             backend_settings={"clones": "per-expansion", **settings})
    assert res.verified and res.proof == IMP_TRANS_TACTICS[:4]
    assert not [e for e in res.errors if e["kind"] in ("fault", "expand")], res.errors


SLOWISH_INTRO = "\n".join(["skip"] * 50_000) + "\nintro hqr"


def test_lazy_states_held_only_by_an_evicted_warm_clone_are_frozen_first(criu, no_leaks):
    # the root frozen at open (lazy_root=False): the second expansion of the root then thaws it
    backend = make_backend("criu", clones="per-expansion", freeze="lazy", keep_warm=1, lazy_root=False)

    async def main():
        async with backend:
            root = await backend.open(IMP_TRANS)
            (a,) = await backend.expand(root.handle, ["intro hpq"])
            assert a.kind is Kind.OPEN and a.handle.image is None and await backend.has_state(a.handle)
            assert backend.timings.counts["freeze"] == 1  # the root only
            results = {}

            async def expand(name, handle, tactic):
                (results[name],) = await backend.expand(handle, [tactic])

            async with anyio.create_task_group() as tg:
                tg.start_soon(expand, "a2", a.handle, SLOWISH_INTRO)  # takes the warm clone, for ~0.5 s
                while backend.counters["warm_hits"] < 2:  # a2 has taken the warm clone (it may even be done)
                    await anyio.sleep(0)
                tg.start_soon(expand, "b", root.handle, "intro hpq hqr")  # the warm clone is busy: a thaw
            # two clones finished, one is kept: the other held states found nowhere else, so it was frozen
            assert len((await backend.usage()).pids) == 1
            assert backend.timings.counts["thaw"] == 1 and backend.timings.counts["freeze"] == 2
            for out in (a, results["a2"], results["b"]):
                assert out.kind is Kind.OPEN and await backend.has_state(out.handle)
            for out, tactic in ((a, "intro hqr hp"), (results["a2"], "intro hp"), (results["b"], "intro hp")):
                (step,) = await backend.expand(out.handle, [tactic])
                assert step.kind is Kind.OPEN, (tactic, step.message)
        assert (await backend.usage()).pids == ()

    anyio.run(main)


def test_lazy_thaw_setting_finds_the_same_proof(criu):
    """lazy_thaw=True restores clones through userfaultfd (replaces the bench's copied-subclass prototype)."""
    backend = make_backend("criu", lazy_thaw=True)
    assert backend.settings()["lazy_thaw"] is True
    # search() does not close a backend it was given; the session's leak check holds us to closing it.
    res = anyio.run(lambda: search(
        AND_COMM, backend=backend, proposer=FixedTactics(AND_COMM_TACTICS), selector=UCT(),
        budget=SearchBudget(expansions=30, wall_seconds=60), max_in_flight=1, seed=0,
        tactics_per_expansion=len(AND_COMM_TACTICS), handle_sigint=False))
    anyio.run(backend.close)
    assert res.proved and res.recheck.accepted
    assert res.proof == ["intro h", "constructor", "exact h.right", "exact h.left"]


def test_a_lazy_root_is_frozen_with_its_clone_and_then_pinned(criu, no_leaks):
    """freeze=lazy with warm clones: opening freezes nothing, and expansions of the root run in its warm
    clone (a second expansion waits for it rather than thawing). The first image frozen from a clone holding
    the root -- here the lazy freeze of a selected child (the driver's replay) -- holds the root too and is
    pinned: the floor of replay, as an eager root's image."""
    import os
    import signal

    backend = make_backend("criu", clones="per-expansion", freeze="lazy", keep_warm=1)

    async def main():
        async with backend:
            root = await backend.open(IMP_TRANS)
            assert backend.settings()["lazy_root"] is True
            assert root.handle.image is None and (await backend.usage()).image_bytes == 0
            assert backend.timings.counts.get("freeze", 0) == 0 and len((await backend.usage()).pids) == 1
            (a,) = await backend.expand(root.handle, ["intro hpq"])
            results = {}

            async def expand(name, handle, tactic):
                (results[name],) = await backend.expand(handle, [tactic])

            async with anyio.create_task_group() as tg:
                tg.start_soon(expand, "a2", a.handle, SLOWISH_INTRO)  # takes the only clone, for ~0.5 s
                while backend.counters["warm_hits"] < 2:
                    await anyio.sleep(0)
                tg.start_soon(expand, "b", root.handle, "intro hpq hqr")  # waits for it: no image to thaw
            assert backend.timings.counts.get("thaw", 0) == 0 and backend.timings.counts.get("freeze", 0) == 0
            for out in (a, results["a2"], results["b"]):
                assert out.kind is Kind.OPEN and await backend.has_state(out.handle)
            frozen = await backend.replay(root.handle, ["intro hpq"])  # a selected child gets its image
            assert frozen.handle.image is not None and backend.timings.counts["freeze"] == 1
            assert backend._images.root_image is frozen.handle.image and frozen.handle.image.pins >= 1
            (pid,) = (await backend.usage()).pids
            os.kill(pid, signal.SIGKILL)  # the warm clone goes: the root comes back from its pinned image
            while (await backend.usage()).pids:
                await anyio.sleep(0.01)
            (again,) = await backend.expand(root.handle, ["intro hpq hqr"])
            assert again.kind is Kind.OPEN and again.goals == results["b"].goals
            assert backend.timings.counts["thaw"] == 1 and backend.counters["root_rebuilds"] == 0
        assert (await backend.usage()).pids == ()

    anyio.run(main)


def test_a_lazy_root_lost_with_its_clone_is_stated_again(criu, no_leaks):
    import os
    import signal

    backend = make_backend("criu", clones="per-expansion", freeze="lazy", keep_warm=1)

    async def main():
        async with backend:
            root = await backend.open(IMP_TRANS)
            (pid,) = (await backend.usage()).pids
            os.kill(pid, signal.SIGKILL)
            while (await backend.usage()).pids:
                await anyio.sleep(0.01)
            assert await backend.has_state(root.handle)
            (child,) = await backend.expand(root.handle, ["intro hpq hqr hp"])
            assert child.kind is Kind.OPEN
            assert child.goals == ("p q r : Prop\nhpq : p → q\nhqr : q → r\nhp : p\n⊢ r",)
            assert backend.counters["root_rebuilds"] == 1
        assert (await backend.usage()).pids == ()

    anyio.run(main)


def test_a_warm_clone_whose_expansion_is_cancelled_stays_warm(criu, no_leaks):
    """When the search cancels an expansion (say, another one proved the theorem), the clone's running step
    is finished and dropped, and the clone is parked warm with every state it held."""
    backend = make_backend("criu", clones="per-expansion", freeze="lazy", keep_warm=1)

    async def main():
        async with backend:
            root = await backend.open(IMP_TRANS)
            (a,) = await backend.expand(root.handle, ["intro hpq"])
            with anyio.move_on_after(0.1) as scope:
                await backend.expand(a.handle, [SLOWISH_INTRO])  # ~0.5 s: cancelled mid-step
            assert scope.cancelled_caught
            assert len((await backend.usage()).pids) == 1 and backend._clones.idle_count == 1  # parked, not ended
            (b,) = await backend.expand(a.handle, ["intro hqr hp"])
            assert b.kind is Kind.OPEN and backend.counters["warm_hits"] == 3
            assert backend.timings.counts.get("thaw", 0) == 0 and backend.counters["root_rebuilds"] == 0
        assert (await backend.usage()).pids == ()

    anyio.run(main)
