"""`cryo bench llm`: what the proposer seam costs per expansion, and model calls per second, at 1, 4 and 16
expansions in flight against a local OpenAI-compatible server, with the batching window off and on.

The server is real: llama-cpp-python's ``llama_cpp.server`` (the `llm` extra) serving the tiny random llama
model of :mod:`experiments.bench.llm_server`, on 127.0.0.1, started for this part and killed and reaped by pid
at its end.  The load is the search driver's: ``in_flight`` concurrent expansions, each asking the real
``OpenAIProposer`` -- wrapped as the driver wraps it, ``as_async_proposer`` inside a ``BatchWindow`` -- for
``k`` tactics for a distinct proof state (no cache), ``n`` samples each, kept by a GBNF grammar to tactics
MiniLean knows.  No repl runs here: this part isolates the policy side of an expansion.

Per run: model calls per second (calls completed / wall), expansions per second, the proposal latency an
expansion awaits, and the **overhead per expansion**: that latency minus the longest model call made for that
expansion (the HTTP requests of one state run concurrently, so the longest is the least the state could take);
what remains is the batch window's wait, queueing behind ``max_concurrency`` and the seam's own work (thread
hops, priors, ``finalize``).  Medians over ``repeat`` runs with their range.  The floor: one request at a time,
sent by hand with httpx (no seam).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from experiments.bench.common import BenchError, markdown_table

__all__ = ["LLM_TACTICS", "run_llm", "llm_markdown"]

# What the grammar allows: tactics MiniLean knows (the tests' list).
LLM_TACTICS = ("intro h", "intro h1", "intro h2", "exact h", "exact h1", "exact h.1", "exact h.2", "constructor",
               "assumption", "trivial")


def _goal(i: int) -> str:
    return f"p{i} q : Prop\nh : p{i} ∧ q\n⊢ q ∧ p{i}"


async def _one_run(url: str, model: str, *, in_flight: int, expansions: int, n: int, batch_size: int,
                   batch_wait: float, max_concurrency: int, salt: str) -> dict[str, Any]:
    import anyio
    import numpy as np

    from policies.openai_compat import OpenAIProposer, tactic_grammar
    from policies.seam import BatchWindow, ProposalContext, as_async_proposer

    proposer = OpenAIProposer(model=model, base_url=url, template="reprover", n=n, n_per_request=1, max_tokens=16,
                              stop=[], cache=False, max_retries=0, max_concurrency=max_concurrency,
                              extra_body={"grammar": tactic_grammar(list(LLM_TACTICS))})
    rng = np.random.default_rng(0)
    waits: dict[str, float] = {}
    errors: list[str] = []
    next_i = 0
    try:
        async with BatchWindow(as_async_proposer(proposer), max_batch=min(batch_size, in_flight),
                               max_wait=batch_wait) as window:
            async def worker() -> None:
                nonlocal next_i
                while next_i < expansions:
                    i = next_i
                    next_i += 1
                    name = f"{salt}-e{i}"
                    ctx = ProposalContext(theorem_name=name, statement=f"theorem {name}", goals=(_goal(i),),
                                          path=("intro h",) * (i % 3))
                    t0 = time.perf_counter()
                    try:
                        await window.propose(ctx, n, rng=rng)
                    except Exception as e:  # noqa: BLE001 -- counted and reported, the run goes on
                        errors.append(f"{type(e).__name__}: {e}")
                    waits[name] = time.perf_counter() - t0

            t0 = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for _ in range(in_flight):
                    tg.start_soon(worker)
            wall = time.perf_counter() - t0
            batching = window.stats()
    finally:
        await proposer.aclose()
    records = proposer.take_records()
    longest: dict[str, float] = {}
    for r in records:
        longest[r.theorem] = max(longest.get(r.theorem, 0.0), r.latency)
    overheads = [waits[name] - longest.get(name, 0.0) for name in waits]
    live = [r for r in records if not r.cached]
    return {
        "wall_s": wall,
        "model_calls": len(live),
        "calls_per_s": len(live) / wall if wall > 0 else 0.0,
        "expansions_per_s": len(waits) / wall if wall > 0 else 0.0,
        "proposal_s": statistics.median(waits.values()),
        "call_s": statistics.median(r.latency for r in live) if live else 0.0,
        "overhead_s": statistics.median(overheads),
        "overhead_max_s": max(overheads),
        "mean_batch": batching["mean_batch"],
        "largest_batch": batching["largest_batch"],
        "errors": errors[:5],
        "error_count": len(errors),
    }


async def _floor(url: str, model: str, samples: int) -> float:
    """Median seconds of one completion request sent by hand (no seam), one at a time."""
    import httpx

    from policies.openai_compat import tactic_grammar

    body = {"model": model, "prompt": f"[GOAL]\n{_goal(0)}\n[PROOFSTEP]\n", "max_tokens": 16, "n": 1,
            "temperature": 1.0, "logprobs": 1, "grammar": tactic_grammar(list(LLM_TACTICS))}
    out = []
    async with httpx.AsyncClient(timeout=60.0) as client:
        for i in range(samples):
            t0 = time.perf_counter()
            resp = await client.post(f"{url}/completions", json={**body, "seed": i})
            out.append(time.perf_counter() - t0)
            if resp.status_code != 200:
                raise BenchError(f"the model server answered HTTP {resp.status_code}: {resp.text[:200]}")
    return statistics.median(out)


def _summary(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": list(runs)}
    for key in ("calls_per_s", "expansions_per_s", "proposal_s", "call_s", "overhead_s", "mean_batch"):
        values = [r[key] for r in runs]
        out[key] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    out["errors"] = sum(r["error_count"] for r in runs)
    return out


def run_llm(*, in_flight: Sequence[int], expansions: int, repeat: int, n: int, batch_size: int,
            batch_wait: float, max_concurrency: int = 16, threads: int = 1,
            log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Start the local server, measure every (batching, in flight) pair ``repeat`` times (interleaved), stop it."""
    import anyio

    from experiments.bench.llm_server import LlmServerError, start_llama_server, write_tiny_llama

    settings = {"batching off": 1, f"batching on (window {batch_size}, {batch_wait * 1000:g} ms)": batch_size}
    with tempfile.TemporaryDirectory(prefix="cryo-bench-llm-") as tmp:
        try:
            model = write_tiny_llama(Path(tmp) / "tiny.gguf")
            server = start_llama_server(model, Path(tmp) / "server.log", threads=threads)
        except LlmServerError as e:
            raise BenchError(f"cannot start the local model server: {e}") from e
        with server:
            log(f"llm: llama_cpp.server pid {server.pid} at {server.url}, up in {server.start_seconds:.1f} s")
            anyio.run(lambda: _one_run(server.url, server.model, in_flight=max(in_flight), expansions=4, n=n,
                                       batch_size=1, batch_wait=0.0, max_concurrency=max_concurrency,
                                       salt="warm-up"))  # first connections, grammar parsing: not measured
            floor = anyio.run(_floor, server.url, server.model, 10)
            runs: dict[str, dict[int, list[dict[str, Any]]]] = {s: {m: [] for m in in_flight} for s in settings}
            for rep in range(repeat):
                for m in in_flight:
                    for label, size in settings.items():
                        r = anyio.run(lambda: _one_run(server.url, server.model, in_flight=m, expansions=expansions,
                                                       n=n, batch_size=size, batch_wait=batch_wait,
                                                       max_concurrency=max_concurrency,
                                                       salt=f"r{rep}-m{m}-b{size}"))
                        log(f"llm: {label}, {m} in flight, repeat {rep + 1}: {r['calls_per_s']:.1f} calls/s, "
                            f"overhead {r['overhead_s'] * 1000:.1f} ms")
                        runs[label][m].append(r)
            server_log = server.log_tail(2000)
            alive = server.proc.poll() is None
    if not alive:
        raise BenchError(f"the model server died during the measurements:\n{server_log}")
    return {
        "settings": {"in_flight": list(in_flight), "expansions": expansions, "repeat": repeat, "n": n,
                     "k": n, "batch_size": batch_size, "batch_wait_s": batch_wait, "max_concurrency": max_concurrency,
                     "server": f"llama-cpp-python llama_cpp.server, --n_threads {threads}, tiny random llama "
                               "(64 dims, 2 layers), one choice per request",
                     "grammar_tactics": len(LLM_TACTICS), "max_tokens": 16},
        "floor_call_s": floor,
        "results": {label: {str(m): _summary(rs) for m, rs in by_m.items()} for label, by_m in runs.items()},
    }


