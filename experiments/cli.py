"""The `cryo` command: run, compare, demo and bench from here; the other verbs from each package's `cli.py`.

Each package with verbs exposes `register(subparsers)`; a verb's parser sets `func=handler`, and
`handler(args) -> int` is the exit status.  A package whose `cli` module does not exist yet simply
contributes no verbs; any other import error in it is raised.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Sequence

__all__ = ["main", "build_parser", "CONFIGS_DIR", "backend_checks", "format_backend_checks", "policy_check"]

CONFIGS_DIR = Path(__file__).resolve().parent / "configs"

# (module, register function, where its verbs go): "top" = top-level verbs, "bench" = `cryo bench` sub-verbs.
PLUGIN_VERBS = (
    ("criu_backend.cli", "register", "top"),
    ("criu_backend.cli", "register_bench", "bench"),
    ("lean_env.cli", "register", "top"),
    ("lean_env.cli", "register_bench", "bench"),
    ("experiments.bench", "register_bench", "bench"),
)


def _optional_module(name: str) -> ModuleType | None:
    """Import `name`; None only when that very module does not exist (other import errors propagate)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name == name:
            return None
        raise


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _progress(enabled: bool):
    from experiments.progress import Progress, RichProgress

    return (lambda _label=None: RichProgress(_console())) if enabled else (lambda _label=None: Progress())


def _print_table(summaries, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from experiments.summary import TABLE_HEADERS, table_rows

    table = Table(title=title)
    for h in TABLE_HEADERS:
        table.add_column(h)
    for cells in table_rows(summaries):
        table.add_row(*cells)
    # Piped output (logs, CI) gets a wide table instead of rich's 80-column default.
    Console(width=None if sys.stdout.isatty() else 160).print(table)


# ------------------------------------------------------------------------------------------ handlers


def _load(args: argparse.Namespace, path: str | Path):
    from experiments.config import load_config

    overrides = list(args.set or [])
    if getattr(args, "backend", None):
        overrides.append(f'backend.kind="{args.backend}"')
    return load_config(path, overrides=overrides)


def _cmd_run(args: argparse.Namespace) -> int:
    from experiments.runner import run_experiment
    from experiments.summary import summarize_by_backend

    config = _load(args, args.config)
    outcome = run_experiment(config, output_dir=Path(args.output) if args.output else None,
                             progress=_progress(not args.no_progress)())
    if outcome.rows:
        _print_table(summarize_by_backend(outcome.rows), f"cryo run {config.run.name}")
    state = "interrupted; partial results" if outcome.interrupted else "results"
    print(f"{state}: {outcome.output_dir / 'results.jsonl'}\nsummary: {outcome.summary_path}")
    return 130 if outcome.interrupted else 0


def _compare(args: argparse.Namespace, config_path: Path, title: str) -> int:
    from experiments.compare import compare_backends

    config = _load(args, config_path)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()] if args.backends else None
    outcome = compare_backends(config, backends=backends, output_dir=Path(args.output) if args.output else None,
                               progress_fn=_progress(not args.no_progress))
    _print_table(outcome.summaries, title)
    if outcome.interrupted:
        print("interrupted (Ctrl-C): the report covers only what finished")
    print(f"report: {outcome.report_path}")
    for name, p in outcome.plots.items():
        print(f"plot:   {p}")
    return 130 if outcome.interrupted else 0


def _cmd_compare(args: argparse.Namespace) -> int:
    return _compare(args, Path(args.config), "cryo compare")


def _cmd_demo(args: argparse.Namespace) -> int:
    return _compare(args, CONFIGS_DIR / "demo.toml",
                    "cryo demo: criu vs pickle, MiniLean with a Mathlib-sized import")


# ------------------------------------------------------------------------------------------ parser


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override one config key (VALUE is read as TOML, e.g. search.seed=3); repeatable")
    p.add_argument("--output", "-o", metavar="DIR", help="output directory (default: [run] output)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cryo", description=(
        "Parallel proof search where every node of the search tree is a frozen (CRIU) Lean repl process."))
    sub = parser.add_subparsers(dest="verb", metavar="VERB")

    p = sub.add_parser("run", help="search every theorem of a suite as a TOML config says",
                       description="Run an experiment config; writes results.jsonl, trees/ and summary.md.")
    p.add_argument("config", help="experiment config (TOML); see docs/experiments.md")
    p.add_argument("--backend", metavar="KIND",
                   help="override [backend] kind (criu, pickle, pickle-warm, native, or a kind added through the "
                        "entry-point group cryo.backends)")
    _add_common(p)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("compare", help="run one suite with several backends under equal budgets; report + plots")
    p.add_argument("config", help="experiment config (TOML)")
    p.add_argument("--backends", metavar="A,B", help="comma-separated backends (default: [compare] backends)")
    _add_common(p)
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("demo", help="criu vs pickle on a slice of the bundled suite with a Mathlib-sized import",
                       description=f"`cryo compare` on {CONFIGS_DIR / 'demo.toml'}.")
    p.add_argument("--backends", metavar="A,B", help="comma-separated backends (default: criu,pickle)")
    _add_common(p)
    p.set_defaults(func=_cmd_demo)

    bench = sub.add_parser("bench", help="benchmarks (no sub-verb: run them all)")
    bench_sub = bench.add_subparsers(dest="bench_verb", metavar="BENCH")
    from experiments.bench import add_run_all_arguments, run_all

    add_run_all_arguments(bench)
    bench.set_defaults(func=run_all)

    for module_name, fn_name, where in PLUGIN_VERBS:
        module = _optional_module(module_name)
        if module is None:
            continue
        register = getattr(module, fn_name, None)
        if register is None:
            continue
        register(sub if where == "top" else bench_sub)
    _add_backend_checks_to_doctor(sub)
    return parser


