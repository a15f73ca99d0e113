"""The `cryo bench` parser hooks and the report's pure pieces (verdicts, tables); no processes."""

from __future__ import annotations

import argparse

import pytest

from experiments.bench import add_run_all_arguments, main, register_bench, run_all
from experiments.bench.common import Verdict, markdown_table


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cryo")
    sub = parser.add_subparsers(dest="verb")
    bench = sub.add_parser("bench")
    add_run_all_arguments(bench)
    bench.set_defaults(func=run_all)
    register_bench(bench.add_subparsers(dest="bench_verb"))
    return parser


def test_register_bench_adds_seed_search_profile() -> None:
    parser = _parser()
    args = parser.parse_args(["bench", "seed", "--quick", "--repeat", "2", "--library-size", "50"])
    assert args.quick and args.seed_repeat == 2 and args.seed_library_size == 50 and callable(args.func)
    args = parser.parse_args(["bench", "search", "--backends", "criu,native", "--criu-freeze", "eager"])
    assert args.backends == "criu,native" and args.criu_freeze == "eager"
    args = parser.parse_args(["bench", "images", "--size", "64"])
    assert args.images_size_mb == 64
    args = parser.parse_args(["bench", "profile", "--theorem", "curry"])
    assert args.theorem == "curry"
    args = parser.parse_args(["bench", "llm", "--in-flight", "1,16", "--batch-size", "8", "--repeat", "5"])
    assert args.llm_in_flight == [1, 16] and args.llm_batch_size == 8 and args.llm_repeat == 5
    args = parser.parse_args(["bench", "--skip", "search", "--snapshot-sizes", "30,60"])
    assert args.func is run_all and args.snapshot_sizes == [30, 60] and args.bench_verb is None


def test_unknown_skip_is_refused(tmp_path, capsys) -> None:
    assert main(["--skip", "seeds", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "seeds" in err and "seed, snapshot, images, search, variants, profile, llm" in err


def test_output_that_is_a_file_is_refused(tmp_path, capsys) -> None:
    target = tmp_path / "taken"
    target.write_text("keep me")
    assert main(["seed", "--output", str(target)]) == 2
    assert "cannot create the output directory" in capsys.readouterr().err
    assert target.read_text() == "keep me"


def test_bad_size_list_is_a_usage_error() -> None:
    with pytest.raises(SystemExit):
        main(["--snapshot-sizes", "30,lots"])


def test_verdicts() -> None:
    slow = Verdict("thaw", 0.2, 0.05, False, "s")
    assert slow.met is False and slow.off_by == pytest.approx(4.0)
    fast = Verdict("ratio", 12.0, 10.0, True)
    assert fast.met is True and fast.off_by == pytest.approx(10 / 12)
    assert Verdict("none", None, 1.0, True).met is None


def test_markdown_table_escapes_pipes() -> None:
    text = markdown_table(["a", "b"], [["x|y", "1"]])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1 |"]
