"""Run an experiment: every theorem of the suite, searched with one backend kind, into an output directory.

The loop over theorems and repeats, the run's context and Ctrl-C live here; the search itself is
`treesearch.search` (the same call `cryo compare`, `cryo demo` and the benchmarks make), the output directory
is `experiments.output`, the progress display `experiments.progress`.

The backend kind comes from the registry (`treesearch.backends.backend_kind`): before anything is written,
`preflight` loads the policies (the proposer built with `[policy.settings]`, and a model server's proposer
checks its server: `/v1/models` answers and names the model), makes one backend with the run's settings and
runs the kind's `preflight` checks; then the kind's `run_context` wraps the whole run (what its theorems share, e.g. criu's post-import
header images or native's warm repls), and each theorem gets a fresh backend from `kind.make(...)`.

Ctrl-C sets the run's stop signal: the current theorem's search ends as `interrupted` (its row says so; a
re-check is skipped or cut short), its backend is closed (which ends every repl process and removes every
image), the run context is left, and the summary is written (marked partial).
"""

from __future__ import annotations

import json
import math
import signal
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import anyio

from experiments.config import ExperimentConfig, repl_argv
from experiments.errors import RunError
from experiments.output import expand_output, prepare_output, tree_name, write_summary
from experiments.progress import Progress, RichProgress
from experiments.results import STATUSES, TIME_KEYS, ResultRow, ResultsWriter
from experiments.suites import Theorem as SuiteTheorem
from experiments.suites import load_suite

__all__ = ["RunError", "RunOutcome", "run_experiment", "repl_argv", "prepare_output", "preflight",
           "check_policies", "proposer_preflight", "model_record", "backend_settings", "Progress", "RichProgress",
           "DEFAULT_PROPOSER"]

# names other modules imported from here before the output and progress modules existed
_expand_output = expand_output


@dataclass
class RunOutcome:
    """What `run_experiment` did: where it wrote, the rows, and whether Ctrl-C cut it short.

    `shared` is what the backend kind's run context gave the run's theorems (closed by now): criu's
    `HeaderImages`, native's and pickle-warm's `WarmRepls`, or None; `header_builds` and `warm_repls_started`
    read its counts (`builds`: header images built; `started`: pool repls started, each ran the header once)."""

    output_dir: Path
    rows: list[ResultRow]
    interrupted: bool
    summary_path: Path
    theorems: int
    errors: list[str] = field(default_factory=list)
    shared: Any = None

    @property
    def header_builds(self) -> int:
        return int(getattr(self.shared, "builds", 0))

    @property
    def warm_repls_started(self) -> int:
        return int(getattr(self.shared, "started", 0))


# ------------------------------------------------------------------------------------------ set-up


DEFAULT_PROPOSER = "propositional"


def _load_policies(config: ExperimentConfig) -> tuple[Any, Any, Any]:
    """(selector, proposer, value or None) from `[search] algorithm` and `[policy]`; the proposer is built with
    the keyword arguments of `[policy.settings]`."""
    from policies import load_policy

    selector = load_policy("selector", config.policy.selector or config.search.algorithm)
    proposer = load_policy("proposer", config.policy.proposer or DEFAULT_PROPOSER, **dict(config.policy.settings))
    value = load_policy("value", config.policy.value) if config.policy.value else None
    return selector, proposer, value


async def proposer_preflight(proposer: Any) -> dict[str, Any] | None:
    """Run a proposer's own `async preflight()` (a model server's: `/v1/models` answers and names the model, a
    one-token probe parses), then close it; None for a proposer without one.  Raises what the proposer raises
    (`policies.openai_compat.PreflightError`: one line naming the URL and what is wrong)."""
    import inspect

    check = getattr(proposer, "preflight", None)
    if check is None or not inspect.iscoroutinefunction(check):
        return None
    try:
        return dict(await check())
    finally:
        aclose = getattr(proposer, "aclose", None)
        if aclose is not None and inspect.iscoroutinefunction(aclose):
            await aclose()


def check_policies(config: ExperimentConfig) -> dict[str, Any] | None:
    """Load the policies and run the proposer's preflight (`proposer_preflight`); a failure is one `RunError`
    naming the config and what was wrong.  Returns what the proposer's preflight found (None: nothing to
    check)."""
    from policies.errors import PolicyError

    where = config.source or "config"
    try:
        _selector, proposer, _value = _load_policies(config)
    except PolicyError as e:
        settings = " / [policy.settings]" if config.policy.settings else ""
        raise RunError(f"{where}: cannot load the policies ([search] algorithm, [policy] "
                       f"selector / proposer / value{settings}): {e}") from e
    try:
        return anyio.run(proposer_preflight, proposer)
    except PolicyError as e:
        raise RunError(f"{where}: [policy] proposer = {config.policy.proposer!r} cannot run: {e}") from e


def backend_settings(config: ExperimentConfig) -> dict[str, Any]:
    """What the backend kind's `make`, `run_context` and `preflight` get: the repl `argv`, `tactic_timeout` and
    the [backend] keys the kind reads."""
    return {"argv": repl_argv(config), "tactic_timeout": config.search.tactic_timeout,
            **config.backend.settings()}


