"""Transcript tools: reading .in files as the repl does, `transcript check` and `transcript replay` as
real processes (the replay peer answers with the real repl's recorded bytes)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from lean_env.errors import TranscriptError
from lean_env.transcripts import (
    check_transcripts,
    find_transcripts,
    json_diff,
    load_transcript,
    replay_argv,
    resolve_transcript,
    split_requests,
)

CLI = [sys.executable, "-m", "lean_env.cli", "transcript"]


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def test_requests_are_read_as_the_repl_reads_them(transcripts_dir):
    t = load_transcript(transcripts_dir / "invalid_line_break.in")
    # the raw newline inside the string vanishes when the repl joins lines: "by\nsorry" -> "bysorry"
    assert t.requests[0].obj == {"cmd": "theorem foo : 1 = 1 := bysorry"}
    assert t.requests[0].raw == b'{"cmd": "theorem foo : 1 = 1 := by\nsorry"}\n'
    assert t.replies[0].obj["messages"][0]["data"] == "Unknown identifier `bysorry`"
    lb = load_transcript(transcripts_dir / "Mathlib/test/line_breaks")
    assert lb.requests[1].obj["cmd"].startswith("-- This theorem demonstrates function composition/transitivity "
                                                 "of implication\n-- It shows")
    assert [r.line for r in load_transcript(transcripts_dir / "proof_step").requests] == [1, 3, 5, 7]


def test_comments_blank_runs_and_bad_json_in_requests():
    reqs = split_requests(b'\n\n# a comment\n\n{"cmd": "a"}\n\n\n-- another\n\n{"cmd":\n "b"}\n{oops}\n')
    assert [r.obj for r in reqs] == [{"cmd": "a"}, None]
    assert reqs[1].error and ":10: request is not valid JSON" in reqs[1].error


def test_every_transcript_loads(all_transcripts):
    for path in all_transcripts:
        t = load_transcript(path)
        assert t.requests, path
        assert all(r.error is None for r in t.requests), path
    names = {p.name for p in all_transcripts}
    assert {"proof_step.in", "H20231214.in", "pickle_scoped_notation.in"} <= names


def test_resolve_accepts_base_in_and_out_names(transcripts_dir):
    base = transcripts_dir / "readme"
    want = (base.with_suffix(".in"), transcripts_dir / "readme.expected.out")
    for spec in (base, f"{base}.in", f"{base}.expected.out"):
        assert resolve_transcript(spec) == want
    with pytest.raises(TranscriptError, match="does not exist"):
        resolve_transcript(transcripts_dir / "no_such_transcript")


def test_json_diff_ignores_key_order_and_shows_changes():
    assert json_diff({"a": 1, "b": [1, {"x": "⊢"}]}, {"b": [1, {"x": "⊢"}], "a": 1}) == ""
    diff = json_diff({"env": 0, "goals": ["⊢ p"]}, {"env": 1, "goals": ["⊢ p"]})
    assert '-"env":0' in diff.replace(" ", "") and '+"env":1' in diff.replace(" ", "")
    assert json_diff([1], [True]) != ""
    assert json_diff(1, True) != ""  # 1 == True in Python, not in JSON


def test_check_passes_against_the_replay_of_the_same_transcript(all_transcripts):
    """Every transcript with a full recording, checked against its own replay ({transcript} placeholder)."""
    by_dir: dict = {}
    for path in all_transcripts:
        t = load_transcript(path)
        if t.replies is not None and len(t.replies) == len(t.requests):
            by_dir.setdefault(path.parent, []).append(path)
    results = []
    for paths in by_dir.values():
        results += check_transcripts(paths, argv=replay_argv("{transcript}"), timeout=30)
    assert len(results) >= 40
    for result in results:
        assert result.ok, (result.transcript.in_path, result.problem,
                           [(r.error, r.diff) for r in result.results if not r.ok])


def test_check_cli_passes_and_fails_with_a_readable_diff(transcripts_dir, tmp_path):
    target = transcripts_dir / "proof_step.in"
    ok = run(CLI + ["check", str(target), "--repl", " ".join(replay_argv(target))])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "PASS" in ok.stdout and "1/1 transcripts pass" in ok.stdout

    # a recording whose third reply differs from what the peer answers
    fake = tmp_path / "fake"
    fake.mkdir()
    shutil.copy(target, fake / "proof_step.in")
    replies = (transcripts_dir / "proof_step.expected.out").read_text().split("\n\n")
    replies[2] = replies[2].replace('"proofState": 2', '"proofState": 20')
    (fake / "proof_step.expected.out").write_text("\n\n".join(replies))
    bad = run(CLI + ["check", str(fake / "proof_step.in"), "--repl", " ".join(replay_argv(target))])
    assert bad.returncode == 1
    assert "FAIL" in bad.stdout and "request 3 (line 5)" in bad.stdout
    assert '- "proofState": 20,' in bad.stdout and '+ "proofState": 2,' in bad.stdout
    assert "request 1" not in bad.stdout  # only failures are listed


def test_check_reports_a_crashing_repl_and_a_missing_recording(transcripts_dir):
    crash = [sys.executable, "-c", "import sys; sys.stderr.write('no lean here'); sys.exit(5)"]
    [res] = check_transcripts([transcripts_dir / "readme"], argv=crash)
    assert not res.ok and "exit code 5" in res.results[0].error and "no lean here" in res.results[0].error
    [res] = check_transcripts([transcripts_dir / "Mathlib/test/H20231214"], argv=replay_argv(
        transcripts_dir / "readme"))
    assert not res.ok and "no recorded replies" in res.problem


def test_check_runs_in_a_writable_copy_with_test_paths(transcripts_dir, tmp_path):
    """A peer that checks the repl's working-directory layout: test/X.lean readable, pickles writable."""
    peer = tmp_path / "layout_peer.py"
    peer.write_text(
        "import json, os, sys\n"
        "lines = []\n"
        "for line in sys.stdin:\n"
        "    if line.strip():\n"
        "        lines.append(line.rstrip()); continue\n"
        "    if not lines: continue\n"
        "    req, lines = json.loads(''.join(lines)), []\n"
        "    if 'path' in req: open(req['path']).read(); out = {'env': 0}\n"
        "    elif 'pickleTo' in req: open(req['pickleTo'], 'w').write('pickle'); out = {'env': req['env']}\n"
        "    elif 'unpickleEnvFrom' in req: open(req['unpickleEnvFrom']).read(); out = {'env': 1}\n"
        "    else: out = {'env': 0}\n"
        "    print(json.dumps(out) + '\\n', flush=True)\n"
    )
    results = check_transcripts([transcripts_dir / "file2", transcripts_dir / "pickle_open_scoped"],
                                argv=[sys.executable, str(peer)], timeout=20)
    assert results[0].results[0].error is None and results[0].results[0].got == {"env": 0}
    assert [r.error for r in results[1].results] == [None] * 4
    assert (transcripts_dir / "pickle_open_scoped.in").exists() and not (transcripts_dir / "test").exists()


