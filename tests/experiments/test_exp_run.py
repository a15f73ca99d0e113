"""End to end: a small real run per backend writes well-formed rows with re-checked proofs; compare writes the
table and plots with every backend; Ctrl-C keeps partial results and leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments.compare import compare_backends
from experiments.results import read_results
from experiments.runner import run_experiment

from exp_helpers import check_run_dir, make_config

PNG = b"\x89PNG\r\n\x1a\n"


def _processes_with_env(key: str, value: str) -> list[str]:
    """Processes (other than this one) whose environment has key=value, as "pid cmdline"."""
    import psutil

    found = []
    for p in psutil.process_iter():
        try:
            if p.pid != os.getpid() and p.environ().get(key) == value:
                found.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def test_run_criu(tmp_path, criu):
    out = run_experiment(make_config(tmp_path, backend="criu")).output_dir
    rows = check_run_dir(out, "criu")
    assert all(r.time["freeze"] > 0 and r.time["thaw"] > 0 and r.image_bytes > 0 for r in rows)


@pytest.mark.parametrize("backend", ["pickle", "pickle-warm", "native"])
def test_run_other_backends(tmp_path, backend):
    out = run_experiment(make_config(tmp_path, backend=backend)).output_dir
    rows = check_run_dir(out, backend)
    if backend.startswith("pickle"):
        assert all(r.time["pickle"] > 0 for r in rows)
    if backend in ("native", "pickle-warm"):  # a pool of [backend] workers = 2 repls, sampled while they run
        assert all(r.peak_processes == 2 for r in rows), [r.peak_processes for r in rows]


def test_repeats_and_unproved_rows(tmp_path):
    """An expansion budget of 1 cannot prove a deep theorem: the row says why, and has no proof."""
    cfg = make_config(tmp_path, backend="native", names=("basic_id", "deep_or_comm_four"),
                      extra="[compare]\nbackends = [\"native\"]\n")
    from dataclasses import replace

    cfg = replace(cfg, search=replace(cfg.search, max_expansions=1), run=replace(cfg.run, repeats=2))
    run = run_experiment(cfg)
    rows = read_results(run.output_dir / "results.jsonl")
    assert [(r.theorem, r.repeat) for r in rows] == [("basic_id", 0), ("deep_or_comm_four", 0),
                                                     ("basic_id", 1), ("deep_or_comm_four", 1)]
    deep = [r for r in rows if r.theorem == "deep_or_comm_four"]
    assert all(not r.proved and r.proof is None and r.recheck == "none" for r in deep)
    assert all(r.status in ("expansions", "exhausted") for r in deep)
    assert {r.seed for r in rows} == {0, 1}
    assert (run.output_dir / "trees" / "basic_id.r1.json").exists()


def test_compare_writes_table_and_plots_with_every_backend(tmp_path, criu):
    from PIL import Image

    cfg = make_config(tmp_path, backend="criu", names=("basic_id", "comm_and"))
    backends = ["criu", "pickle", "native"]
    outcome = compare_backends(cfg, backends=backends, output_dir=tmp_path / "cmp")
    report = outcome.report_path.read_text()
    for b in backends:
        assert f"| {b} | 2/2 | 2/2 |" in report
        check_run_dir(tmp_path / "cmp" / b, b, names=("basic_id", "comm_and"))
    assert [s.backend for s in outcome.summaries] == backends
    assert len(read_results(tmp_path / "cmp" / "results.jsonl")) == 6
    for name in ("proved_vs_time", "expansion_latency", "time_split"):
        p = tmp_path / "cmp" / f"{name}.png"
        assert p.read_bytes().startswith(PNG)
        assert f"({name}.png)" in report
        with Image.open(p) as im:
            assert im.info["Description"] == "backends: " + ", ".join(backends)


@pytest.mark.parametrize("backend", ["pickle", "criu"])
def test_ctrl_c_keeps_partial_results_and_leaves_nothing(tmp_path, backend, request):
    """SIGINT to the whole process group, as a terminal's Ctrl-C does, in the middle of a run."""
    if backend == "criu":
        request.getfixturevalue("criu")
    image_root = Path(os.environ["CRYO_IMAGE_ROOT"])
    images_before = set(image_root.iterdir())
    cfg = tmp_path / "long.toml"
    out = tmp_path / "out"
    cfg.write_text(f"""
[backend]
kind = "{backend}"
[search]
max_expansions = 200
time_limit = 120.0
[suite]
paths = ["bundled:*.lean"]
[run]
output = "{out}"
""")
    proc = subprocess.Popen([sys.executable, "-m", "experiments.cli", "run", str(cfg), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        results = out / "results.jsonl"
        while time.monotonic() < deadline:
            if results.exists() and results.read_text().count("\n") >= 2:
                break
            if proc.poll() is not None:
                pytest.fail(f"cryo run ended early: {proc.communicate()}")
            time.sleep(0.05)
        else:
            pytest.fail("no results row within 120 s")
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, (stdout, stderr)
    rows = read_results(out / "results.jsonl")
    assert 2 <= len(rows) < 147
    summary = (out / "summary.md").read_text()
    assert "**Interrupted**" in summary
    assert "partial results" in stdout
    # The repl processes the run started were in its session; none may survive it.
    # Zombies are not counted: an exited child of the dead run waits for init to reap it (and under
    # `unshare --pid`, pytest itself may be that init).
    rows = subprocess.run(["ps", "-s", str(proc.pid), "-o", "pid=,stat=,args="], capture_output=True,
                          text=True).stdout.splitlines()
    left = [r for r in rows if not r.split()[1].startswith("Z")]
    assert left == [], "processes left in the run's session:\n" + "\n".join(left)
    # criu's repls run in sessions of their own: find every process that inherited this session's image root.
    assert _processes_with_env("CRYO_IMAGE_ROOT", str(image_root)) == [], "processes survived the run"
    assert set(image_root.iterdir()) == images_before, "the run left image directories behind"


def test_users_own_policy_by_dotted_path_and_a_value_policy(tmp_path, monkeypatch):
    """[policy] proposer names a class in the user's module; [policy] value a builtin; both are used."""
    (tmp_path / "my_policies.py").write_text(
        "from policies.proposers import FixedTactics\n"
        "CALLS = []\n"
        "class IntroExact(FixedTactics):\n"
        "    def __init__(self):\n"
        "        super().__init__(['intro h', 'exact h'])\n"
        "    def propose(self, goals, *, rng):\n"
        "        CALLS.append(list(goals))\n"
        "        return super().propose(goals, rng=rng)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = make_config(tmp_path, backend="native", names=("basic_id",),
                      extra='[policy]\nproposer = "my_policies:IntroExact"\nvalue = "goal-size"\n')
    rows = read_results(run_experiment(cfg).output_dir / "results.jsonl")
    import my_policies

    assert my_policies.CALLS, "the user's proposer was never called"
    assert rows[0].proved and rows[0].proof == ["intro h", "exact h"] and rows[0].recheck == "passed"
    assert rows[0].time["policy"] > 0


def test_unloadable_policy_fails_before_any_output(tmp_path):
    from experiments.runner import RunError

    cfg = make_config(tmp_path, backend="native", extra='[policy]\nproposer = "no_such_module_xyz:P"\n')
    with pytest.raises(RunError, match=r"no_such_module_xyz"):
        run_experiment(cfg)
    assert not (tmp_path / "out").exists()


def test_ctrl_c_during_compare_still_writes_the_report(tmp_path):
    cfg = tmp_path / "long.toml"
    out = tmp_path / "cmp"
    cfg.write_text("""
[search]
max_expansions = 200
time_limit = 120.0
[suite]
paths = ["bundled:*.lean"]
[compare]
backends = ["pickle", "native"]
""")
    proc = subprocess.Popen([sys.executable, "-m", "experiments.cli", "compare", str(cfg), "-o", str(out),
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        first = out / "pickle" / "results.jsonl"
        deadline = time.monotonic() + 120
        while not (first.exists() and first.read_text().count("\n") >= 1):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no row from cryo compare: {proc.communicate()}")
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, (stdout, stderr)
    report = (out / "report.md").read_text()
    assert "**Interrupted**" in report and "Backends with no rows: native." in report
    assert "| pickle |" in report
    assert (out / "proved_vs_time.png").read_bytes().startswith(PNG)
    assert not (out / "native").exists()
    assert f"report: {out / 'report.md'}" in stdout
