"""A backend kind from outside cryo, registered through the entry-point group `cryo.backends` by a real
distribution on the path, runs from a config with its own settings -- with no edit to cryo.

The distribution is a directory holding `cryo_relay/` (the kind: the native backend under another name, with
settings and a preflight of its own) and `cryo_relay-0.1.dist-info/` (METADATA and entry_points.txt), put on
`PYTHONPATH` of real `cryo` subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.results import read_results

REPO = Path(__file__).resolve().parents[2]

PLUGIN = '''
"""cryo_relay: a backend kind defined outside cryo."""

from treesearch.backends import BackendKind, Check, Setting
from treesearch.backends.native import NativeBackend


class RelayBackend(NativeBackend):
    name = "relay"

    def __init__(self, *, relay_pool=1, relay_tag="", **kw):
        super().__init__(pool_size=relay_pool, **kw)
        self.relay_tag = relay_tag

    def settings(self):
        return {**super().settings(), "relay_tag": self.relay_tag}


class RelayKind(BackendKind):
    def preflight(self, settings):
        if settings.get("relay_tag") == "refuse":
            return [Check(False, "relay tag", "the tag 'refuse' is refused; set [backend] relay_tag to another")]
        return [Check(True, "relay tag", repr(settings.get("relay_tag")))]


KIND = RelayKind("relay", "The native backend under another name (a test).", RelayBackend, settings=(
    Setting("relay_pool", "int", 1, "relay only: repls of the relay's pool.", minimum=1, maximum=4),
    Setting("relay_tag", "str", "", "A tag the relay backend reports in its settings."),
))
'''


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory) -> dict[str, str]:
    site = tmp_path_factory.mktemp("site")
    (site / "cryo_relay").mkdir()
    (site / "cryo_relay" / "__init__.py").write_text(PLUGIN)
    info = site / "cryo_relay-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cryo-relay\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[cryo.backends]\nrelay = cryo_relay:KIND\n")
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


def cryo(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "experiments.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


CONFIG = """
[backend]
kind = "{kind}"
relay_pool = 2
relay_tag = "{tag}"
freeze = "lazy"            # a criu key: checked, and ignored by the other kinds
[search]
max_expansions = 24
tactics_per_expansion = 4
[suite]
paths = ["bundled:*.lean"]
names = ["basic_id", "comm_and"]
"""


def test_entry_point_kind_runs_and_proves_with_its_own_settings(tmp_path, plugin_env):
    cfg = tmp_path / "relay.toml"
    cfg.write_text(CONFIG.format(kind="relay", tag="from-config"))
    proc = cryo(plugin_env, "run", str(cfg), "-o", str(tmp_path / "out"), "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_results(tmp_path / "out" / "results.jsonl")
    assert [r.theorem for r in rows] == ["basic_id", "comm_and"]
    for r in rows:
        assert r.backend == "relay" and r.proved and r.recheck == "passed", (r.status, r.errors)
        assert r.extra["backend_settings"]["relay_tag"] == "from-config"
        assert r.extra["backend_settings"]["pool_size"] == 2  # relay_pool reached the backend
        assert r.peak_processes == 2 and set(r.counters) == {"faults", "warm_hits", "evicted_rebuilds",
                                                             "root_rebuilds"}
    effective = json.loads((tmp_path / "out" / "effective.json").read_text())["config"]["backend"]
    assert effective["kind"] == "relay" and effective["relay_tag"] == "from-config"
    assert effective["ignored"] == ["freeze"]


def test_one_config_compares_an_entry_point_kind_with_a_builtin(tmp_path, plugin_env):
    cfg = tmp_path / "relay.toml"
    cfg.write_text(CONFIG.format(kind="relay", tag="x").replace('"comm_and"', ""))
    proc = cryo(plugin_env, "compare", str(cfg), "--backends", "native,relay", "-o", str(tmp_path / "cmp"),
                "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = (tmp_path / "cmp" / "report.md").read_text()
    assert "| native | 1/1 | 1/1 |" in report and "| relay | 1/1 | 1/1 |" in report


def test_entry_point_kind_preflight_and_settings_are_checked_before_anything_is_written(tmp_path, plugin_env):
    cfg = tmp_path / "relay.toml"
    cfg.write_text(CONFIG.format(kind="relay", tag="refuse"))
    proc = cryo(plugin_env, "run", str(cfg), "-o", str(tmp_path / "out"), "--no-progress")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "[backend] kind = \"relay\" cannot run here: relay tag: the tag 'refuse' is refused" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
    cfg.write_text(CONFIG.format(kind="relay", tag="x").replace("relay_pool = 2", "relay_pool = 0"))
    proc = cryo(plugin_env, "run", str(cfg), "-o", str(tmp_path / "out"), "--no-progress")
    assert proc.returncode == 2 and "[backend] relay_pool = 0: must be >= 1" in proc.stderr, proc.stderr
    cfg.write_text(CONFIG.format(kind="relay", tag="x") + "[compare]\nbackends = [\"relay\", \"relai\"]\n")
    proc = cryo(plugin_env, "run", str(cfg), "-o", str(tmp_path / "out"), "--no-progress")
    assert proc.returncode == 2 and "'relai'; allowed: criu, pickle, pickle-warm, native, relay" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_without_the_distribution_its_keys_are_unknown(tmp_path):
    cfg = tmp_path / "relay.toml"
    cfg.write_text(CONFIG.format(kind="native", tag="x"))
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    proc = cryo(env, "run", str(cfg), "-o", str(tmp_path / "out"), "--no-progress")
    assert proc.returncode == 2
    assert "unknown key `relay_pool` in [backend]; allowed keys: kind, workers, image_dir, image_budget" in proc.stderr


def test_doctor_and_the_config_reference_list_the_entry_point_kind(plugin_env):
    proc = cryo(plugin_env, "doctor", timeout=120)
    assert "[  ok] backend relay: relay tag: ''" in proc.stdout, proc.stdout
    for kind in ("criu", "pickle", "pickle-warm", "native"):
        assert f"backend {kind}:" in proc.stdout
    assert proc.returncode == 0, proc.stdout
    ref = subprocess.run([sys.executable, "-m", "experiments.config"], capture_output=True, text=True,
                         env=plugin_env, timeout=60).stdout
    assert "| `relay_pool` | int | `1` | int >= 1 and <= 4 | relay only: repls of the relay's pool. |" in ref
    assert "| `relay_tag` | str | `\"\"` | str | relay only: A tag the relay backend reports in its settings. |" in ref
    assert '"criu" \\| "pickle" \\| "pickle-warm" \\| "native" \\| "relay"' in ref
