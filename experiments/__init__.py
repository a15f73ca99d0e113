"""experiments: configs, runs, comparisons, the bundled theorem suite and the `cryo` command line.

- `experiments.config`: `load_config(path) -> ExperimentConfig`, `ConfigError` (TOML validated key by key;
  the [backend] keys come from the backend registry).
- `experiments.suites`: `load_suite(paths, names) -> list[Theorem]` over `.lean` suite files.
- `experiments.runner`: `run_experiment(config) -> RunOutcome`: the loop over theorems, the run's backend
  context and Ctrl-C; each search is `treesearch.search`.
- `experiments.output`: the output directory (results.jsonl, trees/, summary.md); `experiments.progress`:
  what a run shows while it works; `experiments.errors`: `RunError`.
- `experiments.compare`: `compare_backends(config, backends=...)` (report.md and PNG plots).
- `experiments.results`: the `ResultRow` schema of results.jsonl, validated on read.
- `experiments.cli`: `main(argv)`, the `cryo` console script.
"""
