"""The results schema: one `ResultRow` per (theorem, repeat) in `results.jsonl`, validated on read."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any, Iterator

from treesearch.backends.base import COUNTER_KEYS

__all__ = [
    "SCHEMA_VERSION",
    "STATUSES",
    "RECHECKS",
    "TIME_KEYS",
    "COUNTER_KEYS",
    "ResultRow",
    "ResultsError",
    "ResultsWriter",
    "read_results",
]

SCHEMA_VERSION = 3
# Schema 1 rows (before `counters` and `peak_processes`) are still read: `counters` {} and `peak_processes`
# None there mean "not recorded".  Schema 2 rows (before `model`) are read with `model` None.
READABLE_SCHEMAS = (1, 2, 3)
# One model call of the row's `model.calls` (policies.openai_compat.CallRecord): field -> allowed JSON types.
CALL_FIELDS: dict[str, tuple[type, ...]] = {
    "endpoint": (str,), "theorem": (str,), "depth": (int,), "n_asked": (int,), "n_returned": (int,),
    "prompt_tokens": (int,), "completion_tokens": (int,), "latency": (int, float), "cached": (bool,),
    "retries": (int,), "seed": (int, type(None)), "error": (str, type(None)), "prompts": (int,),
}

# Why the search of one theorem ended.
STATUSES = ("proved", "exhausted", "expansions", "wall", "memory", "interrupted", "open-failed", "error")
# The fresh-repl verdict on a found proof: "passed" / "failed"; "skipped" when [run] recheck = false;
# "none" when there was no proof to check; "error" when the re-check process itself could not run.
RECHECKS = ("passed", "failed", "skipped", "none", "error")
# Seconds per kind of work (summed over processes): the backend's split plus the policy's own time.
TIME_KEYS = ("thaw", "freeze", "tactic", "pickle", "import", "policy")
# COUNTER_KEYS (treesearch.backends.base): faults, warm_hits, evicted_rebuilds, root_rebuilds -- what the
# backend counted during the search.


class ResultsError(ValueError):
    """A results file or row that does not follow the schema; the message names the file, line and field."""


@dataclass
class ResultRow:
    """One search of one theorem.

    Times are seconds; `wall_s` is the whole search of this theorem (open to stop), `time_to_proof_s` the
    wall time until the proof was found (None if none).  `time` splits busy time by kind (summed over
    processes, so it may exceed `wall_s` with several workers).  `peak_memory_bytes` is the largest summed
    RSS of the repl processes sampled during the search; `image_bytes` the largest bytes of stored images /
    pickles.  `expansion_latencies_s` holds the wall time of every expansion, in order.  `counters` are the
    backend's counters (`COUNTER_KEYS`: faults, warm hits, evicted-state rebuilds, root rebuilds) and
    `peak_processes` the most repl processes it held at once (schema 1 rows: `{}` and None, not recorded).
    `model` is what a model-server proposer recorded during this search: `calls` (one object per model call or
    cache hit: tokens, latency, retries, error; see `CALL_FIELDS`) and `stats` (its totals); None when the
    proposer records no model calls (and in schema 1-2 rows).
    """

    run: str
    theorem: str
    file: str
    difficulty: int | None
    backend: str
    repeat: int
    seed: int
    status: str
    proved: bool
    proof: list[str] | None
    proof_text: str | None
    recheck: str
    recheck_message: str
    expansions: int
    nodes: int
    wall_s: float
    time_to_proof_s: float | None
    time: dict[str, float]
    peak_memory_bytes: int
    image_bytes: int
    expansion_latencies_s: list[float]
    errors: list[str]
    tree: str | None
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTER_KEYS, 0))
    peak_processes: int | None = 0
    schema: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] | None = None

    def to_json(self) -> str:
        """One JSON line (no newline)."""
        return json.dumps(asdict(self), ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "<row>") -> "ResultRow":
        """Validate a decoded JSON object into a row."""
        if not isinstance(data, dict):
            raise ResultsError(f"{where}: a results row is a JSON object, got {type(data).__name__}")
        names = [f.name for f in fields(cls)]
        schema = data.get("schema", SCHEMA_VERSION)
        if schema not in READABLE_SCHEMAS:
            raise ResultsError(f"{where}: schema {schema!r}; this reader knows schemas "
                               f"{', '.join(map(str, READABLE_SCHEMAS))}")
        later = ("counters", "peak_processes")  # fields schema 1 did not have
        optional = ("schema", "extra", "model", *(later if schema == 1 else ()))
        missing = [n for n in names if n not in data and n not in optional]
        if missing:
            raise ResultsError(f"{where}: missing fields {missing}")
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ResultsError(f"{where}: unknown fields {unknown}; this reader knows schema {SCHEMA_VERSION}")
        if schema == 1:
            data = {**data, "counters": data.get("counters", {}), "peak_processes": data.get("peak_processes")}

        def need(name: str, ok: bool, what: str) -> None:
            if not ok:
                raise ResultsError(f"{where}: field {name!r} = {data.get(name)!r} must be {what}")

        def is_num(v: Any) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

        for n in ("run", "theorem", "file", "backend", "recheck_message"):
            need(n, isinstance(data[n], str), "a string")
        for n in ("repeat", "seed", "expansions", "nodes", "peak_memory_bytes", "image_bytes"):
            need(n, isinstance(data[n], int) and not isinstance(data[n], bool) and data[n] >= 0, "an int >= 0")
        need("difficulty", data["difficulty"] is None or isinstance(data["difficulty"], int), "an int or null")
        need("status", data["status"] in STATUSES, f"one of {STATUSES}")
        need("recheck", data["recheck"] in RECHECKS, f"one of {RECHECKS}")
        need("proved", isinstance(data["proved"], bool), "a boolean")
        need("proved", data["proved"] == (data["status"] == "proved"), "true exactly when status is \"proved\"")
        need("proof", data["proof"] is None or (isinstance(data["proof"], list)
                                                and all(isinstance(t, str) for t in data["proof"])),
             "null or an array of tactic strings")
        need("proof", (data["proof"] is not None) == data["proved"], "present exactly when proved")
        need("proof_text", data["proof_text"] is None or isinstance(data["proof_text"], str), "null or a string")
        need("wall_s", is_num(data["wall_s"]) and data["wall_s"] >= 0, "a number >= 0")
        need("time_to_proof_s", data["time_to_proof_s"] is None or is_num(data["time_to_proof_s"]),
             "null or a number")
        need("time", isinstance(data["time"], dict) and set(data["time"]) == set(TIME_KEYS)
             and all(is_num(v) and v >= 0 for v in data["time"].values()),
             f"an object with exactly the keys {TIME_KEYS}, each a number >= 0")
        need("expansion_latencies_s", isinstance(data["expansion_latencies_s"], list)
             and all(is_num(v) and v >= 0 for v in data["expansion_latencies_s"]), "an array of numbers >= 0")
        need("errors", isinstance(data["errors"], list) and all(isinstance(e, str) for e in data["errors"]),
             "an array of strings")
        need("tree", data["tree"] is None or isinstance(data["tree"], str), "null or a relative path")
        def is_count(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= 0

        counters, peak = data["counters"], data["peak_processes"]
        need("counters", isinstance(counters, dict) and all(is_count(v) for v in counters.values())
             and (set(counters) == set(COUNTER_KEYS) or (schema == 1 and not counters)),
             f"an object with exactly the keys {COUNTER_KEYS}, each an int >= 0")
        need("peak_processes", is_count(peak) or (schema == 1 and peak is None), "an int >= 0")
        need("extra", isinstance(data.get("extra", {}), dict), "an object")
        _check_model(data.get("model"), where, schema)
        return cls(**data)


def _check_model(model: Any, where: str, schema: int) -> None:
    """`model` is null, or `{"calls": [CALL_FIELDS objects], "stats": {name: number}}` (schema 3 only)."""
    if model is None:
        return
    if schema < 3:
        raise ResultsError(f"{where}: field 'model' appeared in schema 3; this row says schema {schema}")

    def bad(what: str) -> ResultsError:
        return ResultsError(f"{where}: field 'model' {what}")

    if not isinstance(model, dict) or set(model) != {"calls", "stats"}:
        raise bad("must be null or an object with exactly the keys ['calls', 'stats']")
    stats = model["stats"]
    if not isinstance(stats, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                              and math.isfinite(v) and v >= 0 for v in stats.values()):
        raise bad(f"stats = {stats!r} must be an object of numbers >= 0")
    calls = model["calls"]
    if not isinstance(calls, list):
        raise bad(f"calls must be an array, got {type(calls).__name__}")
    for i, call in enumerate(calls):
        if not isinstance(call, dict) or set(call) != set(CALL_FIELDS):
            raise bad(f"calls[{i}] must be an object with exactly the keys {sorted(CALL_FIELDS)}, got {call!r}")
        for name, types in CALL_FIELDS.items():
            value = call[name]
            ok = isinstance(value, bool) if bool in types else (isinstance(value, types)
                                                                 and not isinstance(value, bool))
            if ok and isinstance(value, (int, float)) and not isinstance(value, bool):
                ok = math.isfinite(value) and (value >= 0 or name == "seed")
            if not ok:
                allowed = " or ".join("null" if t is type(None) else t.__name__ for t in types)
                raise bad(f"calls[{i}].{name} = {value!r} must be {allowed}" + (" >= 0" if int in types else ""))


class ResultsWriter:
    """Appends rows to a results.jsonl, flushing and fsyncing each so an interrupted run keeps them."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fh: IO[str] | None = self.path.open("a", encoding="utf-8")

    def write(self, row: ResultRow) -> None:
        if self._fh is None:
            raise ResultsError(f"{self.path}: writer already closed")
        line = row.to_json()
        ResultRow.from_dict(json.loads(line), where=f"{self.path} (row being written)")
        self._fh.write(line + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "ResultsWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_results(path: Path) -> Iterator[ResultRow]:
    """Rows of a results.jsonl, each validated; a bad line raises `ResultsError` naming it."""
    p = Path(path)
    try:
        fh = p.open(encoding="utf-8")
    except OSError as e:
        raise ResultsError(f"cannot read results file {p}: {e}") from e
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as e:
                raise ResultsError(f"{p}:{lineno}: not JSON: {e}") from e
            yield ResultRow.from_dict(data, where=f"{p}:{lineno}")


def read_results(path: Path) -> list[ResultRow]:
    """All rows of a results.jsonl, validated."""
    return list(iter_results(path))
