"""`cryo run` with `[policy] proposer = "openai"` end to end: real `cryo` processes, a real llama.cpp server
(llama-cpp-python, the tiny random model) or a stub server process, real MiniLean repls.

* The random model, kept by a GBNF grammar to tactics MiniLean knows, proves bundled theorems and every proof
  re-checks in a fresh repl; each row records the model calls (tokens, latency).
* A reply that arrives broken mid-run fails the nodes it was for, with the reason; the run goes on and proves
  the next theorem.
* A preflight failure (unknown model, unreachable server) is exit status 2 and one line naming the URL and
  the problem, before anything is written; `cryo doctor --config` says the same, or that the server is fine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.bench.llm_server import free_port
from experiments.results import read_results
from policies.openai_compat import tactic_grammar

ROOT = Path(__file__).resolve().parents[2]
THEOREMS = ["basic_id", "basic_const", "basic_and_left"]  # from experiments/suites/01_basics.lean
TACTICS = ["intro h", "intro h1", "intro h2", "exact h", "exact h1", "exact h.1", "exact h.2", "constructor",
           "assumption", "trivial"]


def toml_str(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's for these characters)."""
    return json.dumps(text, ensure_ascii=False)


def write_config(tmp_path: Path, *, url: str, model: str, names: list[str], settings: str = "",
                 backend: str = "native", in_flight: int = 2, batch_size: int = 4) -> Path:
    names_toml = ", ".join(toml_str(n) for n in names)
    cfg = tmp_path / "openai.toml"
    cfg.write_text(f"""
[backend]
kind = "{backend}"
workers = 2

[search]
algorithm = "best-first"
max_expansions = 200
time_limit = 120.0
tactic_timeout = 30.0
tactics_per_expansion = 8
max_in_flight = {in_flight}
seed = 0

[policy]
proposer = "openai"
batch_size = {batch_size}
batch_wait = 0.005

[policy.settings]
base_url = {toml_str(url)}
model = {toml_str(model)}
timeout = 30.0
{settings}

[suite]
paths = ["bundled:01_basics.lean"]
names = [{names_toml}]

[run]
output = {toml_str(str(tmp_path / "out"))}
""", encoding="utf-8")
    return cfg