def test_replay_is_strict_about_request_order(transcripts_dir):
    argv = replay_argv(transcripts_dir / "proof_step")
    wrong = run(argv, input='{"tactic": "exact t", "proofState": 2}\n\n')
    assert wrong.returncode == 2 and "request 1 of the recording is" in wrong.stderr and wrong.stdout == ""
    right = run(argv, input='{"cmd" : "def f : Nat := by sorry"}\n\n')
    assert right.returncode == 0
    assert right.stdout.encode() == (transcripts_dir / "proof_step.expected.out").read_bytes().split(b"\n\n")[0] \
        + b"\n\n"
    broken = run(argv, input="{not json\n\n")
    assert broken.returncode == 1 and "Could not parse JSON" in broken.stderr


def test_replay_any_order_and_cli_entry(transcripts_dir):
    path = transcripts_dir / "proof_step"
    requests = [r.query for r in load_transcript(path).requests]
    shuffled = "\n\n".join([requests[2], requests[0]]) + "\n\n"
    out = run(replay_argv(path, any_order=True), input=shuffled)
    assert out.returncode == 0
    recorded = [r.obj for r in load_transcript(path).replies]
    assert [json.loads(b) for b in out.stdout.split("\n\n") if b.strip()] == [recorded[2], recorded[0]]
    via_cli = run(CLI + ["replay", str(path) + ".in"], input=requests[0] + "\n\n")
    assert via_cli.returncode == 0 and json.loads(via_cli.stdout)["env"] == 0
    missing = run(CLI + ["replay", str(transcripts_dir / "Mathlib/test/H20231214")], input="")
    assert missing.returncode == 2 and "no .expected.out" in missing.stderr


def test_find_transcripts_sorts_in_c_order(transcripts_dir):
    found = find_transcripts(transcripts_dir)
    assert found == sorted(found, key=lambda p: bytes(str(p), "utf-8"))
    assert any(p.parent.name == "test" for p in found)  # the Mathlib/test transcripts too