def _range(s: dict[str, float], scale: float = 1.0, digits: int = 1) -> str:
    return (f"{s['median'] * scale:.{digits}f} ({s['min'] * scale:.{digits}f}–{s['max'] * scale:.{digits}f})")


def llm_markdown(res: dict[str, Any]) -> str:
    st = res["settings"]
    rows = []
    for label, by_m in res["results"].items():
        for m, s in by_m.items():
            rows.append([label, m, _range(s["calls_per_s"]), _range(s["expansions_per_s"]),
                         _range(s["call_s"], 1000), _range(s["proposal_s"], 1000), _range(s["overhead_s"], 1000),
                         f"{s['mean_batch']['median']:.1f}", str(s["errors"])])
    return "\n".join([
        f"The openai proposer through the seam (as the driver wraps it: `as_async_proposer` in a `BatchWindow`) "
        f"against {st['server']}, on 127.0.0.1. Each run: {st['expansions']} expansions, each a distinct proof "
        f"state asking for k = {st['k']} tactics from n = {st['n']} samples (no cache, a GBNF grammar over "
        f"{st['grammar_tactics']} tactics, at most {st['max_tokens']} tokens), with the given number in flight; "
        f"at most {st['max_concurrency']} HTTP requests at once. Medians of {st['repeat']} runs, range in "
        "brackets. Overhead per expansion = the proposal's wait minus the longest model call made for it. "
        f"One request sent by hand, one at a time: {res['floor_call_s'] * 1000:.1f} ms (the floor).",
        "",
        markdown_table(["window", "in flight", "model calls/s", "expansions/s", "model call, ms",
                        "proposal wait, ms", "overhead per expansion, ms", "mean batch", "errors"], rows),
    ])