def cryo(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    # `python -m` from the checkout: the code under test, whatever is installed
    return subprocess.run([sys.executable, "-m", "experiments.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=os.environ.copy())


@pytest.mark.timeout(400)
def test_cryo_run_with_the_openai_proposer_proves_and_rechecks_bundled_theorems(llama_server, tmp_path):
    grammar = tactic_grammar(TACTICS)
    cfg = write_config(tmp_path, url=llama_server.url, model=llama_server.model, names=THEOREMS, settings=f"""
template = "reprover"
n = 16
n_per_request = 1
max_tokens = 32
stop = []
extra_body = {{grammar = {toml_str(grammar)}}}
""")
    proc = cryo("run", str(cfg), "--no-progress")
    assert proc.returncode == 0, f"cryo run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    rows = read_results(tmp_path / "out" / "results.jsonl")  # validates every row, the model field included
    assert [r.theorem for r in rows] == THEOREMS
    for r in rows:
        assert r.status == "proved" and r.recheck == "passed", (r.theorem, r.status, r.recheck, r.errors)
        assert r.proof and all(t in TACTICS for t in r.proof), r.proof
        assert r.time["policy"] > 0
        calls = r.model["calls"]
        assert calls and all(c["theorem"] == r.theorem and c["error"] is None for c in calls)
        live = [c for c in calls if not c["cached"]]
        assert live and all(c["latency"] > 0 and c["prompt_tokens"] > 0 and c["completion_tokens"] > 0
                            for c in live)
        assert r.model["stats"]["model_calls"] == len(live) and r.model["stats"]["errors"] == 0
        # every expansion asked for 16 samples, one choice per request (llama-cpp-python returns one); the one
        # still in flight when another proved the theorem may have been cut short
        assert 16 * (r.expansions - 1) <= sum(c["n_returned"] for c in calls) <= 16 * r.expansions
        assert all(c["n_asked"] == c["n_returned"] == 1 for c in calls)
        assert r.extra["batching"]["requests"] == r.expansions and r.extra["batching"]["batch_size"] == 4
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "Model calls:" in summary and "0 failed" in summary


@pytest.mark.timeout(300)
def test_a_reply_broken_mid_run_fails_its_nodes_with_the_reason_and_the_run_goes_on(stub_server, tmp_path):
    # Every request gets the three tactics, except the requests for basic_id's states at depth 1: the server
    # answers those with a page that is not JSON.
    server = stub_server("script", json.dumps({"tactics": ["intro a", "intro b", "exact a"],
                                               "break_on": "basic_id @ 1"}))
    cfg = write_config(tmp_path, url=server.url, model="stub-model", names=["basic_id", "basic_const"],
                       in_flight=1, batch_size=1, settings="""
template = "{name} @ {depth}\\n[GOAL]\\n{state}\\n[PROOFSTEP]\\n"
n = 3
max_retries = 0
""")
    proc = cryo("run", str(cfg), "--no-progress")
    assert proc.returncode == 0, f"cryo run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr
    broken, good = read_results(tmp_path / "out" / "results.jsonl")
    assert broken.theorem == "basic_id" and broken.status == "exhausted" and not broken.proved
    failures = [e for e in broken.errors if e.startswith("policy (node")]
    assert failures and all("malformed reply, not JSON" in e and f"{server.url}/completions" in e
                            for e in failures), broken.errors
    bad_calls = [c for c in broken.model["calls"] if c["error"] is not None]
    assert len(bad_calls) == len(failures) and all(c["depth"] == 1 for c in bad_calls)
    assert broken.model["stats"]["errors"] == len(failures)
    tree = json.loads((tmp_path / "out" / broken.tree).read_text())
    assert sum("proposer failed" in (n.get("message") or "") for n in tree["nodes"]) == len(failures)
    # the run went on: the next theorem was proved with the same server and re-checked
    assert good.theorem == "basic_const" and good.status == "proved" and good.recheck == "passed"
    assert good.proof == ["intro a", "intro b", "exact a"] and good.model["stats"]["errors"] == 0


def test_an_unknown_model_stops_cryo_run_before_anything_is_written(llama_server, tmp_path):
    cfg = write_config(tmp_path, url=llama_server.url, model="internlm/internlm2_5-step-prover", names=THEOREMS)
    proc = cryo("run", str(cfg), "--no-progress", timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("cryo run: ") and f"model server {llama_server.url}/models" in lines[0]
    assert "unknown model 'internlm/internlm2_5-step-prover'" in lines[0] and "'cryo-tiny'" in lines[0]
    assert not (tmp_path / "out").exists()
    # cryo doctor --config reports the same problem, and that the right name is fine
    doctor = cryo("doctor", "--config", str(cfg), timeout=120)
    assert doctor.returncode != 0
    assert f"[FAIL] policies: {cfg}: [policy] proposer = 'openai' cannot run: model server " in doctor.stdout
    doctor = cryo("doctor", "--config", str(cfg), "--set", 'policy.settings.model="cryo-tiny"', timeout=120)
    assert (f"[  ok] policies: proposer 'openai': model server {llama_server.url} serves 'cryo-tiny', "
            "with log-probabilities") in doctor.stdout, doctor.stdout


def test_an_unreachable_server_stops_cryo_run_and_cryo_compare_before_anything_is_written(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    cfg = write_config(tmp_path, url=url, model="cryo-tiny", names=THEOREMS)
    for verb in (["run"], ["compare", "--backends", "native,pickle-warm"]):
        proc = cryo(*verb, str(cfg), "--no-progress", timeout=120)
        assert proc.returncode == 2, proc.stderr
        (line,) = proc.stderr.strip().splitlines()
        assert f"model server {url}/models: cannot connect" in line, line
        assert not (tmp_path / "out").exists()


def test_bad_settings_are_the_proposers_own_error_naming_the_config(tmp_path):
    cfg = write_config(tmp_path, url="http://127.0.0.1:9/v1", model="m", names=THEOREMS,
                       settings="temperature = -1.0\nbogus = 3")
    proc = cryo("run", str(cfg), "--no-progress", timeout=120)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert str(cfg) in line and "[policy.settings]" in line and "bogus" in line, line
    cfg.write_text(cfg.read_text().replace("bogus = 3", "api_key = \"sk-123\""))
    proc = cryo("run", str(cfg), "--no-progress", timeout=120)
    assert proc.returncode == 2 and "an API key never goes in a config" in proc.stderr
    assert "sk-123" not in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.timeout(400)
def test_the_worked_llamacpp_config_proves_its_theorems(llama_server, tmp_path):
    """experiments/configs/openai-llamacpp.toml as shipped, pointed at this session's server."""
    cfg = ROOT / "experiments" / "configs" / "openai-llamacpp.toml"
    out = tmp_path / "worked"
    proc = cryo("run", str(cfg), "--no-progress", "--backend", "native", "-o", str(out),
                "--set", f"policy.settings.base_url={toml_str(llama_server.url)}")
    assert proc.returncode == 0, f"cryo run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    rows = read_results(out / "results.jsonl")
    assert [r.theorem for r in rows] == THEOREMS
    assert all(r.status == "proved" and r.recheck == "passed" and r.model["stats"]["model_calls"] > 0
               for r in rows), [(r.theorem, r.status, r.errors) for r in rows]
