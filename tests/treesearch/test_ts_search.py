"""End-to-end searches on real processes: MiniLean repls, real CRIU clones, real pickle files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import anyio
import networkx as nx
import pytest
from conftest import AND_COMM, AND_COMM_TACTICS, AND_INTRO, AND_INTRO_TACTICS, IMP_TRANS, IMP_TRANS_TACTICS, SUITE
from policies.proposers import FixedTactics
from policies.selection import UCT, BreadthFirst

from treesearch import SearchBudget, Theorem, search
from treesearch.backends import make_backend
from treesearch.proof import recheck_proof

BUDGET = SearchBudget(expansions=40, wall_seconds=120, tactic_timeout=20)


def run(coro_fn, *args, **kw):
    return anyio.run(lambda: coro_fn(*args, **kw))


def go(theorem, tactics, backend, *, max_in_flight=1, seed=0, budget=BUDGET, **kw):
    return run(search, theorem, backend=backend, proposer=FixedTactics(tactics), selector=kw.pop("selector", UCT()),
               budget=budget, max_in_flight=max_in_flight, seed=seed, tactics_per_expansion=len(tactics),
               handle_sigint=False, **kw)


@pytest.mark.parametrize("backend", ["native", "pickle", "pickle-warm", "criu"])
def test_backends_find_the_same_proofs(backend, request, no_leaks):
    if backend == "criu":
        request.getfixturevalue("criu")
    proofs = {}
    for theorem, tactics in SUITE:
        res = go(theorem, tactics, backend, backend_settings={"pool_size": 2} if backend != "criu" else {})
        assert res.proved, (theorem.name, res.stopped_by, res.errors)
        assert res.recheck is not None and res.recheck.accepted, res.recheck
        assert res.stopped_by == "proved" and res.errors == []
        proofs[theorem.name] = res.proof
    expected = {
        "and_intro": ["constructor", "exact hp", "exact hq"],
        "and_comm'": ["intro h", "constructor", "exact h.right", "exact h.left"],
        "imp_trans'": ["intro hpq hqr hp", "apply hqr", "apply hpq", "exact hp"],
    }
    assert proofs == expected


def _tree_shape(res):
    d = res.tree.to_dict()
    for n in d["nodes"]:
        n.pop("handle")
    return d


@pytest.mark.parametrize("backend", ["native", "criu"])
def test_single_flight_seeded_runs_are_deterministic(backend, request, no_leaks):
    if backend == "criu":
        request.getfixturevalue("criu")
    a = go(AND_COMM, AND_COMM_TACTICS, backend, seed=7, backend_settings={} if backend == "criu" else {"pool_size": 1})
    b = go(AND_COMM, AND_COMM_TACTICS, backend, seed=7, backend_settings={} if backend == "criu" else {"pool_size": 1})
    assert a.proved and b.proved
    assert a.proof == b.proof and a.expansions == b.expansions
    assert _tree_shape(a) == _tree_shape(b)


def test_virtual_loss_spreads_concurrent_selections(criu, no_leaks):
    events = []
    theorem = Theorem("theorem wide (p q r : Prop) (hp : p) (hq : q) : p ∧ q ∧ r := by sorry")
    tactics = ["constructor", "exact hp", "apply And.intro", "refine ⟨hp, ?_⟩", "exact hq", "intro x"]
    res = go(theorem, tactics, "criu", max_in_flight=2, budget=SearchBudget(expansions=12, wall_seconds=60),
             selector=UCT(virtual_loss=0.0), on_event=events.append)
    assert not res.proved and res.stopped_by in ("expansions", "exhausted")
    assert res.peak_in_flight == 2
    starts = [e["path"][-1] for e in events if e["event"] == "selected"]
    assert len(starts) == len(set(starts)), "a node was selected for expansion twice"
    # two selections were in flight together, and they went to different leaves
    in_flight: set[int] = set()
    pairs = []
    for e in events:
        if e["event"] == "selected":
            if in_flight:
                pairs.append((set(in_flight), e["path"][-1]))
            in_flight.add(e["path"][-1])
        elif e["event"] in ("expanded", "error") and e.get("node") in in_flight:
            in_flight.discard(e["node"])
    assert pairs and all(new not in old for old, new in pairs)


def test_transpositions_merge(no_leaks):
    theorem = Theorem("theorem k (p q : Prop) : p → q → p := by sorry")
    tactics = ["intro a", "intro b", "intro a b", "exact a"]
    res = go(theorem, tactics, "native", backend_settings={"pool_size": 1}, selector=BreadthFirst(),
             budget=SearchBudget(expansions=2, wall_seconds=60))
    tree = res.tree
    both = tree.lookup(["p q : Prop\na : p\nb : q\n⊢ p"])
    assert both is not None
    after_intro_a = tree.lookup(["p q : Prop\na : p\n⊢ q → p"])
    assert sorted(tree.parents(both)) == sorted([0, after_intro_a])
    assert tree.edge(0, both)["tactic"] == "intro a b" and tree.edge(after_intro_a, both)["tactic"] == "intro b"
    assert len([n for n in tree.graph if tree.node(n)["goals"] == tree.node(both)["goals"]]) == 1
    assert nx.is_directed_acyclic_graph(tree.graph)


def test_recheck_accepts_only_complete_sorry_free_proofs(no_leaks):
    ok = run(recheck_proof, AND_INTRO, AND_INTRO_TACTICS)
    assert ok.accepted and ok.reason == "ok"
    short = run(recheck_proof, AND_INTRO, ["constructor", "exact hp"])
    assert not short.accepted and "error" in short.reason
    sorry = run(recheck_proof, AND_INTRO, ["constructor", "exact hp", "sorry"])
    assert not sorry.accepted
    wrong = run(recheck_proof, AND_INTRO, ["exact hq"])
    assert not wrong.accepted and wrong.reason.startswith("error")


HARD = Theorem("theorem hard (p q r : Prop) : (p → q) → (q → r) → (r → p) → p ∨ ¬p := by sorry")
HARD_TACTICS = ["intro h1", "intro h2", "intro h3", "apply Or.inl", "apply Or.inr", "apply h3", "apply h2",
                "apply h1", "intro hp"]


def test_expansion_budget_holds(no_leaks):
    res = go(HARD, HARD_TACTICS, "native", backend_settings={"pool_size": 1},
             budget=SearchBudget(expansions=3, wall_seconds=60))
    assert res.stopped_by == "expansions" and res.expansions == 3
    assert sum(1 for n in res.tree.graph if res.tree.node(n)["expanded"] and res.tree.node(n)["goals"]) == 3


def test_wall_budget_holds(no_leaks):
    t0 = time.monotonic()
    res = go(HARD, HARD_TACTICS, "pickle", max_in_flight=2, budget=SearchBudget(expansions=None, wall_seconds=1.5))
    took = time.monotonic() - t0
    assert res.stopped_by == "wall" and not res.proved
    assert res.wall < 1.5 + 3.0 and took < 1.5 + 15  # hang guards: cancellation reaches every process


def test_memory_budget_holds(no_leaks):
    res = go(HARD, HARD_TACTICS, "native", backend_settings={"pool_size": 2},
             budget=SearchBudget(expansions=None, wall_seconds=60, memory_bytes=1_000_000))
    assert res.stopped_by == "memory"
    assert any(e["kind"] == "memory" for e in res.errors)
    assert res.peak_memory > 1_000_000


def test_image_budget_evicts_and_replays(criu, no_leaks):
    # each MiniLean image is several MB; a budget of ~2.5 images forces evictions and replays.  Per-tactic
    # clones: there every image holds one state, so an evicted state must be replayed (per-expansion images
    # also hold their ancestors' states; tests/treesearch/test_ts_criu_modes.py covers eviction there).
    per_tactic = {"clones": "per-tactic"}
    probe = go(AND_COMM, AND_COMM_TACTICS, "criu", budget=SearchBudget(expansions=2, wall_seconds=60),
               backend_settings=per_tactic)
    one_image = probe.peak_image_bytes // max(1, sum(1 for n in probe.tree.graph if probe.tree.node(n)["goals"]))
    assert one_image > 0
    limit = int(one_image * 2.5)
    events = []
    # classic UCB1 (prior-blind: every child is tried once before any twice) keeps coming back to states whose
    # images were evicted meanwhile; the prior-aware default follows the main line and may never need one
    res = go(IMP_TRANS, IMP_TRANS_TACTICS, "criu",
             budget=SearchBudget(expansions=60, wall_seconds=120, image_bytes=limit), on_event=events.append,
             backend_settings=per_tactic, selector=UCT(prior_weight=0, first_play_value=None))
    assert res.proved and res.recheck.accepted
    assert res.peak_image_bytes <= limit
    assert any(e["event"] == "replay" for e in events)


def test_lazy_freeze_rebuilds_children_on_first_selection(criu, no_leaks):
    events = []
    res = go(AND_COMM, AND_COMM_TACTICS, "criu", backend_settings={"freeze": "lazy"}, on_event=events.append)
    assert res.proved and res.recheck.accepted
    assert res.proof == ["intro h", "constructor", "exact h.right", "exact h.left"]
    assert sum(1 for e in events if e["event"] == "replay") >= 3


def test_sigkilled_clones_do_not_stop_the_search(criu, no_leaks):
    backend = make_backend("criu")
    killed = []
    started = None

    async def main():
        nonlocal started
        started = anyio.Event()
        async with backend:
            async def killer():
                await started.wait()  # the root is frozen: from now on every live repl is a clone
                while True:
                    await anyio.sleep(0.05)
                    for pid in (await backend.usage()).pids[:1]:
                        try:
                            os.kill(pid, signal.SIGKILL)
                            killed.append(pid)
                        except ProcessLookupError:
                            pass

            async with anyio.create_task_group() as tg:
                tg.start_soon(killer)
                res = await search(IMP_TRANS, backend=backend, proposer=FixedTactics(IMP_TRANS_TACTICS),
                                   selector=UCT(), budget=SearchBudget(expansions=30, wall_seconds=90),
                                   max_in_flight=2, handle_sigint=False,
                                   on_event=lambda e: e["event"] == "selected" and started.set())
                tg.cancel_scope.cancel()
            assert (await backend.usage()).pids == ()
            return res

    res = anyio.run(main)
    assert killed, "the killer never found a clone to kill"
    assert any(e["kind"] in ("fault", "expand") for e in res.errors)
    assert res.stopped_by in ("proved", "exhausted", "expansions")


@pytest.mark.parametrize("backend", ["native", "criu"])
def test_save_and_resume_with_remaining_budget(backend, tmp_path, request, no_leaks):
    if backend == "criu":
        request.getfixturevalue("criu")
    saved = tmp_path / "run.json"
    first = go(IMP_TRANS, IMP_TRANS_TACTICS, backend, budget=SearchBudget(expansions=2, wall_seconds=60),
               save_path=saved)
    assert first.stopped_by == "expansions" and saved.exists()
    data = json.loads(saved.read_text())
    assert data["spent"]["expansions"] == 2 and data["tree"]["nodes"]
    second = go(IMP_TRANS, IMP_TRANS_TACTICS, backend, budget=SearchBudget(expansions=40, wall_seconds=60),
                resume_from=saved)
    assert second.proved and second.recheck.accepted
    assert second.expansions > 2 and second.proof == IMP_TRANS_TACTICS[:4]
    assert len(second.tree) >= len(first.tree)
    # resuming a spent budget does nothing more
    third = go(IMP_TRANS, IMP_TRANS_TACTICS, backend, budget=SearchBudget(expansions=2, wall_seconds=60),
               resume_from=saved)
    assert third.expansions == 2 and third.stopped_by == "expansions"


CTRL_C_SCRIPT = r"""
import anyio, sys
from policies.proposers import FixedTactics
from policies.selection import UCT
from treesearch import SearchBudget, Theorem, search
th = Theorem("theorem hard (p q r : Prop) : (p → q) → (q → r) → (r → p) → p ∨ ¬p := by sorry")
tac = ["intro h1", "intro h2", "intro h3", "apply Or.inl", "apply Or.inr", "apply h3", "apply h2", "apply h1"]
def ev(e):
    if e["event"] == "expanded":
        print("EXPANDED", flush=True)
