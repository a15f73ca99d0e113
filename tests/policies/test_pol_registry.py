"""load_policy: builtin names, a class from this test module by dotted path (via a TOML config), entry points."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence

import numpy as np
import pytest

from policies import (
    PUCT,
    BestFirst,
    FixedTactics,
    NodeStats,
    PolicyLoadError,
    PropositionalProposer,
    TacticProposal,
    load_policy,
)


class ShoutingProposer:
    """A user policy defined in a test module: proposes its configured tactic for any goal."""

    def __init__(self, *, tactic: str = "trivial", prior: float = 1.0) -> None:
        self.tactic = tactic
        self.prior = prior

    def propose(self, goals: Sequence[str], *, rng: np.random.Generator) -> list[TacticProposal]:
        return [TacticProposal(self.tactic, self.prior)] if goals else []


class LastChildSelector:
    """A user selection rule: always the last child."""

    scope = "tree"

    def select(self, parent: NodeStats, children: Sequence[NodeStats]) -> int:
        return len(children) - 1


class Namespace:
    class Inner:
        def value(self, goals: Sequence[str]) -> float:
            return 0.25


NOT_A_POLICY = 42


def test_builtins_by_name_with_options():
    assert isinstance(load_policy("selector", "best-first"), BestFirst)
    puct = load_policy("selector", "puct", c=3.0)
    assert isinstance(puct, PUCT) and puct.c == 3.0
    assert isinstance(load_policy("proposer", "propositional", max_proposals=2), PropositionalProposer)
    fixed = load_policy("proposer", "fixed", tactics=["rfl", "trivial"])
    assert isinstance(fixed, FixedTactics)
    assert [p.tactic for p in fixed.propose(["⊢ True"], rng=np.random.default_rng(0))] == ["rfl", "trivial"]
    assert load_policy("value", "constant", constant=0.1).value(["⊢ True"]) == 0.1
    for name in ("uct", "bfs", "breadth-first", "random"):
        assert callable(load_policy("selector", name).select)


def test_user_policy_from_a_toml_config_by_dotted_path():
    config = tomllib.loads(
        f"""
        [search.proposer]
        spec = "{__name__}:ShoutingProposer"
        options = {{ tactic = "exact h", prior = 0.5 }}

        [search.selector]
        spec = "{__name__}:LastChildSelector"

        [search.value]
        spec = "{__name__}:Namespace.Inner"
        """
    )["search"]
    proposer = load_policy("proposer", config["proposer"]["spec"], **config["proposer"]["options"])
    assert isinstance(proposer, ShoutingProposer)
    assert proposer.propose(["p : Prop\nh : p\n⊢ p"], rng=np.random.default_rng(0)) == [TacticProposal("exact h", 0.5)]
    selector = load_policy("selector", config["selector"]["spec"])
    assert selector.select(NodeStats(), [NodeStats(order=1), NodeStats(order=2)]) == 1
    assert load_policy("value", config["value"]["spec"]).value([]) == 0.25


def test_user_policy_through_an_entry_point(tmp_path, monkeypatch):
    dist = tmp_path / "cryo_test_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cryo-test-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[cryo.policies]\nshouting = {__name__}:ShoutingProposer\nlast-child = {__name__}:LastChildSelector\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    proposer = load_policy("proposer", "shouting", tactic="left")
    assert isinstance(proposer, ShoutingProposer) and proposer.tactic == "left"
    assert isinstance(load_policy("selector", "last-child"), LastChildSelector)
    with pytest.raises(PolicyLoadError) as err:
        load_policy("selector", "nope")
    assert "'shouting'" in str(err.value) and "'last-child'" in str(err.value)  # installed entry points are listed


@pytest.mark.parametrize(
    "kind, spec, kwargs, message",
    [
        ("selector", "ucb", {}, r"unknown selector 'ucb'; use a builtin selector \('uct', 'puct', 'best-first'"),
        ("planner", "uct", {}, r"unknown policy kind 'planner'; use one of \['proposer', 'selector', 'value'\]"),
        ("proposer", "no_such_module_xyz:Thing", {}, r"cannot import module 'no_such_module_xyz'"),
        ("proposer", f"{__name__}:Missing", {}, r"has no attribute 'Missing'"),
        ("proposer", f"{__name__}:", {}, r"needs the form 'package.module:Class'"),
        ("proposer", f"{__name__}:NOT_A_POLICY", {}, r"neither callable nor has \.propose\(\)"),
        ("selector", f"{__name__}:ShoutingProposer", {}, r"has no \.select\(\) method"),
        ("proposer", f"{__name__}:ShoutingProposer", {"colour": "red"}, r"cannot build it with options \{'colour': 'red'\}"),
        ("selector", "  ", {}, r"spec must be a non-empty string"),
    ],
)
def test_errors_name_the_spec_and_what_is_allowed(kind, spec, kwargs, message):
    with pytest.raises(PolicyLoadError, match=message):
        load_policy(kind, spec, **kwargs)
