"""Results rows: the schema round-trips and a bad row is rejected with its file, line and field."""

from __future__ import annotations

import json

import pytest

from experiments.results import COUNTER_KEYS, TIME_KEYS, ResultRow, ResultsError, ResultsWriter, read_results


def row(**kw) -> ResultRow:
    base = dict(
        run="r", theorem="t", file="f.lean", difficulty=1, backend="criu", repeat=0, seed=0, status="proved",
        proved=True, proof=["intro h", "exact h"], proof_text="theorem t ...", recheck="passed",
        recheck_message="ok", expansions=2, nodes=3, wall_s=0.5, time_to_proof_s=0.4,
        time={k: 0.1 for k in TIME_KEYS}, peak_memory_bytes=10, image_bytes=20, expansion_latencies_s=[0.1, 0.2],
        errors=[], tree="trees/t.json", counters={"faults": 1, "warm_hits": 5, "evicted_rebuilds": 2,
                                                  "root_rebuilds": 0}, peak_processes=3,
    )
    base.update(kw)
    return ResultRow(**base)


def test_round_trip(tmp_path):
    p = tmp_path / "results.jsonl"
    with ResultsWriter(p) as w:
        w.write(row())
        w.write(row(theorem="u", status="wall", proved=False, proof=None, recheck="none", time_to_proof_s=None))
    rows = read_results(p)
    assert [r.theorem for r in rows] == ["t", "u"]
    assert rows[0] == row()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"status": "done"}, "status"),
        ({"proved": False}, "proved"),
        ({"proof": None}, "proof"),
        ({"recheck": "ok"}, "recheck"),
        ({"time": {"thaw": 1.0}}, "time"),
        ({"expansions": -1}, "expansions"),
        ({"wall_s": "fast"}, "wall_s"),
        ({"counters": {"faults": 1}}, "counters"),
        ({"counters": {**dict.fromkeys(COUNTER_KEYS, 0), "faults": -1}}, "counters"),
        ({"counters": {**dict.fromkeys(COUNTER_KEYS, 0), "colour": 1}}, "counters"),
        ({"peak_processes": None}, "peak_processes"),
        ({"peak_processes": 1.5}, "peak_processes"),
    ],
)
def test_bad_rows_are_rejected_on_read(tmp_path, change, field):
    data = json.loads(row().to_json())
    data.update(change)
    p = tmp_path / "results.jsonl"
    p.write_text(json.dumps(row().__dict__) + "\n" + json.dumps(data) + "\n")
    with pytest.raises(ResultsError) as ei:
        read_results(p)
    assert f"{p}:2" in str(ei.value) and repr(field) in str(ei.value)


def test_writer_refuses_a_bad_row_and_keeps_the_file(tmp_path):
    p = tmp_path / "results.jsonl"
    with ResultsWriter(p) as w:
        w.write(row())
        with pytest.raises(ResultsError):
            w.write(row(status="nope"))
    assert len(read_results(p)) == 1


def test_missing_and_unknown_fields(tmp_path):
    data = json.loads(row().to_json())
    del data["nodes"]
    with pytest.raises(ResultsError, match="missing fields"):
        ResultRow.from_dict(data)
    data = json.loads(row().to_json())
    data["colour"] = "blue"
    with pytest.raises(ResultsError, match="unknown fields"):
        ResultRow.from_dict(data)
    p = tmp_path / "x.jsonl"
    p.write_text("{not json\n")
    with pytest.raises(ResultsError, match=r"x.jsonl:1: not JSON"):
        read_results(p)


def test_counters_are_the_backends_and_required(tmp_path):
    from treesearch.backends import COUNTER_KEYS as BACKEND_COUNTERS

    assert COUNTER_KEYS == BACKEND_COUNTERS
    data = json.loads(row().to_json())
    assert data["counters"]["warm_hits"] == 5 and data["peak_processes"] == 3 and data["schema"] == 3
    for name in ("counters", "peak_processes"):
        missing = {k: v for k, v in data.items() if k != name}
        with pytest.raises(ResultsError, match=rf"missing fields \['{name}'\]"):
            ResultRow.from_dict(missing)


def test_schema_1_rows_are_read_with_counters_not_recorded(tmp_path):
    data = json.loads(row().to_json())
    del data["counters"], data["peak_processes"]
    data["schema"] = 1
    p = tmp_path / "old.jsonl"
    p.write_text(json.dumps(data) + "\n")
    (old,) = read_results(p)
    assert old.counters == {} and old.peak_processes is None and old.schema == 1
    data["schema"] = 7
    p.write_text(json.dumps(data) + "\n")
    with pytest.raises(ResultsError, match="schema 7"):
        read_results(p)


CALL = {"endpoint": "completions", "theorem": "basic_id", "depth": 1, "n_asked": 1, "n_returned": 1,
        "prompt_tokens": 40, "completion_tokens": 3, "latency": 0.02, "cached": False, "retries": 0,
        "seed": 123, "error": None, "prompts": 1}


def test_model_calls_round_trip_and_bad_ones_name_the_call_and_field(tmp_path):
    data = json.loads(row().to_json())
    assert data["model"] is None  # a proposer that records no model calls
    data["model"] = {"calls": [CALL, {**CALL, "error": "malformed reply", "n_returned": 0, "seed": None}],
                     "stats": {"calls": 2, "errors": 1, "prompt_tokens": 40, "latency_sum": 0.02}}
    p = tmp_path / "m.jsonl"
    p.write_text(json.dumps(data) + "\n")
    (back,) = read_results(p)
    assert back.model["calls"][1]["error"] == "malformed reply" and back.model["stats"]["calls"] == 2
    for broken, field in (({**CALL, "latency": -1.0}, "latency"), ({**CALL, "cached": 1}, "cached"),
                          ({**CALL, "depth": True}, "depth")):
        data["model"] = {"calls": [CALL, broken], "stats": {}}
        with pytest.raises(ResultsError, match=rf"field 'model' calls\[1\]\.{field}"):
            ResultRow.from_dict(data)
    data["model"] = {"calls": [{k: v for k, v in CALL.items() if k != "prompts"}], "stats": {}}
    with pytest.raises(ResultsError, match=r"calls\[0\] must be an object with exactly the keys"):
        ResultRow.from_dict(data)
    data["model"] = {"calls": []}
    with pytest.raises(ResultsError, match="exactly the keys \\['calls', 'stats'\\]"):
        ResultRow.from_dict(data)


def test_schema_2_rows_are_read_without_model_and_may_not_carry_one():
    data = json.loads(row().to_json())
    del data["model"]
    data["schema"] = 2
    assert ResultRow.from_dict(data).model is None
    data["model"] = {"calls": [], "stats": {}}
    with pytest.raises(ResultsError, match="appeared in schema 3"):
        ResultRow.from_dict(data)