def _kind(config: ExperimentConfig) -> Any:
    from treesearch.backends import backend_kind
    from treesearch.errors import BackendError

    try:
        return backend_kind(config.backend.kind)
    except BackendError as e:
        raise RunError(f"{config.source or 'config'}: [backend] kind = {config.backend.kind!r}: {e}") from e


def preflight(config: ExperimentConfig) -> list[Any]:
    """Fail (`RunError`) before anything is written when the policies cannot be loaded, the proposer's own
    preflight fails (a model server that does not answer, refuses the key or does not serve the model), the
    backend kind rejects its settings, or one of the kind's preflight checks fails; returns the kind's `Check`
    rows."""
    from treesearch.errors import TreeSearchError

    where = config.source or "config"
    check_policies(config)
    kind = _kind(config)
    settings = backend_settings(config)

    async def try_make() -> None:  # settings are checked by the constructor; nothing starts before open()
        backend = kind.make(settings)
        await backend.close()

    try:
        anyio.run(try_make)
    except TreeSearchError as e:
        raise RunError(f"{where}: [backend] settings rejected by the {kind.name} backend: {e}") from e
    checks = list(kind.preflight(settings))
    failed = [c for c in checks if not c.ok]
    if failed:
        raise RunError(f"[backend] kind = \"{kind.name}\" cannot run here: "
                       + "; ".join(f"{c.what}: {c.detail}" for c in failed)
                       + " (`cryo doctor` lists every backend kind's checks)")
    return checks


def _search_failures() -> tuple[type[BaseException], ...]:
    """The exception families of the packages a search runs through, plus OS errors: a failure of one
    theorem's search becomes that row's error, and the run goes on."""
    from criu_backend import CriuError
    from lean_env.client import ReplError
    from treesearch.errors import TreeSearchError

    return (CriuError, ReplError, TreeSearchError, OSError)


def _error_text(e: dict[str, Any]) -> str:
    where = f" (node {e['node']})" if e.get("node") is not None else ""
    return f"{e.get('kind', 'error')}{where}: {e.get('message', '')}"


def _finite(x: float) -> float:
    return x if math.isfinite(x) and x >= 0 else 0.0


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def model_record(proposer: Any) -> dict[str, Any] | None:
    """The results row's `model` field: the model calls a proposer made since the last take (`take_records()`,
    each a `CallRecord`: tokens, latency, cached, retries, error) and its totals (`stats()`); None for a
    proposer that records no model calls."""
    take = getattr(proposer, "take_records", None)
    if not callable(take):
        return None
    calls = [r.as_dict() if hasattr(r, "as_dict") else dict(r) for r in take()]
    stats = proposer.stats() if callable(getattr(proposer, "stats", None)) else {}
    return _jsonable({"calls": calls, "stats": stats})


# ------------------------------------------------------------------------------------------ one theorem


@dataclass
class _RunContext:
    """What every theorem of a run uses: the config, the backend kind and its settings, what the kind's run
    context shares, the stop signal (set by Ctrl-C) and where rows go."""

    config: ExperimentConfig
    kind: Any
    settings: Mapping[str, Any]
    shared: Any
    stop: anyio.Event
    out: Path
    progress: Progress


