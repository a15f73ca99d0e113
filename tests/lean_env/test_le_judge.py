"""judge_step on the real repl's recorded replies; canonical goal lists."""

from __future__ import annotations

import pytest

from lean_env.errors import GoalParseError
from lean_env.judge import StepVerdict, canonical_goal, canonical_goals, judge_step
from lean_env.protocol import CommandResponse, Message, Pos, ProofStepResponse, parse_response
from lean_env.transcripts import load_transcript


def replies(transcripts_dir, name):
    return [parse_response(r.obj) for r in load_transcript(transcripts_dir / name).replies]


def test_completed_proofs_are_proved(transcripts_dir):
    for name in ("proof_step", "readme", "proof_branching2", "proof_transitivity", "pickle_proof_state_2"):
        last = replies(transcripts_dir, name)[-1]
        assert judge_step(last) == StepVerdict(True, True, "proof complete"), name


def test_open_goals_are_ok_but_not_proved(transcripts_dir):
    verdict = judge_step(replies(transcripts_dir, "proof_branching2")[4])
    assert verdict.ok and not verdict.proved and "2 goal(s) remain" in verdict.reason


def test_closing_all_goals_with_sorry_is_a_failure(transcripts_dir):
    # {"tactic": "all_goals sorry"} -> goals [] and "Incomplete: contains sorry": not a success
    verdict = judge_step(replies(transcripts_dir, "by_cases")[-1])
    assert not verdict.ok and not verdict.proved and "sorry" in verdict.reason


def test_a_sorry_introduced_by_a_step_is_a_failure(transcripts_dir):
    verdict = judge_step(replies(transcripts_dir, "sorry_hypotheses")[1])
    assert verdict == StepVerdict(False, False, "the step uses sorry (1 sorries)")


def test_kernel_errors_and_metavariables_are_failures(transcripts_dir):
    kernel = judge_step(replies(transcripts_dir, "app_type_mismatch2")[4])
    assert not kernel.ok and kernel.reason.startswith("proof status: Error: kernel type check failed")
    mvars = judge_step(replies(transcripts_dir, "app_type_mismatch")[-1])
    assert not mvars.ok and "contains metavariable(s)" in mvars.reason
    self_ref = judge_step(replies(transcripts_dir, "self_proof_apply_check")[-1])
    assert not self_ref.ok


def test_error_messages_win_over_empty_goals(transcripts_dir):
    verdict = judge_step(replies(transcripts_dir, "name_generator")[-1])
    assert not verdict.ok and verdict.reason == "error: unsolved goals"


def test_repl_errors_are_failures(transcripts_dir):
    assert judge_step(replies(transcripts_dir, "unknown_proof_state")[1]) == StepVerdict(
        False, False, "repl error: Unknown proof state.")
    lean_error = judge_step(replies(transcripts_dir, "app_type_mismatch2")[-1])
    assert not lean_error.ok
    assert lean_error.reason == "repl error: Lean error: Tactic `apply` failed: could not unify the type of `?succ`"


def test_commands_are_judged_by_errors_and_sorries(transcripts_dir):
    assert judge_step(replies(transcripts_dir, "def_eval")[0]) == StepVerdict(True, True,
                                                                             "accepted without errors or sorries")
    assert not judge_step(replies(transcripts_dir, "incomplete")[0]).ok
    with_sorry = judge_step(replies(transcripts_dir, "term_sorry")[0])
    assert with_sorry.ok and not with_sorry.proved
    warned = CommandResponse(env=0, messages=(Message("warning", Pos(1, 0), "declaration uses `sorry`"),))
    assert not judge_step(warned).proved


def test_a_repl_without_proof_status_is_taken_at_its_word():
    assert judge_step(ProofStepResponse(proof_state=2, goals=())).proved
    assert judge_step(ProofStepResponse(proof_state=2, goals=("⊢ p",))).ok


def test_canonical_goals_identify_the_same_state_reached_two_ways():
    grouped = "case h\nx : Int\nh0 h : x > 0\n⊢ False"
    split = "x : Int\nh0 : x > 0\nh : x > 0\n⊢   False"
    assert canonical_goals([grouped]) == canonical_goals([split])
    assert canonical_goals([grouped], keep_case_tags=True) != canonical_goals([split], keep_case_tags=True)
    wrapped = "f : Nat →\n    Nat\n⊢ f 0 =\n    f 0"
    assert canonical_goal(wrapped) == "f : Nat → Nat\n⊢ f 0 = f 0"
    assert canonical_goals(["⊢ p", "⊢ q"]) != canonical_goals(["⊢ q", "⊢ p"])  # goal order matters
    assert canonical_goals(["h : p\n⊢ q"]) != canonical_goals(["g : p\n⊢ q"])  # names matter


def test_canonical_goals_on_recorded_goals(transcripts_dir):
    induction = replies(transcripts_dir / "Mathlib/test", "induction")[2]
    canon = canonical_goals(induction.goals)
    assert canon[0] == "⊢ 0 = 0"
    assert canon[1] == "n✝ : ℕ\na✝ : n✝ = n✝\n⊢ n✝ + 1 = n✝ + 1"


def test_canonical_goals_read_let_values_and_wrapped_types_with_lean_env_goals():
    """The goal layout is read by lean_env.goals (one reader for the whole project), values included."""
    assert canonical_goal("n : Nat :=\n    3\nh :\n  n =\n    3\n⊢ True") == "n : Nat := 3\nh : n = 3\n⊢ True"
    with pytest.raises(GoalParseError, match="no `⊢` target"):
        canonical_goal("h : p")