res = anyio.run(lambda: search(th, backend=sys.argv[1], proposer=FixedTactics(tac), selector=UCT(),
                budget=SearchBudget(expansions=None, wall_seconds=120), max_in_flight=2,
                save_path=sys.argv[2], on_event=ev))
print("STOPPED", res.stopped_by, flush=True)
"""


@pytest.mark.parametrize("backend", ["criu", "pickle-warm", "pickle", "native"])
def test_ctrl_c_stops_every_process_and_saves(backend, tmp_path, request, no_leaks):
    if backend == "criu":
        request.getfixturevalue("criu")
    saved = tmp_path / "run.json"
    proc = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT, backend, str(saved)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("EXPANDED"):
                break
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    assert "STOPPED interrupted" in out
    data = json.loads(saved.read_text())
    assert data["stopped_by"] == "interrupted" and len(data["tree"]["nodes"]) > 1


def _interfere(backend, sig, *, times, after="selected"):
    """Run a search on IMP_TRANS while sending ``sig`` to ``times`` live repl processes of ``backend``
    (after the root is open); returns (result, events, pids hit)."""
    hit: list[int] = []
    events: list[dict] = []

    async def main():
        started = anyio.Event()

        def on_event(e):
            events.append(e)
            if e["event"] == after:
                started.set()

        async with backend:
            async def interferer():
                await started.wait()
                while len(hit) < times:
                    for pid in (await backend.usage()).pids[:1]:
                        if pid not in hit:
                            os.kill(pid, sig)
                            hit.append(pid)
                    await anyio.sleep(0.005)

            async with anyio.create_task_group() as tg:
                tg.start_soon(interferer)
                res = await search(IMP_TRANS, backend=backend, proposer=FixedTactics(IMP_TRANS_TACTICS),
                                   selector=UCT(), budget=SearchBudget(expansions=40, wall_seconds=90,
                                                                       tactic_timeout=1.0),
                                   max_in_flight=1, handle_sigint=False, on_event=on_event)
                tg.cancel_scope.cancel()
        assert (await backend.usage()).pids == ()
        return res

    return anyio.run(main), events, hit


# A real slow, memory-hungry tactic: MiniLean elaborates 200k `skip`s in about 2 s and grows by ~10 MB.
SLOW_TACTIC = "\n".join(["skip"] * 200_000) + "\nintro hpq hqr hp"


@pytest.mark.parametrize("backend", ["criu", "native", "pickle-warm"])
def test_tactic_past_the_timeout_fails_only_itself(backend, request, no_leaks):
    if backend == "criu":
        request.getfixturevalue("criu")
    res = go(IMP_TRANS, [SLOW_TACTIC] + IMP_TRANS_TACTICS, backend,
             budget=SearchBudget(expansions=40, wall_seconds=90, tactic_timeout=0.5),
             backend_settings={} if backend == "criu" else {"pool_size": 1})
    faults = [e for e in res.errors if e["kind"] == "fault"]
    assert any("ReplTimeout" in e["message"] for e in faults)
    assert all(e["tactic"] == SLOW_TACTIC for e in faults)  # only the slow tactic fails
    assert [e.get("retry") for e in faults if e["node"] == 0] == [1, "gave up"]  # retried once at the root
    assert res.proved and res.recheck.accepted and res.proof == IMP_TRANS_TACTICS[:4]
    root_edges = {d["tactic"]: d["outcome"] for _u, _v, d in res.tree.graph.out_edges(0, data=True)}
    assert root_edges[SLOW_TACTIC] == "fault"


def test_native_worker_killed_midsearch_is_replaced_and_states_replayed(no_leaks):
    res, events, hit = _interfere(make_backend("native", pool_size=1), signal.SIGKILL, times=1, after="expanded")
    assert len(hit) == 1
    assert res.proved and res.recheck.accepted
    assert any(e["kind"] in ("fault", "state-lost") for e in res.errors) or any(
        e["event"] == "replay" for e in events)


def test_clone_out_of_memory_fails_only_its_tactic(criu, no_leaks):
    res = go(IMP_TRANS, [SLOW_TACTIC] + IMP_TRANS_TACTICS, "criu", backend_settings={"memory_limit": 20_000_000},
             budget=SearchBudget(expansions=40, wall_seconds=90, tactic_timeout=30))
    faults = [e for e in res.errors if e["kind"] == "fault"]
    assert faults and all(e["tactic"] == SLOW_TACTIC for e in faults)
    assert all("ReplOutOfMemory" in e["message"] for e in faults)
    assert res.proved and res.recheck.accepted and res.proof == IMP_TRANS_TACTICS[:4]


def test_policies_value_fn_by_name_backs_up_goal_values(no_leaks):
    res = go(AND_COMM, AND_COMM_TACTICS, "native", backend_settings={"pool_size": 1}, value_fn="goal-size")
    assert res.proved and res.recheck.accepted
    root = res.tree.root
    assert root["visits"] == res.expansions and 0.0 < root["value_sum"] <= root["visits"]


def test_branching_transcript_proof_is_found_and_rechecked(shared_dir, no_leaks):
    """proof_branching2: after `apply And.intro` the repl works on the first goal (case left) first; the
    tactic path of the proof, run as one script, must re-check."""
    blocks = (shared_dir / "repl-transcripts" / "proof_branching2.in").read_text().split("\n\n")
    reqs = [json.loads(b) for b in blocks if b.strip()]
    source = reqs[0]["cmd"]
    tactics = [r["tactic"] for r in reqs[1:]]
    theorem = Theorem(source.replace("example", "theorem branching2", 1))
    res = go(theorem, tactics, "native", backend_settings={"pool_size": 1}, selector=BreadthFirst(),
             budget=SearchBudget(expansions=200, wall_seconds=60))
    assert res.proved and res.recheck.accepted, (res.proof, res.recheck)
    # the transcript's own path is a proof too: each of its states is in the tree
    assert res.proof == tactics  # the shortest proof is the transcript's own path


def test_command_line_search_writes_tree_and_dot(tmp_path, no_leaks):
    out = subprocess.run(
        [sys.executable, "-m", "treesearch", "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by sorry",
         "--backend", "native", "--pool-size", "1", "--tactics", *AND_INTRO_TACTICS, "--max-in-flight", "1",
         "--json", str(tmp_path / "t.json"), "--dot", str(tmp_path / "t.dot")],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout)
    assert summary["verified"] and summary["proof"] == AND_INTRO_TACTICS
    assert json.loads((tmp_path / "t.json").read_text())["format"] == "cryo-proof-tree/1"
    assert (tmp_path / "t.dot").read_text().startswith("digraph")
    bad = subprocess.run([sys.executable, "-m", "treesearch", "theorem t : True := trivial", "--backend", "native"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "must end in ':= by sorry'" in bad.stderr
