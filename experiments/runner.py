"""Run an experiment: every theorem of the suite, searched with one backend, into an output directory.

Output directory layout:

    config.toml      the config file as given (plus `effective.json`: every key's effective value)
    results.jsonl    one `experiments.results.ResultRow` per (theorem, repeat), written as each one ends
    trees/NAME.json  the proof tree of each search (`NAME.rK.json` when repeats > 1)
    summary.md       the table of `experiments.summary`, rewritten at the end (also after Ctrl-C)

Ctrl-C stops the current theorem's search (its row says `interrupted`), closes the backend (which ends
every repl process and removes every image), writes the summary and returns.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import anyio

from experiments.config import ExperimentConfig
from experiments.results import STATUSES, TIME_KEYS, ResultRow, ResultsWriter
from experiments.suites import Theorem as SuiteTheorem
from experiments.suites import load_suite
from experiments.summary import summarize_by_backend, table_markdown

__all__ = ["RunError", "RunOutcome", "run_experiment", "repl_argv", "prepare_output", "Progress"]


class RunError(RuntimeError):
    """An experiment that could not start or could not write its output; the message says what to do."""


@dataclass
class RunOutcome:
    """What `run_experiment` did: where it wrote, the rows, and whether Ctrl-C cut it short."""

    output_dir: Path
    rows: list[ResultRow]
    interrupted: bool
    summary_path: Path
    theorems: int
    errors: list[str] = field(default_factory=list)
    header_builds: int = 0  # criu: post-import header images built (one per repl argv / imports in the run)
    warm_repls_started: int = 0  # native, pickle-warm: pool repls started (each ran the header once)


# ------------------------------------------------------------------------------------------ repl command


def repl_argv(config: ExperimentConfig) -> list[str]:
    """The repl argv of the experiment: `[env] command`, else MiniLean or `lake env repl`."""
    env = config.env
    from lean_env.repl_cmd import lake_repl_argv, minilean_argv

    if not env.command and env.repl == "lake":
        return list(lake_repl_argv(project=env.cwd))  # `lake -d PROJECT env repl` runs from any directory
    if env.command:
        argv = list(env.command)
    else:
        argv = list(minilean_argv(library_size=env.library_size, imports=tuple(env.imports),
                                  library_storage=env.library_storage))
    if env.cwd is not None:
        # The backends start processes in the current directory; coreutils `env --chdir` moves the repl.
        argv = ["env", f"--chdir={env.cwd}", *argv]
    return argv


# ------------------------------------------------------------------------------------------ output


def _expand_output(config: ExperimentConfig, started: datetime) -> Path:
    template = config.run.output
    try:
        text = template.format(name=config.run.name, time=started.strftime("%Y%m%dT%H%M%SZ"))
    except (KeyError, IndexError, ValueError) as e:
        raise RunError(
            f"[run] output = {template!r}: bad placeholder ({e}); only {{name}} and {{time}} are known"
        ) from e
    return Path(text).expanduser()


def prepare_output(config: ExperimentConfig, output_dir: Path | None, *, started: datetime) -> Path:
    """Create the output directory (it must not exist or be empty) and copy the config into it."""
    out = Path(output_dir) if output_dir is not None else _expand_output(config, started)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunError(f"output directory {out} already exists and is not empty; "
                       "choose another [run] output (or --output), or remove it")
    try:
        (out / "trees").mkdir(parents=True, exist_ok=True)
        (out / "config.toml").write_text(config.text, encoding="utf-8")
        effective = {"source": str(config.source) if config.source else None,
                     "overrides": [list(o) for o in config.overrides], "config": config.as_dict()}
        (out / "effective.json").write_text(json.dumps(effective, indent=1, default=str), encoding="utf-8")
    except OSError as e:
        raise RunError(f"cannot write the output directory {out}: {e}") from e
    return out


def write_summary(out: Path, config: ExperimentConfig, rows: Sequence[ResultRow], *, interrupted: bool,
                  theorems: int, extra: str = "") -> Path:
    """summary.md: what ran, the table, and one line per theorem."""
    lines = [f"# cryo run `{config.run.name}`", ""]
    if interrupted:
        lines += [f"**Interrupted** (Ctrl-C) after {len(rows)} of {theorems} searches; the rows below are partial.",
                  ""]
    lines += [
        f"- config: `{config.source or '<inline>'}`" + (f" with overrides {dict(config.overrides)}"
                                                         if config.overrides else ""),
        f"- repl: `{' '.join(repl_argv(config))}`",
        f"- backend: {config.backend.kind}, workers {config.backend.workers}; search: {config.search.algorithm}, "
        f"{config.search.max_expansions} expansions / {config.search.time_limit:g} s per theorem, "
        f"seed {config.search.seed}",
        "",
        table_markdown(summarize_by_backend(rows)) if rows else "(no rows)",
        "",
    ]
    if extra:
        lines += [extra, ""]
    lines += ["| theorem | repeat | status | re-check | expansions | wall | proof |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        proof = "; ".join(r.proof).replace("|", "\\|") if r.proof else ""
        cell = f"`{proof}`" if proof else ""
        lines.append(f"| {r.theorem} | {r.repeat} | {r.status} | {r.recheck} | {r.expansions} | "
                     f"{r.wall_s:.2f} s | {cell} |")
    path = out / "summary.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ instrumentation


class _TimedPolicy:
    """Delegates to a proposer, selector or value and adds the seconds its calls take to `clock['policy']`."""

    def __init__(self, inner: Any, clock: dict[str, float]) -> None:
        self._inner = inner
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def propose(self, *args: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self._inner.propose(*args, **kw)
        finally:
            self._clock["policy"] += time.perf_counter() - t0

    def select(self, *args: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self._inner.select(*args, **kw)
        finally:
            self._clock["policy"] += time.perf_counter() - t0

    def value(self, *args: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self._inner.value(*args, **kw)
        finally:
            self._clock["policy"] += time.perf_counter() - t0


class _TimedBackend:
    """Delegates to a backend and records the wall time of every `expand` call (one expansion)."""

    def __init__(self, inner: Any, latencies: list[float]) -> None:
        self._inner = inner
        self._latencies = latencies

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def expand(self, handle: Any, tactics: Sequence[str], **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await self._inner.expand(handle, tactics, **kw)
        finally:
            self._latencies.append(time.perf_counter() - t0)


# ------------------------------------------------------------------------------------------ progress


class Progress:
    """Progress callbacks of a run; the base class shows nothing.  `RichProgress` draws bars."""

    def start_run(self, total: int, label: str) -> None: ...
    def start_theorem(self, name: str, budget: int) -> None: ...
    def expansion(self, n: int) -> None: ...
    def end_theorem(self, row: ResultRow) -> None: ...
    def end_run(self) -> None: ...


class RichProgress(Progress):
    """Two rich progress bars: the run (theorems) and the current theorem (expansions out of its budget)."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as _P

        self.console = console or Console(stderr=True)
        self._p = _P(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                     console=self.console, transient=False)
        self._run = None
        self._thm = None
        self._proved = 0
        self._done = 0
        self._label = ""

    def start_run(self, total: int, label: str) -> None:
        self._label = label
        self._p.start()
        self._run = self._p.add_task(f"{label}: 0 proved", total=total)

    def start_theorem(self, name: str, budget: int) -> None:
        if self._thm is not None:
            self._p.remove_task(self._thm)
        self._thm = self._p.add_task(f"  {name}", total=budget)

    def expansion(self, n: int) -> None:
        if self._thm is not None:
            self._p.update(self._thm, completed=n)

    def end_theorem(self, row: ResultRow) -> None:
        self._done += 1
        self._proved += row.proved
        mark = "[green]proved[/]" if row.proved else f"[yellow]{row.status}[/]"
        check = "" if row.recheck in ("none", "skipped") else f", re-check {row.recheck}"
        self._p.console.print(f"{row.backend:>11} {row.theorem:<28} {mark} in {row.wall_s:.2f} s, "
                              f"{row.expansions} expansions{check}", highlight=False, soft_wrap=True)
        if self._run is not None:
            self._p.update(self._run, advance=1, description=f"{self._label}: {self._proved} proved")

    def end_run(self) -> None:
        if self._thm is not None:
            self._p.remove_task(self._thm)
            self._thm = None
        self._p.stop()


