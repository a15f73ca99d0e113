"""The tautology generator: deterministic, valid (truth table), Lean 4 syntax, up to 8 atoms, many names."""

from __future__ import annotations

import collections

import pytest

from lean_env.terms import parse_term
from policies import PolicyError, generate_tautologies, is_tautology, parse_formula, render
from policies.formula import atoms, is_lean_identifier
from policies.goalview import formula_of_term
from policies.tautologies import FAMILIES, NAME_POOLS


def test_deterministic_for_a_seed():
    a = generate_tautologies(50, seed=7)
    assert a == generate_tautologies(50, seed=7)
    assert a != generate_tautologies(50, seed=8)


def test_every_item_is_a_tautology_with_its_atoms_bound():
    items = generate_tautologies(300, seed=1)
    for t in items:
        assert is_tautology(t.formula), t.statement
        assert set(atoms(t.formula)) == set(t.atoms)
        assert all(is_lean_identifier(n) for n in t.atoms)
        assert t.statement.startswith(f"theorem {t.name} ")
        assert t.statement.endswith(" := by sorry")
    assert len({t.name for t in items}) == len(items)
    counts = collections.Counter(len(t.atoms) for t in items)
    assert max(counts) == 8 and min(counts) <= 1
    assert {t.family for t in items} == set(FAMILIES) | {"random", "weakened"}
    pools_used = {pool for t in items for pool, names in NAME_POOLS.items() if set(t.atoms) <= set(names) and t.atoms}
    assert pools_used == set(NAME_POOLS)


def test_statements_round_trip_through_our_reader_and_lean_env_terms():
    for t in generate_tautologies(120, seed=2):
        text = render(t.formula)
        assert t.statement.endswith(f" : {text} := by sorry")
        assert parse_formula(text) == t.formula
        assert formula_of_term(parse_term(text)) == t.formula  # lean_env.terms reads it the same way


def test_min_atoms_and_families_knobs():
    wide = generate_tautologies(10, seed=3, min_atoms=7)
    assert all(len(t.atoms) >= 7 for t in wide)
    peirce = generate_tautologies(5, seed=3, families=["peirce"], pools=["greek"])
    assert {t.family for t in peirce} == {"peirce"}
    assert all(set(t.atoms) <= set(NAME_POOLS["greek"]) for t in peirce)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(max_atoms=9), "max_atoms"),
        (dict(families=["nope"]), "unknown tautology families \\['nope'\\]"),
        (dict(pools=["klingon"]), "unknown name pools \\['klingon'\\]"),
        (dict(families=["random"], min_atoms=8), "lower min_atoms"),
    ],
)
def test_bad_arguments_say_what_to_change(kwargs, message):
    with pytest.raises(PolicyError, match=message):
        generate_tautologies(3, **kwargs)


def test_cli_prints_a_suite_the_experiments_loader_reads(tmp_path):
    import subprocess
    import sys

    from experiments.suites import load_suite

    out = subprocess.run([sys.executable, "-m", "policies", "tautologies", "--count", "4", "--seed", "9",
                          "--min-atoms", "6"], capture_output=True, text=True, timeout=60, check=True).stdout
    suite = tmp_path / "taut.lean"
    suite.write_text(out)
    theorems = load_suite([suite])
    assert [t.name for t in theorems] == [t.name for t in generate_tautologies(4, seed=9, min_atoms=6)]
    bad = subprocess.run([sys.executable, "-m", "policies", "tautologies", "--max-atoms", "9"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "max_atoms (9)" in bad.stderr
