"""The `cryo` CLI: verbs assembled from the packages, clear errors for bad input."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.cli import _optional_module, build_parser, main


def test_help_lists_own_and_package_verbs(capsys):
    with pytest.raises(SystemExit) as ei:
        main(["--help"])
    assert ei.value.code == 0
    out = capsys.readouterr().out
    for verb in ("run", "compare", "demo", "bench", "transcript"):
        assert verb in out
    if _optional_module("criu_backend.cli") is not None:
        for verb in ("freeze", "thaw", "beam", "doctor"):
            assert verb in out


def test_every_verb_has_a_handler():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "verb")
    for name, p in sub.choices.items():
        assert p.get_default("func") is not None or any(
            getattr(a, "required", False) for a in p._actions if a.dest.endswith("_verb")), name


def test_missing_plugin_module_is_skipped_but_real_import_errors_raise(tmp_path, monkeypatch):
    assert _optional_module("experiments.no_such_cli_module") is None
    pkg = tmp_path / "brokenpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "cli.py").write_text("import module_that_does_not_exist_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="module_that_does_not_exist_anywhere"):
        _optional_module("brokenpkg.cli")


def test_no_verb_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: cryo" in capsys.readouterr().out


def test_bad_config_is_one_clear_line(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[backend]\nkind = "criuu"\n')
    proc = subprocess.run([sys.executable, "-m", "experiments.cli", "run", str(cfg)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert f"cryo run: {cfg}: [backend] kind = 'criuu'" in proc.stderr
    assert '"pickle-warm"' in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_override_and_missing_config(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    cfg = tmp_path / "ok.toml"
    cfg.write_text("")
    assert main(["run", str(cfg), "--set", "search.max_expansions=0"]) == 2
    assert "[search] max_expansions = 0: must be >= 1" in capsys.readouterr().err


def test_non_empty_output_dir_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    cfg = tmp_path / "ok.toml"
    cfg.write_text('[suite]\nnames = ["basic_id"]\n')
    assert main(["run", str(cfg), "-o", str(out), "--no-progress"]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert (out / "precious.txt").read_text() == "keep me"


def test_suite_selecting_nothing(tmp_path, capsys):
    cfg = tmp_path / "ok.toml"
    cfg.write_text('[suite]\nnames = ["no_such_theorem_*"]\n')
    assert main(["run", str(cfg), "-o", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "selects no theorem" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def _bench_verbs(parser: argparse.ArgumentParser) -> set[str]:
    """The sub-verbs of `cryo bench`, read from the parser itself."""
    top = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    bench = top.choices["bench"]
    return set(next(a for a in bench._actions if isinstance(a, argparse._SubParsersAction)).choices)


def test_bench_group_without_sub_verb_runs_the_whole_benchmark():
    from experiments.bench import run_all

    parser = build_parser()
    args = parser.parse_args(["bench", "--quick"])
    assert args.func is run_all and args.quick
    names = _bench_verbs(parser)
    assert {"seed", "search", "profile", "images", "variants"} <= names
    if _optional_module("criu_backend.cli") is not None:
        assert "snapshot" in names
    for name in names:  # each sub-verb parses with its defaults alone, as `cryo bench` runs it
        sub = parser.parse_args(["bench", name])
        assert callable(sub.func)
