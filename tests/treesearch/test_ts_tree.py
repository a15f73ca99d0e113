"""The proof tree alone: transpositions, solver statuses, selection with virtual loss, export."""

from __future__ import annotations

import json

import networkx as nx
import pytest

from policies.base import SelectionScope

from treesearch.errors import TreeError
from treesearch.tree import ROOT, ProofTree, Status


def canon(goals):
    return tuple(" ".join(g.split()) for g in goals)


class First:
    """Always the first offered child."""

    scope = SelectionScope.TREE

    def select(self, parent, children):
        return 0


class FewestVisits:
    """The child with the fewest visits, counting in-flight ones (virtual loss)."""

    scope = SelectionScope.TREE

    def select(self, parent, children):
        return min(range(len(children)), key=lambda i: (children[i].visits + children[i].in_flight, i))


class Returns:
    scope = SelectionScope.TREE

    def __init__(self, value):
        self.value = value

    def select(self, parent, children):
        return self.value


first = First()
fewest_visits = FewestVisits()


def make():
    return ProofTree(["⊢ p ∧ q"], canonical_fn=canon)


def test_transposition_merges_same_goals_reached_two_ways():
    t = make()
    t.begin_expansion(ROOT)
    a = t.add_outcome(ROOT, "tac_a", goals=["⊢ p", "⊢ q"])
    b = t.add_outcome(ROOT, "tac_b", goals=["⊢ q"])
    t.end_expansion(ROOT)
    t.begin_expansion(a)
    b2 = t.add_outcome(a, "exact hp", goals=["⊢  q"])  # same goal, other whitespace
    t.end_expansion(a)
    assert b2 == b
    assert sorted(t.parents(b)) == sorted([ROOT, a])
    assert t.node(b)["depth"] == 1
    assert len(t) == 3


def test_cycle_is_a_failed_edge_not_a_loop():
    t = make()
    t.begin_expansion(ROOT)
    a = t.add_outcome(ROOT, "skip'", goals=["⊢ r"])
    t.end_expansion(ROOT)
    t.begin_expansion(a)
    back = t.add_outcome(a, "undo", goals=["⊢ p ∧ q"])
    t.end_expansion(a)
    assert back != ROOT
    assert t.node(back)["status"] is Status.FAILED
    assert t.edge(a, back)["outcome"] == "cycle"
    assert nx.is_directed_acyclic_graph(t.graph)
    # a's only child failed -> a exhausted -> root exhausted
    assert t.node(a)["status"] is Status.EXHAUSTED
    assert t.exhausted and t.select(first) is None


def test_proved_propagates_through_every_parent():
    t = make()
    t.begin_expansion(ROOT)
    a = t.add_outcome(ROOT, "constructor", goals=["⊢ p", "⊢ q"])
    t.add_outcome(ROOT, "bad", goals=None, message="unknown tactic")
    t.end_expansion(ROOT)
    t.begin_expansion(a)
    b = t.add_outcome(a, "exact hp", goals=["⊢ q"])
    t.end_expansion(a)
    assert t.node(a)["status"] is Status.OPEN
    t.begin_expansion(b)
    done = t.add_outcome(b, "exact hq", goals=[])
    t.end_expansion(b)
    assert t.node(done)["status"] is Status.PROVED
    assert t.proved and t.node(a)["status"] is Status.PROVED
    assert t.proof_tactics() == ["constructor", "exact hp", "exact hq"]
    assert t.select(first) is None


def test_exhausted_subtrees_are_never_selected():
    t = make()
    t.begin_expansion(ROOT)
    a = t.add_outcome(ROOT, "t1", goals=["⊢ a"])
    b = t.add_outcome(ROOT, "t2", goals=["⊢ b"])
    t.end_expansion(ROOT)
    t.begin_expansion(a)
    t.add_outcome(a, "x", goals=None, message="error")
    t.end_expansion(a)
    assert t.node(a)["status"] is Status.EXHAUSTED
    for _ in range(5):
        path = t.select(first)
        assert path == [ROOT, b]


