"""A criu run shares one post-import header image across its theorems: the header is imported once."""

from __future__ import annotations

import os
from pathlib import Path

from experiments.runner import run_experiment

from exp_helpers import SMALL, check_run_dir, make_config

HEADER = """
[env]
imports = ["Mathlib"]
library_size = 50
"""


def test_criu_run_imports_the_header_once(tmp_path, criu):
    root = Path(os.environ["CRYO_IMAGE_ROOT"])
    before = set(os.listdir(root)) if root.exists() else set()
    outcome = run_experiment(make_config(tmp_path, backend="criu", extra=HEADER))
    rows = check_run_dir(outcome.output_dir, "criu")
    assert len(rows) == 3 == len(SMALL)
    assert outcome.header_builds == 1
    # the header build is timed as the first theorem's import; the others thaw the header image instead
    assert rows[0].time["import"] > 0
    assert [r.time["import"] for r in rows[1:]] == [0.0, 0.0]
    assert all(r.time["thaw"] > 0 for r in rows)
    after = set(os.listdir(root)) if root.exists() else set()
    assert after - before == set(), f"header images left under {root}: {sorted(after - before)}"


def test_non_criu_run_builds_no_header_image(tmp_path):
    outcome = run_experiment(make_config(tmp_path, backend="native", names=SMALL[:1], extra=HEADER))
    check_run_dir(outcome.output_dir, "native", names=SMALL[:1])
    assert outcome.header_builds == 0


def test_native_and_pickle_warm_runs_import_once_per_pool_member(tmp_path):
    import dataclasses

    for kind in ("native", "pickle-warm"):
        (tmp_path / kind).mkdir()
        config = make_config(tmp_path / kind, backend=kind, extra=HEADER)
        # one expansion in flight: a proof found meanwhile would cancel another expansion, and a repl whose
        # request was cancelled is ended rather than kept warm, which would make the count vary
        config = dataclasses.replace(config, search=dataclasses.replace(config.search, max_in_flight=1))
        outcome = run_experiment(config)
        rows = check_run_dir(outcome.output_dir, kind)
        assert len(rows) == 3 == len(SMALL)
        assert outcome.warm_repls_started == 2, kind  # [backend] workers = 2 repls for the whole run
        assert rows[0].time["import"] > 0
        assert [r.time["import"] for r in rows[1:]] == [0.0, 0.0], kind
