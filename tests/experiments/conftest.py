"""Helpers for the experiments tests: small real configs over the bundled suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.config import ExperimentConfig, load_config

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


@pytest.fixture
def small_config():
    return make_config