def test_virtual_loss_spreads_concurrent_selections():
    t = make()
    t.begin_expansion(ROOT)
    kids = [t.add_outcome(ROOT, f"t{i}", goals=[f"⊢ g{i}"]) for i in range(3)]
    t.end_expansion(ROOT)
    for k in kids:  # expand every child so they stay selectable while in flight
        t.begin_expansion(k)
        for j in range(2):
            t.add_outcome(k, f"s{j}", goals=[f"⊢ g{k}_{j}"])
        t.end_expansion(k)
    seen = []
    for _ in range(3):
        path = t.select(fewest_visits)
        t.add_virtual_loss(path)
        t.begin_expansion(path[-1])
        seen.append(path[1])
    assert sorted(seen) == sorted(kids)
    assert t.root["in_flight"] == 3


def test_leaf_being_expanded_is_not_selected_twice():
    t = make()
    path = t.select(first)
    assert path == [ROOT]
    t.add_virtual_loss(path)
    t.begin_expansion(ROOT)
    assert t.select(first) is None
    t.end_expansion(ROOT, expanded=False)
    t.remove_virtual_loss(path)
    assert t.select(first) == [ROOT]
    with pytest.raises(TreeError, match="negative"):
        t.remove_virtual_loss([ROOT])


def test_backup_and_json_roundtrip_and_dot():
    t = make()
    t.begin_expansion(ROOT)
    a = t.add_outcome(ROOT, "constructor", goals=["⊢ p", "⊢ q"], handle="h-a", prior=0.5)
    t.add_outcome(ROOT, "nope", goals=None, message="unknown")
    t.end_expansion(ROOT)
    t.backup([ROOT, a], 0.25)
    data = json.loads(t.to_json(handle_fn=lambda h: {"ref": h}))
    back = ProofTree.from_dict(data, handle_fn=lambda v: v["ref"], canonical_fn=canon)
    assert back.node(a)["handle"] == "h-a"
    assert back.node(a)["visits"] == 1 and back.node(a)["prior"] == 0.5
    assert back.lookup(["⊢ p", "⊢ q"]) == a
    assert back.counts() == t.counts()
    nxt = back.add_outcome(a, "x", goals=["⊢ z"])
    assert nxt not in (ROOT, a) and nxt == len(t)
    dot = t.to_dot()
    assert dot.startswith("digraph") and '"constructor"' in dot and "n0 -> n1" in dot
    with pytest.raises(TreeError, match="format"):
        ProofTree.from_dict({"format": "other"})


def test_bad_selection_rule_is_reported():
    t = make()
    t.begin_expansion(ROOT)
    t.add_outcome(ROOT, "t", goals=["⊢ a"])
    t.end_expansion(ROOT)
    with pytest.raises(TreeError, match="returned 5 for 1 children"):
        t.select(Returns(5))


def test_frontier_selector_gets_open_leaves_and_path():
    class Deepest:
        scope = SelectionScope.FRONTIER

        def select(self, parent, children):
            return max(range(len(children)), key=lambda i: (children[i].depth, -children[i].order))

    t = make()
    t.begin_expansion(ROOT)
    a = t.add_outcome(ROOT, "t1", goals=["⊢ a"], prior=0.5)
    t.add_outcome(ROOT, "t2", goals=["⊢ b"], prior=0.5)
    t.end_expansion(ROOT)
    t.begin_expansion(a)
    aa = t.add_outcome(a, "t3", goals=["⊢ aa"], prior=0.25)
    t.end_expansion(a)
    assert t.select(Deepest()) == [ROOT, a, aa]
    st = t.stats(aa)
    assert st.depth == 2 and st.log_prior == pytest.approx(-(0.6931471805599453 + 1.3862943611198906))


def test_zero_prior_gives_minus_infinity_log_prior_and_strict_json():
    t = make()
    t.begin_expansion(ROOT)
    z = t.add_outcome(ROOT, "t0", goals=["⊢ z"], prior=0.0)
    t.end_expansion(ROOT)
    assert t.stats(z).log_prior == float("-inf")
    text = t.to_json()
    assert "Infinity" not in text
    back = ProofTree.from_json(text, canonical_fn=canon)
    assert back.stats(z).log_prior == float("-inf")


