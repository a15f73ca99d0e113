"""`cryo bench --quick` end to end on real processes (MiniLean, CRIU): every file, section and row is there.

No timing assertions: speed lives in the benchmark's own output.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.bench.seed_table import seed_rows
from experiments.bench.throughput import QUICK_THEOREMS, search_backends
from treesearch.backends import backend_names

BACKENDS = search_backends()

PARTS = ("seed", "snapshot", "images", "search", "variants", "profile", "llm")
LLM_KEYS = ("calls_per_s", "expansions_per_s", "proposal_s", "call_s", "overhead_s", "mean_batch")
SEED_MEDIANS = ("import_s", "pickle_to_s", "unpickle_env_s", "fresh_start_s", "freeze_s", "thaw_reply_cold_s",
                "thaw_reply_warm_s", "restore_cold_s", "restore_warm_s", "bare_reply_cold_s", "bare_reply_warm_s",
                "lazy_reply_cold_s", "lazy_reply_warm_s", "lazy_settled_s", "pool_take_reply_s",
                "rss_after_import_mb", "pickle_bytes")
SNAPSHOT_KEYS = ("freeze_s", "image_mb", "thaw_reply_cold_s", "thaw_reply_warm_s", "thaw_reply_lazy_s",
                 "lazy_settled_s", "pool_take_reply_s", "refreeze_thawed_s", "fork_reply_s")
FANOUT_KEYS = ("wall_s", "bare_criu_wall_s", "lazy_wall_s", "mem_used_mb", "rss_sum_mb", "lazy_rss_sum_mb")
SEARCH_KEYS = ("theorems", "proved", "expansions", "wall_s", "expansions_per_s", "theorems_per_min", "time_s",
               "time_share", "peak_memory_bytes", "image_bytes")


def _tables(markdown: str) -> list[list[str]]:
    """Blocks of consecutive `|`-lines outside fenced code."""
    blocks, cur = [], []
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if line.startswith("|") and not fenced:
            cur.append(line)
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return blocks


def _cells(line: str) -> int:
    return len(re.split(r"(?<!\\)\|", line.strip())) - 2


@pytest.fixture(scope="module")
def quick_run(criu, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "out"
    proc = subprocess.run([sys.executable, "-m", "experiments.bench", "--quick", "--output", str(out)],
                          capture_output=True, text=True, timeout=240, env=os.environ.copy())
    assert proc.returncode == 0, f"cryo bench --quick failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert f"report: {out / 'report.md'}" in proc.stdout
    return out


def test_every_file_is_written(quick_run: Path) -> None:
    for part in PARTS:
        assert (quick_run / f"{part}.json").is_file(), part
        assert (quick_run / f"{part}.md").read_text().startswith("## "), part
    assert (quick_run / "profile.txt").read_text().strip()
    assert "<html" in (quick_run / "profile.html").read_text().lower()
    runs = list(quick_run.glob("search-*"))
    assert len(runs) == 1 and (runs[0] / "report.md").is_file() and (runs[0] / "results.jsonl").is_file()


def test_json_has_every_row(quick_run: Path) -> None:
    bench = json.loads((quick_run / "bench.json").read_text())
    assert set(bench["parts"]) == set(PARTS)
    for part in PARTS:
        p = bench["parts"][part]
        assert p["quick"] is True
        assert len(p["machine_before"]["load_average"]) == 3
    seeds = bench["parts"]["seed"]["result"]["storages"]
    assert set(seeds) == {"heap", "mmap"}
    for storage, seed in seeds.items():
        assert set(SEED_MEDIANS) <= set(seed["median"]), storage
        assert all(v >= 0 for v in seed["median"].values()), storage
        assert seed["image_bytes"] > 0 and seed["image_du_bytes"] > 0 and seed["pickle_kb"] > 0, storage
        assert seed["library_size"] == 100 and seed["library_storage"] == storage
    # the mapped premise index stays out of the image (a 100-lemma index is 14.5 MB)
    assert seeds["heap"]["image_bytes"] - seeds["mmap"]["image_bytes"] > 10e6
    snap = bench["parts"]["snapshot"]["result"]
    assert set(snap["sizes"]) == {"20"} and set(SNAPSHOT_KEYS) <= set(snap["sizes"]["20"])
    assert set(snap["fanout"]) == {"1", "2"}
    for row in snap["fanout"].values():
        assert set(FANOUT_KEYS) <= set(row)
    assert set(bench["parts"]["search"]["result"]["storages"]) == {"mmap"}
    search = bench["parts"]["search"]["result"]["storages"]["mmap"]
    assert search["settings"]["library_storage"] == "mmap"
    assert set(search["backends"]) == set(BACKENDS) == set(backend_names())
    for name, row in search["backends"].items():
        assert set(SEARCH_KEYS) <= set(row), name
        assert row["theorems"] == len(QUICK_THEOREMS) and row["expansions"] >= 1, name
    # image bytes are measured (pickle files here; criu with a lazy root and warm clones may need no image)
    assert search["backends"]["pickle"]["image_bytes"] > 0
    images = bench["parts"]["images"]["result"]
    for kind in ("anon", "file"):
        assert set(images[kind]) == {"image_mb", "freeze_s", "thaw_reply_warm_s"}, kind
    var = bench["parts"]["variants"]["result"]["variants"]
    assert set(var) == {"criu", "criu + lazy thaw", "criu, keep_warm=4", "native (2 workers, reference)"}
    for row in var.values():
        assert row["theorems"] == len(QUICK_THEOREMS) and row["expansions"] >= 1
    llm = bench["parts"]["llm"]["result"]  # a real llama.cpp server, batching off and on, 1 and 4 in flight
    assert llm["floor_call_s"] > 0 and llm["settings"]["in_flight"] == [1, 4]
    assert list(llm["results"]) == ["batching off", "batching on (window 4, 5 ms)"]
    for label, by_m in llm["results"].items():
        assert set(by_m) == {"1", "4"}, label
        for m, row in by_m.items():
            assert row["errors"] == 0 and len(row["runs"]) == 1, (label, m)
            assert set(LLM_KEYS) <= set(row) and row["calls_per_s"]["median"] > 0, (label, m)
            assert row["runs"][0]["model_calls"] == 4 * 2  # 4 expansions, 2 samples, one choice per request
    # with the window on and 4 in flight, requests were merged; with it off, never
    assert llm["results"]["batching on (window 4, 5 ms)"]["4"]["runs"][0]["largest_batch"] > 1
    assert llm["results"]["batching off"]["4"]["runs"][0]["largest_batch"] == 1
    prof = bench["parts"]["profile"]["result"]
    assert prof["expand_s"] > 0 and prof["tactics"] and len(prof["outcomes"]) == len(prof["tactics"])
    names = [t["name"] for t in bench["targets"]]
    assert len(names) == 2 * 7 + 1 + 2  # seed per storage, fan-out, search (one storage)
    for t in bench["targets"]:
        assert t["measured"] is not None and t["met"] in (True, False), t


def test_markdown_is_well_formed(quick_run: Path) -> None:
    report = (quick_run / "report.md").read_text()
    for title in ("## Targets", "## 1. The seed's table", "## 2. Snapshot scaling", "## 2b. Smaller images",
                  "## 3. Search throughput", "## 3b. criu backend variants", "## Profile of one criu expansion",
                  "## 4. Model proposer"):
        assert title in report, title
    seed = json.loads((quick_run / "seed.json").read_text())["result"]["storages"]["mmap"]
    for row in seed_rows(seed):
        assert f"| {row['name']} |" in report, row["name"]
    assert "**Library storage mmap.**" in report
    for backend in BACKENDS:
        assert f"| {backend} |" in report
    tables = _tables(report)
    assert len(tables) >= 6
    for table in tables:
        width = _cells(table[0])
        assert re.fullmatch(r"\|(---\|)+", table[1]) and _cells(table[1]) == width
        for line in table[2:]:
            assert _cells(line) == width, line
