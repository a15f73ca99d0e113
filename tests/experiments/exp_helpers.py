"""Helpers of the experiments tests: small real configs over the bundled suite, and the check of a run directory.

A plain module (not a package: `tests/experiments` has no `__init__.py`, so that the name `experiments` always
means the real package of the checkout under test).
"""

from __future__ import annotations

import json
from pathlib import Path

from experiments.config import ExperimentConfig, load_config
from experiments.results import COUNTER_KEYS, TIME_KEYS, read_results

# Three propositional theorems of growing depth that the built-in proposer proves in a few expansions.
SMALL = ("basic_id", "comm_and", "demorgan_not_or")


def make_config(tmp_path: Path, *, backend: str, names=SMALL, extra: str = "") -> ExperimentConfig:
    names_toml = ", ".join(f'"{n}"' for n in names)
    text = f"""
[backend]
kind = "{backend}"
workers = 2
image_budget = "1GiB"

[search]
max_expansions = 24
time_limit = 60.0
tactic_timeout = 20.0
tactics_per_expansion = 4
seed = 0

[suite]
paths = ["bundled:*.lean"]
names = [{names_toml}]

[run]
output = "{tmp_path / 'out'}"

{extra}
"""
    cfg = tmp_path / f"{backend}.toml"
    cfg.write_text(text)
    return load_config(cfg)


def check_run_dir(out: Path, backend: str, names=SMALL) -> list:
    rows = read_results(out / "results.jsonl")  # validates every row against the schema
    assert [r.theorem for r in rows] == list(names)
    for r in rows:
        assert r.backend == backend
        assert r.proved and r.status == "proved", (r.theorem, r.status, r.errors)
        assert r.proof and r.recheck == "passed", (r.theorem, r.recheck, r.recheck_message)
        assert r.proof_text and "sorry" not in r.proof_text
        assert r.expansions >= 1 and r.nodes >= 2
        assert len(r.expansion_latencies_s) >= 1
        assert set(r.time) == set(TIME_KEYS)
        assert r.time["tactic"] > 0
        assert 0 < r.time_to_proof_s <= r.wall_s
        assert r.peak_memory_bytes > 0
        assert set(r.counters) == set(COUNTER_KEYS) and r.counters["faults"] == 0
        assert r.extra["backend_settings"]["tactic_timeout"] == 20.0
        tree = json.loads((out / r.tree).read_text())
        assert tree
    assert (out / "config.toml").read_text().startswith("\n[backend]")
    summary = (out / "summary.md").read_text()
    assert f"| {backend} | {len(names)}/{len(names)} |" in summary
    return rows
