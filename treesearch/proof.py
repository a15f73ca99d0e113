"""Proofs: the tactic path to a proved node, and its re-check as one command in a fresh repl.

A proof is accepted only if the whole theorem, with ``by sorry`` replaced by the tactic script, runs
with no error message, no sorry, and no "declaration uses `sorry`" warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from treesearch.errors import RecheckError, TreeError
from treesearch.theorem import Theorem
from treesearch.tree import ProofTree

SORRY_WARNING = "declaration uses `sorry`"


@dataclass(frozen=True)
class RecheckVerdict:
    """``accepted`` and, when not, ``reason``; ``messages`` are the Lean messages of the re-check."""

    accepted: bool
    reason: str
    source: str
    messages: tuple[dict[str, Any], ...] = field(default=())
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "reason": self.reason, "source": self.source,
                "messages": list(self.messages), "seconds": self.seconds}


def extract_proof(tree: ProofTree) -> list[str] | None:
    """The tactics along the edges from the root to a goal-free node, or ``None`` if the root is unproved."""
    if not tree.proved:
        return None
    tactics = tree.proof_tactics()
    if not tactics:
        raise TreeError("the root is proved without any tactic; nothing to re-check")
    return tactics


def judge_recheck(response: Any, source: str, *, seconds: float = 0.0) -> RecheckVerdict:
    """The verdict for the repl's reply to the re-check command (a pure function of the reply)."""
    from lean_env.protocol import CommandResponse, ErrorResponse

    if isinstance(response, ErrorResponse):
        return RecheckVerdict(False, f"repl error: {response.message}", source, seconds=seconds)
    if not isinstance(response, CommandResponse):
        return RecheckVerdict(False, f"unexpected reply {type(response).__name__}", source, seconds=seconds)
    msgs = tuple({"severity": m.severity, "data": m.data, "line": m.pos.line} for m in response.messages)
    errors = [m for m in response.messages if m.severity == "error"]
    if errors:
        return RecheckVerdict(False, f"error: {errors[0].data}", source, msgs, seconds)
    if response.sorries:
        return RecheckVerdict(False, f"the proof leaves {len(response.sorries)} sorry", source, msgs, seconds)
    if any(SORRY_WARNING in m.data for m in response.messages):
        return RecheckVerdict(False, f"warning: {SORRY_WARNING}", source, msgs, seconds)
    return RecheckVerdict(True, "ok", source, msgs, seconds)


async def recheck_proof(
    theorem: Theorem,
    tactics: Sequence[str],
    *,
    argv: Sequence[str] | None = None,
    timeout: float = 60.0,
) -> RecheckVerdict:
    """Run ``theorem`` with ``tactics`` as its proof, header included, as one ``cmd`` in a fresh repl
    (``argv``; default MiniLean) and judge the reply. ``RecheckError`` if the repl itself fails."""
    import time

    from lean_env.client import AsyncReplClient, ReplError
    from lean_env.protocol import Command
    from lean_env.repl_cmd import minilean_argv

    source = theorem.with_proof(tactics)
    text = f"{theorem.header}\n\n{source}" if theorem.imports else source
    t0 = time.perf_counter()
    try:
        client = await AsyncReplClient.spawn(list(argv or minilean_argv()), timeout=timeout)
        async with client:
            resp = await client.request(Command(cmd=text), timeout=timeout)
    except ReplError as e:
        raise RecheckError(f"re-checking the proof of {theorem.name} failed in the repl itself: {e}") from e
    return judge_recheck(resp, text, seconds=time.perf_counter() - t0)
