"""experiments: configs, runs, comparisons, the bundled theorem suite and the `cryo` command line.

- `experiments.config`: `load_config(path) -> ExperimentConfig`, `ConfigError` (TOML validated key by key).
- `experiments.suites`: `load_suite(paths, names) -> list[Theorem]` over `.lean` suite files.
- `experiments.runner`: `run_experiment(config) -> RunOutcome` (results.jsonl, trees/, summary.md).
- `experiments.compare`: `compare_backends(config, backends=...)` (report.md and PNG plots).
- `experiments.results`: the `ResultRow` schema of results.jsonl, validated on read.
- `experiments.cli`: `main(argv)`, the `cryo` console script.
"""