async def _search_one(ctx: _RunContext, thm: SuiteTheorem, *, repeat: int) -> ResultRow:
    """Search one theorem with a fresh backend through `treesearch.search`; always returns a row (failures of
    the backend's processes become row fields)."""
    from treesearch import SearchBudget, search
    from treesearch import Theorem as SearchTheorem

    config = ctx.config
    seed = config.search.seed + repeat
    imports = tuple(dict.fromkeys((*config.env.imports, *thm.imports)))
    target = SearchTheorem(source=thm.source, imports=imports, name=thm.name)
    budget = SearchBudget(
        expansions=config.search.max_expansions,
        wall_seconds=config.search.time_limit,
        tactic_timeout=config.search.tactic_timeout,
        memory_bytes=config.search.memory_limit or None,
        image_bytes=config.backend.image_budget,
    )
    expanded = 0

    def on_event(ev: dict[str, Any]) -> None:
        nonlocal expanded
        if ev.get("event") == "expanded":
            expanded += 1
            ctx.progress.expansion(expanded)

    selector, proposer, value = _load_policies(config)  # fresh per search: a policy may keep state
    ctx.progress.start_theorem(thm.name, config.search.max_expansions)
    result = await search(
        target,
        backend=lambda: ctx.kind.make(ctx.settings, shared=ctx.shared),
        proposer=proposer,
        selector=selector,
        budget=budget,
        max_in_flight=config.search.max_in_flight or config.backend.workers,
        seed=seed,
        tactics_per_expansion=config.search.tactics_per_expansion,
        value_fn=value,
        recheck=config.run.recheck,
        handle_sigint=False,
        on_event=on_event,
        stop=ctx.stop,
        failures=_search_failures(),
        batch_size=config.policy.batch_size,
        batch_wait=config.policy.batch_wait,
    )
    errors = [_error_text(e) for e in result.errors]
    if result.proved:
        status = "proved"
    elif ctx.stop.is_set():
        status = "interrupted"
    elif result.stopped_by in STATUSES:
        status = result.stopped_by
    else:
        status = "error"
        errors.append(f"the search stopped for an unknown reason {result.stopped_by!r}")
    proof = list(result.proof) if result.proved and result.proof else None
    if status == "proved" and proof is None:
        status = "error"
        errors.append("the tree is proved but yields no tactic path")
    proved = proof is not None
    recheck, recheck_message, proof_text = "none", "", None
    if proof is not None:
        recheck, recheck_message = result.recheck_status, result.recheck_note
        proof_text = target.with_proof(proof)
        if result.recheck_status in ("passed", "failed"):
            proof_text = result.recheck.source
    tree_rel = f"trees/{tree_name(thm.name, repeat, config.run.repeats)}"
    (ctx.out / tree_rel).write_text(result.tree.to_json(), encoding="utf-8")
    timings = result.timings
    return ResultRow(
        run=config.run.name,
        theorem=thm.name,
        file=str(thm.file),
        difficulty=thm.difficulty,
        backend=config.backend.kind,
        repeat=repeat,
        seed=seed,
        status=status,
        proved=proved,
        proof=proof,
        proof_text=proof_text,
        recheck=recheck,
        recheck_message=recheck_message,
        expansions=result.expansions,
        nodes=result.nodes,
        wall_s=_finite(result.wall + result.close_seconds),
        time_to_proof_s=_finite(result.time_to_proof) if proved and result.time_to_proof is not None else None,
        time={k: _finite(float(timings.get(k, 0.0))) for k in TIME_KEYS},
        peak_memory_bytes=int(result.peak_memory),
        image_bytes=int(result.peak_image_bytes),
        expansion_latencies_s=[_finite(x) for x in result.expansion_latencies],
        errors=errors,
        tree=tree_rel,
        counters={k: int(v) for k, v in result.counters.items()},
        peak_processes=int(result.peak_processes),
        extra={"peak_in_flight": result.peak_in_flight, "stopped_by": result.stopped_by,
               "backend_settings": _jsonable(result.backend_settings), "batching": _jsonable(result.batching)},
        model=model_record(proposer),
    )


# ------------------------------------------------------------------------------------------ the run


async def _watch_sigint(stop: anyio.Event) -> None:
    with anyio.open_signal_receiver(signal.SIGINT) as signals:
        async for _sig in signals:
            stop.set()


async def _run_all(config: ExperimentConfig, theorems: Sequence[SuiteTheorem], out: Path, writer: ResultsWriter,
                   rows: list[ResultRow], progress: Progress, state: dict[str, Any]) -> None:
    kind = _kind(config)
    settings = backend_settings(config)
    stop = state["stop"] = anyio.Event()
    async with anyio.create_task_group() as tg:
        if threading.current_thread() is threading.main_thread():
            tg.start_soon(_watch_sigint, stop)
        async with kind.run_context(settings) as shared:
            state["shared"] = shared
            ctx = _RunContext(config=config, kind=kind, settings=settings, shared=shared, stop=stop, out=out,
                              progress=progress)
            for repeat in range(config.run.repeats):
                for thm in theorems:
                    if stop.is_set():
                        break
                    row = await _search_one(ctx, thm, repeat=repeat)
                    writer.write(row)
                    rows.append(row)
                    progress.end_theorem(row)
        tg.cancel_scope.cancel()


def run_experiment(
    config: ExperimentConfig,
    *,
    output_dir: Path | None = None,
    progress: Progress | None = None,
    label: str | None = None,
) -> RunOutcome:
    """Run every theorem of `config`'s suite `repeats` times with `config.backend.kind`.

    Writes the output directory described in `experiments.output` and returns what was written.
    """
    theorems = load_suite(
        config.suite.paths,
        config.suite.names,
        exclude=config.suite.exclude,
        max_difficulty=config.suite.max_difficulty,
        limit=config.suite.limit,
        base_dir=config.suite.base_dir,
    )
    if not theorems:
        raise RunError(f"the suite of {config.source or 'the config'} selects no theorem "
                       f"(paths {list(config.suite.paths)}, names {list(config.suite.names)}); loosen [suite]")
    preflight(config)
    started = datetime.now(timezone.utc)
    out = prepare_output(config, output_dir, started=started)
    progress = progress or Progress()
    rows: list[ResultRow] = []
    state: dict[str, Any] = {"stop": None, "shared": None}
    interrupted = False
    total = len(theorems) * config.run.repeats
    progress.start_run(total, label or config.backend.kind)
    try:
        with ResultsWriter(out / "results.jsonl") as writer:
            anyio.run(_run_all, config, theorems, out, writer, rows, progress, state)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        interrupted = interrupted or bool(state["stop"] is not None and state["stop"].is_set())
        progress.end_run()
        summary = write_summary(out, config, rows, interrupted=interrupted, theorems=total)
    return RunOutcome(output_dir=out, rows=rows, interrupted=interrupted, summary_path=summary, theorems=total,
                      shared=state["shared"])