# ------------------------------------------------------------------------------------------ doctor


def backend_checks() -> list[tuple[str, list]]:
    """Every known backend kind's preflight `Check` rows, with the kind's default settings and the default repl;
    a kind that cannot be loaded or whose preflight raises is one failed row."""
    from lean_env.repl_cmd import minilean_argv
    from treesearch.backends import Check, backend_kind, backend_names
    from treesearch.errors import TreeSearchError

    try:
        names = backend_names()
    except TreeSearchError as e:
        return [("(registry)", [Check(False, "entry points", str(e))])]
    out = []
    for name in names:
        try:
            kind = backend_kind(name)
            settings = {"argv": minilean_argv(), "tactic_timeout": 20.0, **kind.defaults()}
            checks = list(kind.preflight(settings))
        except TreeSearchError as e:
            checks = [Check(False, "load", str(e))]
        out.append((name, checks))
    return out


def format_backend_checks(found: list[tuple[str, list]]) -> str:
    lines = ["backend kinds (`cryo run` checks the selected one before it starts):"]
    for name, checks in found:
        if not checks:
            lines.append(f"[  ok] backend {name}: nothing to check")
        for c in checks:
            lines.append(f"[{'ok' if c.ok else 'FAIL':>4}] backend {name}: {c.what}: {c.detail}")
    failed = sum(not c.ok for _name, checks in found for c in checks)
    lines.append("every backend kind can run here" if not failed else f"{failed} backend check(s) failed")
    return "\n".join(lines)


def _add_backend_checks_to_doctor(sub: argparse._SubParsersAction) -> None:
    """`cryo doctor`: the machine checks of `criu_backend` (when present), then every backend kind's preflight."""
    doctor = sub.choices.get("doctor")
    if doctor is None:
        doctor = sub.add_parser("doctor", help="check that every backend kind can run here")
    machine = doctor.get_default("func")

    def run_doctor(args: argparse.Namespace) -> int:
        status = int(machine(args) or 0) if machine is not None else 0
        if machine is not None:
            print()
        found = backend_checks()
        print(format_backend_checks(found))
        failed = any(not c.ok for _name, checks in found for c in checks)
        if getattr(args, "config", None):
            print()
            ok, line = policy_check(args.config, getattr(args, "set", None) or [])
            print(f"[{'ok' if ok else 'FAIL':>4}] {line}")
            failed = failed or not ok
        return max(status, 1 if failed else 0)

    doctor.add_argument("--config", metavar="CONFIG.toml",
                        help="also load this experiment's policies and check its proposer (a model server: "
                             "/v1/models answers and names the model), as `cryo run` does before it starts")
    if not any("--set" in a.option_strings for a in doctor._actions):
        doctor.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                            help="with --config: override one config key; repeatable")
    doctor.set_defaults(func=run_doctor)


def policy_check(config_path: str | Path, overrides: Sequence[str] = ()) -> tuple[bool, str]:
    """(ok, one line): the config's policies load and its proposer's preflight passes (`cryo doctor --config`)."""
    from experiments.config import ConfigError, load_config
    from experiments.errors import RunError
    from experiments.runner import check_policies

    try:
        config = load_config(config_path, overrides=list(overrides))
        found = check_policies(config)
    except (ConfigError, RunError) as e:
        return False, f"policies: {e}"
    proposer = config.policy.proposer or "propositional"
    if found is None:
        return True, f"policies: proposer {proposer!r} loads (it has no server to check)"
    logprobs = {True: "with log-probabilities", False: "without log-probabilities (priors from frequencies)",
                None: "not probed"}[found.get("logprobs")]
    return True, (f"policies: proposer {proposer!r}: model server {found.get('url')} serves "
                  f"{found.get('model')!r}, {logprobs}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `cryo` console script; returns the exit status."""
    from experiments.config import ConfigError
    from experiments.errors import RunError
    from experiments.suites import SuiteError

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ConfigError, SuiteError, RunError) as e:
        print(f"cryo {args.verb}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cryo {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