def test_settled_nodes_are_reported_once():
    t = make()
    t.begin_expansion(ROOT)
    a = t.add_outcome(ROOT, "t1", goals=["⊢ a"])
    b = t.add_outcome(ROOT, "t2", goals=["⊢ b"])
    t.end_expansion(ROOT)
    t.begin_expansion(a)
    t.add_outcome(a, "x", goals=None, message="no")
    t.end_expansion(a)
    assert t.pop_settled() == [a]
    assert t.pop_settled() == []
    t.begin_expansion(b)
    t.add_outcome(b, "done", goals=[])
    t.end_expansion(b)
    assert set(t.pop_settled()) >= {b, ROOT}


def test_goal_text_outside_lean_layout_is_a_state_of_its_own() -> None:
    """Regression: canonical_goal raises on text that is not a goal; the tree must still key such states
    (by their white-space-folded text) rather than fail the expansion."""
    tree = ProofTree(["p : Prop\n⊢ p"])
    child = tree.add_outcome(ROOT, "weird", goals=("no  turnstile\there",), handle=None, prior=1.0)
    assert tree.lookup(("no turnstile here",)) == child


def _expansions_to_proof(selector, depth=8, budget=400):
    """A synthetic search: every state has a main-line tactic (prior 0.98) one step nearer a proof `depth` steps
    down, and two fallbacks (prior 0.01 each) that lead to fresh states which never close.  Each expansion backs up
    0.5 (one goal left), 1.0 for the proof.  Returns the expansions until the root is proved."""
    t = ProofTree(["⊢ m0"], canonical_fn=canon)
    for expansions in range(1, budget + 1):
        path = t.select(selector)
        assert path is not None
        leaf = path[-1]
        goal = t.node(leaf)["goals"][0]
        t.begin_expansion(leaf)
        if goal.startswith("⊢ m"):
            d = int(goal[3:])
            t.add_outcome(leaf, "main", goals=[] if d + 1 == depth else [f"⊢ m{d + 1}"], prior=0.98)
        for j in range(2):
            t.add_outcome(leaf, f"fallback{j}", goals=[f"⊢ f{leaf}_{j}"], prior=0.01)
        t.end_expansion(leaf)
        t.backup(path, 1.0 if t.proved else 0.5)
        if t.proved:
            return expansions
    return None


def test_prior_aware_uct_follows_the_main_line_like_best_first():
    """Issue 13: classic UCT (+inf for unvisited children, prior ignored) spends its budget breadth-first on
    fallbacks; the prior-aware default needs the same expansions as best-first (one per proof step)."""
    from policies.selection import PUCT, UCT, BestFirst

    assert _expansions_to_proof(BestFirst()) == 8
    assert _expansions_to_proof(UCT()) == 8
    assert _expansions_to_proof(PUCT()) == 8
    classic = _expansions_to_proof(UCT(prior_weight=0.0, first_play_value=None))
    assert classic is None or classic > 50


def test_tree_walk_sees_the_prior_of_the_edge_it_would_take():
    """Regression (issue 13, taut_267_syllogism): a state first reached by a fallback (prior 0.01) and later by
    another parent's main-line tactic (prior 0.98) was offered to UCT/PUCT with the fallback's prior at that
    parent, which then descended into its fallbacks for the whole budget."""
    from policies.selection import PUCT, UCT

    t = ProofTree(["⊢ r"], canonical_fn=canon)
    t.begin_expansion(ROOT)
    a = t.add_outcome(ROOT, "main", goals=["⊢ a"], prior=0.98)
    s = t.add_outcome(ROOT, "fallback", goals=["⊢ s"], prior=0.02)
    t.end_expansion(ROOT)
    t.backup([ROOT, a], 0.5)
    t.backup([ROOT, s], 0.5)
    t.begin_expansion(a)
    assert t.add_outcome(a, "main", goals=["⊢ s"], prior=0.98) == s  # a transposition
    f = t.add_outcome(a, "fallback", goals=["⊢ f"], prior=0.02)
    t.end_expansion(a)
    t.backup([ROOT, a], 0.5)
    assert t.stats(s).prior == 0.02 and t.stats(s, parent=a).prior == 0.98 and t.stats(f, parent=a).prior == 0.02
    for selector in (UCT(), PUCT()):
        assert t.select(selector) == [ROOT, a, s]
