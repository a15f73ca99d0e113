"""Judging repl replies: did a proof step succeed, is the proof complete; canonical goal lists. Pure.

The repl's ``goals`` alone do not say a step worked: a failing tactic can come back with ``goals: []`` and
status "Incomplete: contains sorry" (or "contains metavariable(s)", or a kernel "Error: ..."), with or
without an error message.  So:

* a step is **not ok** when the reply is an ``ErrorResponse``, carries an error message, introduced a
  ``sorry``, or reports an ``Error:`` status, or closes every goal without the status "Completed";
* a step is **ok** when none of that holds and goals remain (the search can continue from it);
* a proof is **proved** when the step is ok, no goal remains and the status is "Completed" (a repl without
  ``proofStatus`` is taken at its word when no goal remains).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from lean_env.goals import TURNSTILE, parse_goal
from lean_env.protocol import (
    PROOF_COMPLETED,
    CommandResponse,
    ErrorResponse,
    ProofStepResponse,
    Response,
)

__all__ = ["StepVerdict", "judge_step", "canonical_goals", "canonical_goal"]

_SORRY_WARNING = "declaration uses `sorry`"
_SORRY_WARNING_OLD = "declaration uses 'sorry'"


@dataclass(frozen=True, slots=True)
class StepVerdict:
    """``ok``: the step succeeded; ``proved``: nothing is left to prove; ``reason``: why, in words."""

    ok: bool
    proved: bool
    reason: str


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _judge_proof_step(resp: ProofStepResponse) -> StepVerdict:
    errors = resp.errors
    if errors:
        return StepVerdict(False, False, f"error: {_first_line(errors[0].data)}")
    if resp.sorries:
        return StepVerdict(False, False, f"the step uses sorry ({len(resp.sorries)} sorries)")
    status = resp.proof_status
    if status is not None and status.startswith("Error"):
        return StepVerdict(False, False, f"proof status: {_first_line(status)}")
    if resp.goals:
        return StepVerdict(True, False, f"{len(resp.goals)} goal(s) remain")
    if status is None or status == PROOF_COMPLETED:
        return StepVerdict(True, True, "proof complete" if status else "no goals remain (repl sent no proofStatus)")
    return StepVerdict(False, False, f"no goals remain but proof status is {status!r}")


def _judge_command(resp: CommandResponse) -> StepVerdict:
    errors = resp.errors
    if errors:
        return StepVerdict(False, False, f"error: {_first_line(errors[0].data)}")
    if resp.sorries:
        return StepVerdict(True, False, f"{len(resp.sorries)} sorry(s) remain")
    if any(m.data in (_SORRY_WARNING, _SORRY_WARNING_OLD) for m in resp.messages):
        return StepVerdict(True, False, "a declaration uses sorry")
    return StepVerdict(True, True, "accepted without errors or sorries")


def judge_step(resp: Response) -> StepVerdict:
    """The verdict on one reply: a proof step (the main use), a command (accepted? sorry-free?), or an error."""
    if isinstance(resp, ProofStepResponse):
        return _judge_proof_step(resp)
    if isinstance(resp, ErrorResponse):
        head, _, rest = resp.message.partition("\n")
        if head.rstrip().endswith(":") and rest.strip():  # "Lean error:\n<the tactic's error>"
            return StepVerdict(False, False, f"repl error: {head.strip()} {_first_line(rest)}")
        return StepVerdict(False, False, f"repl error: {_first_line(resp.message)}")
    if isinstance(resp, CommandResponse):
        return _judge_command(resp)
    raise TypeError(f"judge_step: expected a repl reply, got {type(resp).__name__}")


_SPACE_RUNS = re.compile(r"(?<=\S)[ \t]+")


def canonical_goal(goal: str, *, keep_case_tags: bool = False) -> str:
    """One goal in a canonical text form.

    The goal is read with :func:`lean_env.goals.parse_goal` (after runs of spaces inside a line are made one);
    every text is put on one line (:func:`lean_env.goals.one_line`); grouped hypotheses (``a b : T``) are split
    into ``a : T`` and ``b : T``; a let-bound local keeps its value (``n : Nat := 3``); the ``case`` tag line is
    dropped unless ``keep_case_tags``.  Hypothesis order and names are kept (they can matter to later tactics).
    Raises :class:`~lean_env.errors.GoalParseError` when the text is not a goal.
    """
    parsed = parse_goal("\n".join(_SPACE_RUNS.sub(" ", line) for line in goal.split("\n"))).one_line()
    out = [f"case {parsed.case}"] if keep_case_tags and parsed.case is not None else []
    for hyp in parsed.hyps:
        value = "" if hyp.value is None else f" := {hyp.value}"
        out.extend(f"{name} : {hyp.type}{value}" for name in hyp.names)
    out.append(f"{TURNSTILE} {parsed.target}")
    return "\n".join(out)


def canonical_goals(goals: Iterable[str], *, keep_case_tags: bool = False) -> tuple[str, ...]:
    """A canonical form of a goal list, for recognising one proof state reached two ways (goal order kept)."""
    return tuple(canonical_goal(g, keep_case_tags=keep_case_tags) for g in goals)