# ------------------------------------------------------------------------------------------ one theorem


DEFAULT_PROPOSER = "propositional"


def _load_policies(config: ExperimentConfig) -> tuple[Any, Any, Any]:
    """(selector, proposer, value or None) from `[search] algorithm` and `[policy]`."""
    from policies import load_policy

    selector = load_policy("selector", config.policy.selector or config.search.algorithm)
    proposer = load_policy("proposer", config.policy.proposer or DEFAULT_PROPOSER)
    value = load_policy("value", config.policy.value) if config.policy.value else None
    return selector, proposer, value


def _make_backend(config: ExperimentConfig, argv: Sequence[str], *, shared: Any = None) -> Any:
    """A fresh backend of `[backend] kind` with the knobs that kind takes, and what the run shares between its
    theorems' backends, if given: the post-import header images (criu, a `HeaderImages`) or the repls that
    ran the header (native and pickle-warm, a `WarmRepls`)."""
    from treesearch.backends import make_backend

    b = config.backend
    settings: dict[str, Any] = {"argv": list(argv), "tactic_timeout": config.search.tactic_timeout}
    if b.kind == "criu":
        settings.update(freeze=b.freeze, clones=b.clones, keep_warm=b.keep_warm, image_budget=b.image_budget,
                        image_root=str(b.image_dir) if b.image_dir else None)
        if shared is not None:
            settings["header_images"] = shared
    elif b.kind in ("pickle", "pickle-warm"):
        settings["root"] = str(b.image_dir) if b.image_dir else None
        if b.kind == "pickle-warm":
            settings["pool_size"] = b.workers
            if shared is not None:
                settings["warm_repls"] = shared
    elif b.kind == "native":
        settings["pool_size"] = b.workers
        if shared is not None:
            settings["warm_repls"] = shared
    return make_backend(b.kind, **settings)


