"""The real repl's recorded transcripts, replayed through MiniLean and compared as JSON values."""

from __future__ import annotations

import json
import shutil

import pytest

from lean_env.minilean.leanjson import dumps
from ml_transcripts import diff, expected_values, run_minilean, run_minilean_raw, split_frames

PASSING = ["proof_branching2", "proof_transitivity", "by_cases", "readme", "proof_step", "sorry_hypotheses",
           "dup_sorries", "term_sorry", "unknown_environment", "unknown_proof_state", "incomplete",
           "pickle_environment", "pickle_environment_with_imports", "def_eval", "dup_msg", "file_env", "import_lean",
           "invalid_line_break", "no_goal_sorry_2", "app_type_mismatch", "all_tactics-20250622"]


@pytest.mark.parametrize("name", PASSING)
def test_transcript_matches_lean_byte_for_byte(name, repl_transcripts, tmp_path):
    base = repl_transcripts
    (tmp_path / "test").mkdir()
    for f in base.glob("*.lean"):
        shutil.copy(f, tmp_path / "test" / f.name)
    proc = run_minilean_raw((base / f"{name}.in").read_text(encoding="utf-8"), cwd=tmp_path)
    got = [json.loads(f) for f in split_frames(proc.stdout)]
    expected_text = (base / f"{name}.expected.out").read_text(encoding="utf-8")
    problems = diff(expected_values(base / f"{name}.expected.out"), got)
    assert not problems, "\n".join(problems) + "\nstderr:\n" + proc.stderr[-2000:]
    assert proc.stdout == expected_text


def test_lean_json_layout_matches_every_recorded_reply(repl_transcripts):
    """The renderer reproduces Lean's text for every reply in the recorded transcripts."""
    frames = [f for p in sorted(repl_transcripts.rglob("*.expected.out"))
              for f in split_frames(p.read_text(encoding="utf-8"))]
    assert len(frames) > 100
    for f in frames:
        assert dumps(json.loads(f)) == f


def test_self_reference_is_rejected_with_leans_verdict(repl_transcripts, tmp_path):
    base = repl_transcripts
    for name in ("self_proof_apply_check",):
        got, _ = run_minilean((base / f"{name}.in").read_text(encoding="utf-8"), cwd=tmp_path)
        exp = expected_values(base / f"{name}.expected.out")
        # same verdicts and positions; the elaborator-internal texts may differ
        assert got[0]["messages"][0]["severity"] == "error"
        assert got[0]["messages"][0]["pos"] == exp[0]["messages"][0]["pos"]
        assert got[0]["messages"][0]["endPos"] == exp[0]["messages"][0]["endPos"]
        assert got[1] == exp[1]
        assert got[2]["proofStatus"].startswith("Error: kernel type check failed")
        assert got[2]["goals"] == []
