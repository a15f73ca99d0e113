"""`cryo bench`: the seed's table, snapshot scaling, search throughput and a profile, as JSON and Markdown.

`register_bench(bench_subparsers)` adds `cryo bench seed|search|variants|profile|images|llm`; `run_all(args)` is `cryo bench` with
no sub-verb (its options: `add_run_all_arguments(parser)`).  Also `python -m experiments.bench ...`.
"""

from experiments.bench.cli import add_run_all_arguments, main, register_bench, run_all
from experiments.bench.common import BenchError

__all__ = ["BenchError", "add_run_all_arguments", "main", "register_bench", "run_all"]