def preflight(config: ExperimentConfig) -> None:
    """Fail before writing anything when the policies cannot be loaded or the backend cannot work here."""
    from policies.errors import PolicyError

    try:
        _load_policies(config)
    except PolicyError as e:
        raise RunError(f"{config.source or 'config'}: cannot load the policies ([search] algorithm, [policy] "
                       f"selector / proposer / value): {e}") from e
    from treesearch.errors import TreeSearchError

    try:
        _make_backend(config, repl_argv(config))  # settings are checked here; nothing starts before open()
    except TreeSearchError as e:
        raise RunError(f"{config.source or 'config'}: [backend] settings rejected: {e}") from e
    if config.backend.kind == "criu":
        from criu_backend.install import CriuInstallError, find_criu

        try:
            find_criu(require=True)
        except CriuInstallError as e:
            raise RunError(f"[backend] kind = \"criu\" needs CRIU: {e}; run `make criu` (or `cryo doctor`), "
                           "or choose another backend") from e


def _search_failures() -> tuple[type[BaseException], ...]:
    """The exception families of the packages a search runs through, plus OS errors: a failure of one
    theorem's search becomes that row's error, and the run goes on."""
    from criu_backend import CriuError
    from lean_env.client import ReplError
    from treesearch.errors import TreeSearchError

    return (CriuError, ReplError, TreeSearchError, OSError)


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for e in group.exceptions:
        out.extend(_leaves(e) if isinstance(e, BaseExceptionGroup) else [e])
    return out


