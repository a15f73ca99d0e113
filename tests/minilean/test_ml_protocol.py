"""Protocol behaviour of MiniLean as a real process: ids, errors, chaining, pickling, imports."""

from __future__ import annotations

import json
import subprocess
import sys


def test_ids_count_from_zero_and_sorries_come_first(repl):
    r = repl.cmd("theorem foo (x : Int) : x = x := by sorry")
    assert r["env"] == 0 and r["sorries"][0]["proofState"] == 0
    r = repl.tac("have h : x = 1 := sorry", 0)
    assert r["sorries"] == [{"proofState": 1, "goal": "x : Int\n⊢ x = 1"}]
    assert r["proofState"] == 2
    r = repl.tac("rfl", 2)
    assert r["proofState"] == 3 and r["proofStatus"] == "Incomplete: contains sorry"
    # a failed step consumes no id
    assert repl.tac("exact nonsense_tactic_that_fails (", 3)["message"].startswith("Lean error:\n")
    assert repl.tac("rfl", 0)["proofState"] == 4


def test_error_replies(repl):
    assert repl.cmd("def f : Nat := 1", env=3) == {"message": "Unknown environment."}
    assert repl.tac("rfl", 7) == {"message": "Unknown proof state."}
    repl.cmd("def f : Nat := by sorry")
    assert repl.tac("exat 42", 0) == {"message": "Lean error:\n<input>:1:1: unknown tactic"}


def test_env_chaining_and_backtracking(repl):
    assert repl.cmd("def f := 42") == {"env": 0}
    assert repl.cmd("theorem t : f = 42 := rfl", env=0) == {"env": 1}
    r = repl.cmd("theorem u : f = 43 := rfl", env=0)
    assert r["messages"][0]["severity"] == "error"
    assert repl.cmd("#check t", env=1)["messages"][0]["data"] == "t : f = 42"
    r = repl.cmd("#check t", env=0)
    assert r["messages"][0]["data"] == "Unknown identifier `t`"


def test_elaboration_error_in_step_is_a_message_and_sorry(repl):
    repl.cmd("theorem my_theorem (x : Nat) : x = x := by sorry")
    r = repl.tac("exact my_fake_premise", 0)
    assert r["proofStatus"] == "Incomplete: contains sorry" and r["goals"] == []
    assert r["messages"][0]["data"] == "Unknown identifier `my_fake_premise`"
    assert r["messages"][0]["pos"] == {"line": 0, "column": 0}


def test_pickle_proof_state_round_trip(repl, tmp_path):
    repl.cmd("def f : Nat := by sorry")
    path = str(tmp_path / "c.olean")
    r = repl.send({"pickleTo": path, "proofState": 0})
    assert r["goals"] == ["⊢ Nat"] and r["proofState"] == 1
    r = repl.send({"unpickleProofStateFrom": path})
    assert r["proofState"] == 2 and r["goals"] == ["⊢ Nat"]
    r = repl.tac("have t : Nat := 42", 2)
    r = repl.tac("exact t", r["proofState"])
    assert r["proofStatus"] == "Completed"


def test_pickle_env_replays_imports(repl, tmp_path):
    assert repl.cmd("import Mathlib\ndef g := 2") == {"env": 0}
    path = str(tmp_path / "e.olean")
    assert repl.send({"pickleTo": path, "env": 0}) == {"env": 0}
    assert repl.send({"unpickleEnvFrom": path}) == {"env": 1}
    r = repl.cmd("example : g = 2 := rfl\n#check Mathlib.Gen.t0_0", env=1)
    assert r["messages"][0]["data"] == "Mathlib.Gen.t0_0 (p q : Prop) : p ∧ q → q ∧ p"
    assert repl.send({"unpickleEnvFrom": str(tmp_path / "missing.olean")})["message"].startswith(
        "no such file or directory")


def test_unknown_import_is_a_lean_error(repl):
    r = repl.cmd("import NoSuchModule\ntheorem t : True := trivial")
    assert r["messages"][0]["severity"] == "error"
    assert "unknown module prefix 'NoSuchModule'" in r["messages"][0]["data"]


def test_library_lemmas_usable_by_name(repl):
    r = repl.cmd("import Mathlib")
    r = repl.cmd("example (a b : Prop) (h : a ∧ b) : b ∧ a := by exact Mathlib.Gen.t0_0 a b h", env=0)
    assert r == {"env": 1}
    r = repl.cmd("example (a b : Prop) (h : a ∧ b) : b ∧ a := by\n  apply Mathlib.Gen.t0_0\n  exact h", env=0)
    assert r == {"env": 2}


def test_json_parse_error_exits_like_lean(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "lean_env.minilean"], input="{not json\n\n", text=True,
                          capture_output=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 1
    assert "Could not parse JSON" in proc.stderr
    assert proc.stdout == ""


def test_comment_lines_are_skipped(tmp_path):
    text = "-- a comment\n\n" + json.dumps({"cmd": "def f := 1"}) + "\n\n"
    proc = subprocess.run([sys.executable, "-m", "lean_env.minilean"], input=text, text=True, capture_output=True,
                          cwd=tmp_path, timeout=60)
    assert json.loads(proc.stdout) == {"env": 0}
