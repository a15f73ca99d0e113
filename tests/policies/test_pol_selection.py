"""Selection math: hand-computed scores, the documented tie-break, exclusion, virtual loss, purity."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import (
    NO_CHILD,
    PUCT,
    UCT,
    UNVISITED_SCORE,
    BestFirst,
    BreadthFirst,
    NodeStats,
    NodeStatus,
    RandomSelection,
    SelectionScope,
    StatsError,
    best_first_scores,
    breadth_first_scores,
    puct_scores,
    random_scores,
    select_index,
    uct_scores,
)


def kids(*specs: dict) -> list[NodeStats]:
    return [NodeStats(order=i + 1, **spec) for i, spec in enumerate(specs)]


# ----------------------------------------------------------------------------- hand-computed values
def test_uct_scores_by_hand():
    parent = NodeStats(visits=10)
    children = kids(dict(visits=4, value_sum=2.0), dict(visits=1, value_sum=1.0), dict())
    scores = uct_scores(parent, children, c=2.0)
    # Q + c * sqrt(ln N / n): 0.5 + 2*sqrt(ln 10 / 4), 1.0 + 2*sqrt(ln 10 / 1), unvisited = +inf
    assert scores[0] == pytest.approx(0.5 + 2.0 * math.sqrt(math.log(10) / 4))
    assert scores[0] == pytest.approx(2.0174, abs=1e-4)
    assert scores[1] == pytest.approx(1.0 + 2.0 * math.sqrt(math.log(10)))
    assert scores[2] == UNVISITED_SCORE == math.inf


def test_puct_scores_by_hand():
    parent = NodeStats(visits=9)
    children = kids(dict(visits=2, value_sum=1.0, prior=0.5), dict(prior=0.3), dict(visits=1, value_sum=0.0, prior=0.2))
    scores = puct_scores(parent, children, c=1.0)
    # Q + c * P * sqrt(N) / (1 + n), with sqrt(9) = 3
    assert scores.tolist() == pytest.approx([0.5 + 0.5 * 3 / 3, 0.0 + 0.3 * 3 / 1, 0.0 + 0.2 * 3 / 2])
    assert scores.tolist() == pytest.approx([1.0, 0.9, 0.3])
    assert PUCT(c=1.0).select(parent, children) == 0


def test_puct_unvisited_value_knob():
    parent = NodeStats(visits=4)
    children = kids(dict(prior=0.5))
    assert puct_scores(parent, children, c=1.0, unvisited_value=0.25)[0] == pytest.approx(0.25 + 0.5 * 2 / 1)


def test_best_first_and_breadth_first_by_hand():
    root = NodeStats()
    a = root.child(0.5, order=1)
    b = root.child(0.25, order=2)
    aa = a.child(0.9, order=3)
    leaves = [b, aa]
    assert best_first_scores(root, leaves).tolist() == pytest.approx([math.log(0.25), math.log(0.5 * 0.9)])
    assert BestFirst().select(root, leaves) == 1  # 0.45 beats 0.25
    assert best_first_scores(root, leaves, depth_penalty=1.0).tolist() == pytest.approx(
        [math.log(0.25) - 1, math.log(0.45) - 2])
    assert BestFirst(depth_penalty=1.0).select(root, leaves) == 0
    assert breadth_first_scores(root, leaves).tolist() == [-1.0, -2.0]
    assert BreadthFirst().select(root, leaves) == 0


def test_child_stats_accumulate_log_prior_and_depth():
    root = NodeStats()
    c = root.child(0.5, order=7).child(0.5, order=9)
    assert (c.depth, c.order) == (2, 9)
    assert c.log_prior == pytest.approx(2 * math.log(0.5))
    assert root.child(0.0, order=1).log_prior == -math.inf


# ----------------------------------------------------------------------------- tie-break and exclusion
def test_tie_break_higher_prior_then_earlier_insertion():
    parent = NodeStats(visits=3)
    same = [NodeStats(visits=1, value_sum=0.5, prior=0.2, order=5),
            NodeStats(visits=1, value_sum=0.5, prior=0.2, order=2),
            NodeStats(visits=1, value_sum=0.5, prior=0.2, order=9)]
    assert UCT().select(parent, same) == 1  # equal score and prior: smallest order
    with_prior = same + [NodeStats(visits=1, value_sum=0.5, prior=0.3, order=11)]
    assert UCT().select(parent, with_prior) == 3  # equal score: higher prior
    assert select_index([1.0, 1.0, 2.0], same) == 2  # higher score first of all


def test_proved_and_exhausted_children_are_never_chosen():
    parent = NodeStats(visits=5)
    children = [NodeStats(order=1, status=NodeStatus.PROVED, prior=0.9),
                NodeStats(order=2, status=NodeStatus.EXHAUSTED, prior=0.9),
                NodeStats(order=3, visits=3, value_sum=0.0, prior=0.01)]
    for selector in (UCT(), PUCT(), BestFirst(), BreadthFirst(), RandomSelection(seed=3)):
        assert selector.select(parent, children) == 2
    dead = children[:2]
    for selector in (UCT(), PUCT(), BestFirst(), BreadthFirst(), RandomSelection()):
        assert selector.select(parent, dead) == NO_CHILD
        assert selector.select(parent, []) == NO_CHILD


def test_scopes():
    assert UCT().scope is PUCT().scope is SelectionScope.TREE
    assert BestFirst().scope is BreadthFirst().scope is SelectionScope.FRONTIER
    assert RandomSelection(scope="frontier").scope is SelectionScope.FRONTIER


def test_bad_statistics_are_rejected_with_the_reason():
    with pytest.raises(StatsError, match="visits=-1 is negative"):
        NodeStats(visits=-1)
    with pytest.raises(StatsError, match="prior=nan"):
        NodeStats(prior=float("nan"))
    with pytest.raises(StatsError, match="outside \\[0, 1\\]"):
        NodeStats().with_visit(1.5)
    with pytest.raises(StatsError, match="one score per child"):
        select_index([1.0], [])
    with pytest.raises(StatsError, match="virtual_loss"):
        uct_scores(NodeStats(), [], virtual_loss=2.0)


# ----------------------------------------------------------------------------- virtual loss
def test_virtual_loss_counts_in_flight_as_lost_visits():
    parent = NodeStats(visits=10, in_flight=2)
    child = NodeStats(visits=2, value_sum=2.0, in_flight=2, order=1)
    # n = 4, W = 2 + 0 * 2, N = 12
    assert uct_scores(parent, [child], c=1.0)[0] == pytest.approx(0.5 + math.sqrt(math.log(12) / 4))
    assert puct_scores(parent, [child], c=1.0)[0] == pytest.approx(0.5 + 1.0 * math.sqrt(12) / 5)
    # an in-flight leaf is not offered first by best-first while another leaf is free
    leaves = [NodeStats(order=1, log_prior=-0.1, in_flight=1, depth=1), NodeStats(order=2, log_prior=-5.0, depth=1)]
    assert BestFirst().select(NodeStats(), leaves) == 1
    assert BreadthFirst().select(NodeStats(), leaves) == 1


stats_st = st.builds(
    NodeStats,
    visits=st.integers(0, 50),
    value_sum=st.floats(0, 1),
    prior=st.floats(0.01, 1.0),
    in_flight=st.integers(0, 3),
    depth=st.integers(1, 10),
    log_prior=st.floats(-20, 0),
    order=st.integers(1, 10_000),
)


def _scaled(s: NodeStats) -> NodeStats:
    """value_sum must not exceed visits for a mean in [0, 1]."""
    return NodeStats(visits=s.visits, value_sum=s.value_sum * s.visits, prior=s.prior, in_flight=s.in_flight,
                     depth=s.depth, log_prior=s.log_prior, order=s.order)


@settings(max_examples=200, deadline=None)
@given(stats_st, st.integers(2, 100))
def test_property_virtual_loss_lowers_a_childs_score(child, parent_visits):
    child = _scaled(child)
    parent = NodeStats(visits=parent_visits + child.visits)  # N >= 2, so ln N > 0
    busier = child.with_in_flight(1)
    if child.visits + child.in_flight == 0:
        assert uct_scores(parent, [child])[0] == UNVISITED_SCORE
    assert uct_scores(parent, [busier])[0] < uct_scores(parent, [child])[0]
    assert puct_scores(parent, [busier])[0] < puct_scores(parent, [child])[0]
    assert (best_first_scores(parent, [busier], in_flight_penalty=1.0)[0]
            < best_first_scores(parent, [child], in_flight_penalty=1.0)[0])
    assert (breadth_first_scores(parent, [busier], in_flight_penalty=1.0)[0]
            < breadth_first_scores(parent, [child], in_flight_penalty=1.0)[0])
    if child.in_flight == 0:  # the default penalty is infinite: a leaf in flight goes last
        assert best_first_scores(parent, [busier])[0] == -math.inf


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.integers(0, 1000), st.floats(0.01, 1.0), st.permutations(list(range(12))))
def test_property_puct_equal_priors_no_visits_picks_in_insertion_order(n, parent_visits, prior, perm):
    orders = [o + 1 for o in perm[:n]]
    children = [NodeStats(prior=prior, order=o) for o in orders]
    parent = NodeStats(visits=parent_visits)
    picked = []
    remaining = list(children)
    while remaining:
        i = PUCT().select(parent, remaining)
        picked.append(remaining.pop(i).order)
    assert picked == sorted(orders)


@settings(max_examples=200, deadline=None)
@given(st.lists(stats_st, min_size=1, max_size=8), st.integers(0, 20))
def test_property_unvisited_child_beats_visited_ones_under_uct(visited, extra):
    visited = [_scaled(NodeStats(visits=max(s.visits, 1), value_sum=s.value_sum, prior=s.prior, order=i + 1))
               for i, s in enumerate(visited)]
    fresh = NodeStats(prior=0.001, order=100)
    parent = NodeStats(visits=sum(s.visits for s in visited) + extra)
    children = visited + [fresh]
    assert UCT(prior_weight=0.0, first_play_value=None).select(parent, children) == len(children) - 1


@settings(max_examples=100, deadline=None)
@given(st.lists(stats_st, min_size=1, max_size=8, unique_by=lambda s: s.order), stats_st, st.integers(0, 2**31))
def test_property_selectors_are_pure_and_pick_an_open_child(children, parent, seed):
    children = [_scaled(c) for c in children]
    for selector in (UCT(), PUCT(), BestFirst(), BreadthFirst(), RandomSelection(seed=seed)):
        first = selector.select(parent, children)
        assert first == selector.select(parent, list(children))
        assert 0 <= first < len(children)
        assert children[first].selectable


def test_random_selection_is_reproducible_and_spreads():
    parent = NodeStats(visits=0, order=0)
    children = [NodeStats(order=i + 1) for i in range(4)]
    picks = [RandomSelection(seed=s).select(parent, children) for s in range(200)]
    assert picks == [RandomSelection(seed=s).select(parent, children) for s in range(200)]
    counts = [picks.count(i) for i in range(4)]
    assert min(counts) > 20, counts  # roughly uniform: each of 4 children gets some of 200 draws
    scores = random_scores(parent, children, seed=1)
    assert ((scores >= 0) & (scores < 1)).all()
    later = NodeStats(visits=1, order=0)
    assert random_scores(later, children, seed=1).tolist() != scores.tolist()


# ----------------------------------------------------------------------------- prior-aware UCT (issue 13)
def test_uct_first_play_and_progressive_bias_by_hand():
    parent = NodeStats(visits=10)
    children = kids(dict(visits=4, value_sum=2.0, prior=0.9), dict(prior=0.1))
    scores = uct_scores(parent, children, c=2.0, prior_weight=1.0, first_play_value=0.5)
    # visited: Q + c*sqrt(ln N / n) + w*ln(P)/(n+1); unvisited: v + c*sqrt(ln N / 1) + w*ln(P)/1
    assert scores[0] == pytest.approx(0.5 + 2.0 * math.sqrt(math.log(10) / 4) + math.log(0.9) / 5)
    assert scores[1] == pytest.approx(0.5 + 2.0 * math.sqrt(math.log(10)) + math.log(0.1))
    assert scores.tolist() == pytest.approx([1.99636, 1.23227], abs=1e-4)
    # classic UCB1 is the knobs' zero: the prior is ignored and unvisited children come first
    assert uct_scores(parent, children, c=2.0)[1] == UNVISITED_SCORE
    assert UCT(prior_weight=0.0, first_play_value=None).select(parent, children) == 1
    assert UCT(c=2.0).select(parent, children) == 0


def test_uct_zero_prior_child_scores_minus_inf_and_bad_knobs_are_errors():
    parent = NodeStats(visits=3)
    assert uct_scores(parent, kids(dict(prior=0.0)), prior_weight=1.0, first_play_value=0.5)[0] == -math.inf
    assert not math.isnan(uct_scores(parent, kids(dict(prior=0.0)), prior_weight=0.0, first_play_value=0.5)[0])
    with pytest.raises(StatsError, match="prior_weight"):
        uct_scores(parent, kids(dict()), prior_weight=-1.0)
    with pytest.raises(StatsError, match="first_play_value"):
        uct_scores(parent, kids(dict()), first_play_value=1.5)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 1.0), st.floats(1e-6, 1.0), st.floats(1e-6, 1.0))
def test_property_uct_unvisited_children_are_ranked_by_prior(parent_visits, fpu, p1, p2):
    parent = NodeStats(visits=parent_visits)
    a, b = NodeStats(prior=p1, order=1), NodeStats(prior=p2, order=2)
    sa, sb = uct_scores(parent, [a, b], prior_weight=1.0, first_play_value=fpu)
    assert (sa > sb) == (p1 > p2) or p1 == p2


@settings(max_examples=200, deadline=None)
@given(st.integers(4, 1000), st.floats(0.0, 1.0), st.floats(0.05, 1.0), st.floats(1e-6, 1.0))
def test_property_uct_still_explores_every_child_given_enough_visits(n, q, prior, visited_prior):
    """Consistency kept: the exploration term grows with ln N, so a low-prior unvisited child eventually beats a
    child visited n >= 4 times, whatever its mean value."""
    visited = NodeStats(visits=n, value_sum=q * n, prior=visited_prior, order=1)
    fresh = NodeStats(prior=prior, order=2)
    parent = NodeStats(visits=2**60)
    assert UCT(first_play_value=0.0).select(parent, [visited, fresh]) == 1