def _tree_name(name: str, repeat: int, repeats: int) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
    return f"{safe}.r{repeat}.json" if repeats > 1 else f"{safe}.json"


def _error_text(e: dict[str, Any]) -> str:
    where = f" (node {e['node']})" if e.get("node") is not None else ""
    return f"{e.get('kind', 'error')}{where}: {e.get('message', '')}"


def _finite(x: float) -> float:
    return x if math.isfinite(x) and x >= 0 else 0.0


async def _search_one(
    config: ExperimentConfig,
    thm: SuiteTheorem,
    *,
    repeat: int,
    argv: Sequence[str],
    out: Path,
    progress: Progress,
    current: dict[str, Any],
    shared: Any = None,
) -> ResultRow:
    """Search one theorem with a fresh backend; always returns a row (errors become row fields).

    Each phase (search, re-check) runs in a cancel scope published as `current["scope"]`, so Ctrl-C can
    cancel it; `current["interrupted"]` says whether it did.
    """
    from treesearch import SearchBudget, SearchDriver
    from treesearch import Theorem as SearchTheorem
    from treesearch.proof import recheck_proof

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
    clock = {"policy": 0.0}
    latencies: list[float] = []
    errors: list[str] = []
    expanded = 0
    proof_at: dict[str, float | None] = {"t": None}  # search-clock seconds of the expansion that proved the root

    def on_event(ev: dict[str, Any]) -> None:
        nonlocal expanded
        if ev.get("event") == "expanded":
            expanded += 1
            progress.expansion(expanded)
            if proof_at["t"] is None and driver.tree is not None and driver.tree.proved:
                proof_at["t"] = float(ev["t"])

    selector, proposer, value = _load_policies(config)
    backend = _make_backend(config, argv, shared=shared)
    driver = SearchDriver(
        target,
        backend=_TimedBackend(backend, latencies),
        proposer=_TimedPolicy(proposer, clock),
        selector=_TimedPolicy(selector, clock),
        budget=budget,
        max_in_flight=config.search.max_in_flight or config.backend.workers,
        seed=seed,
        tactics_per_expansion=config.search.tactics_per_expansion,
        value_fn=_TimedPolicy(value, clock) if value is not None else None,
        handle_sigint=False,
        on_event=on_event,
    )
    progress.start_theorem(thm.name, config.search.max_expansions)
    t0 = time.monotonic()
    result = None
    scope = current["scope"] = anyio.CancelScope()
    try:
        async with backend:
            with scope:
                result = await driver.run()
    except* _search_failures() as group:  # anyio task groups wrap them in exception groups
        errors.extend(f"search failed: {type(e).__name__}: {e}" for e in _leaves(group))
    finally:
        wall = time.monotonic() - t0
    if result is None:  # cancelled (Ctrl-C) before the driver returned
        result = driver.result()
    interrupted = current["interrupted"]
    if result.proved:
        status = "proved"
    elif interrupted:
        status = "interrupted"
    elif errors:
        status = "error"
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
        proof_text = target.with_proof(proof)
        if not config.run.recheck:
            recheck = "skipped"
        elif interrupted:
            recheck, recheck_message = "skipped", "interrupted before the re-check"
        else:
            from treesearch.errors import RecheckError

            verdict = None
            with (scope := anyio.CancelScope()):
                current["scope"] = scope
                try:
                    verdict = await recheck_proof(target, proof, argv=list(argv),
                                                  timeout=max(60.0, config.search.tactic_timeout))
                except RecheckError as e:
                    recheck, recheck_message = "error", str(e)
            if current["interrupted"]:
                recheck, recheck_message = "skipped", "interrupted during the re-check"
            elif verdict is not None:
                recheck = "passed" if verdict.accepted else "failed"
                recheck_message = verdict.reason
                proof_text = verdict.source
    errors.extend(_error_text(e) for e in result.errors)
    tree_rel = f"trees/{_tree_name(thm.name, repeat, config.run.repeats)}"
    (out / tree_rel).write_text(result.tree.to_json(), encoding="utf-8")
    time_to_proof = _finite(proof_at["t"] if proof_at["t"] is not None else result.wall) if proved else None
    timings = dict(result.timings)
    row = ResultRow(
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
        wall_s=_finite(wall),
        time_to_proof_s=time_to_proof,
        time={k: _finite(float(clock["policy"] if k == "policy" else timings.get(k, 0.0))) for k in TIME_KEYS},
        peak_memory_bytes=int(result.peak_memory),
        image_bytes=int(result.peak_image_bytes),
        expansion_latencies_s=[_finite(x) for x in latencies],
        errors=errors,
        tree=tree_rel,
        extra={"peak_in_flight": result.peak_in_flight, "stopped_by": result.stopped_by,
               "backend_settings": _jsonable(backend.settings())},
    )
    return row


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# ------------------------------------------------------------------------------------------ the run


async def _run_all(config: ExperimentConfig, theorems: Sequence[SuiteTheorem], out: Path, writer: ResultsWriter,
                   rows: list[ResultRow], progress: Progress, state: dict[str, Any]) -> None:
    argv = repl_argv(config)
    b = config.backend
    shared: Any = None
    if b.kind == "criu":  # the post-import header image is built once per run and shared
        from treesearch.backends.criu import HeaderImages

        # one copy of each header image thawed ahead of demand: the next theorem's root clone is ready
        shared = state["header_images"] = HeaderImages(image_root=str(b.image_dir) if b.image_dir else None,
                                                       ahead=1)
    elif b.kind in ("native", "pickle-warm"):  # the pools' repls import once per run, not once per theorem
        from treesearch.backends.warm import WarmRepls

        shared = state["warm_repls"] = WarmRepls(keep=b.workers)
    try:
        await _run_theorems(config, theorems, out, writer, rows, progress, state, argv, shared)
    finally:
        if b.kind == "criu":
            shared.close()
        elif shared is not None:
            await shared.aclose()


async def _run_theorems(config: ExperimentConfig, theorems: Sequence[SuiteTheorem], out: Path,
                        writer: ResultsWriter, rows: list[ResultRow], progress: Progress, state: dict[str, Any],
                        argv: Sequence[str], shared: Any) -> None:
    async with anyio.create_task_group() as tg:
        current: dict[str, Any] = {"scope": None, "interrupted": False}

        async def watch_sigint() -> None:
            with anyio.open_signal_receiver(signal.SIGINT) as signals:
                async for _sig in signals:
                    state["interrupted"] = current["interrupted"] = True
                    if current["scope"] is not None:
                        current["scope"].cancel()

        if threading.current_thread() is threading.main_thread():
            tg.start_soon(watch_sigint)
        for repeat in range(config.run.repeats):
            for thm in theorems:
                if state["interrupted"]:
                    break
                row = await _search_one(config, thm, repeat=repeat, argv=argv, out=out, progress=progress,
                                        current=current, shared=shared)
                current["scope"] = None
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

    Writes the output directory as described in this module's docstring and returns what was written.
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
    state: dict[str, Any] = {"interrupted": False}
    total = len(theorems) * config.run.repeats
    progress.start_run(total, label or config.backend.kind)
    try:
        with ResultsWriter(out / "results.jsonl") as writer:
            anyio.run(_run_all, config, theorems, out, writer, rows, progress, state)
    except KeyboardInterrupt:
        state["interrupted"] = True
    finally:
        progress.end_run()
        summary = write_summary(out, config, rows, interrupted=state["interrupted"], theorems=total)
    headers, warm = state.get("header_images"), state.get("warm_repls")
    return RunOutcome(output_dir=out, rows=rows, interrupted=state["interrupted"], summary_path=summary,
                      theorems=total, header_builds=headers.builds if headers is not None else 0,
                      warm_repls_started=warm.started if warm is not None else 0)

