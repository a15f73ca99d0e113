"""Repl steps shared by every backend: open a theorem, run a tactic, pickle -- each turned into an Outcome.

Lean's verdicts come back as ``Kind.ERROR`` outcomes; a process that crashes, hangs past the timeout
or runs out of memory gives ``Kind.FAULT`` (the client has already killed and reaped it).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lean_env.client import ProtocolError, ReplCrashed, ReplError, ReplOutOfMemory, ReplTimeout
from lean_env.judge import judge_step
from lean_env.protocol import (
    Command, CommandResponse, ErrorResponse, PickleEnvironment, PickleProofState, ProofStep, ProofStepResponse,
    UnpickleEnvironment, UnpickleProofState,
)

from treesearch.backends.base import Kind, Outcome, Timings
from treesearch.theorem import Theorem

TRANSPORT_FAULTS = (ReplTimeout, ReplCrashed, ReplOutOfMemory, ProtocolError)


@dataclass(frozen=True)
class Opened:
    """A theorem stated in one repl: the outcome (root goals), its proof state and environment ids."""

    outcome: Outcome
    proof_state: int | None
    env: int | None


def fault(e: BaseException, what: str) -> Outcome:
    kind = type(e).__name__
    return Outcome(Kind.FAULT, message=f"{what}: {kind}: {e}")


def _first_error(resp: Any) -> str | None:
    if isinstance(resp, ErrorResponse):
        return resp.message
    errs = [m.data for m in getattr(resp, "messages", ()) if m.severity == "error"]
    return errs[0] if errs else None


async def run_header(client: Any, theorem: Theorem, *, timings: Timings,
                     timeout: float) -> tuple[int | None, str | None]:
    """Run the theorem's header imports (timed as ``import``): ``(env, None)``, or ``(None, error text)``.
    Without imports nothing is sent and the environment is ``None``.

    Transport failures propagate (``ReplError``)."""
    if not theorem.imports:
        return None, None
    with timings.measure("import"):
        resp = await client.request(Command(cmd=theorem.header), timeout=timeout)
    err = _first_error(resp)
    if err is not None or not isinstance(resp, CommandResponse):
        return None, f"header {theorem.header!r} failed: {err}"
    return resp.env, None


async def state_theorem(client: Any, theorem: Theorem, env: int | None, *, timings: Timings,
                        timeout: float) -> Opened:
    """State the theorem (with its ``sorry``) on environment ``env``; the sorry is the root.

    Transport failures propagate (``ReplError``)."""
    with timings.measure("tactic"):
        resp = await client.request(Command(cmd=theorem.source, env=env), timeout=timeout)
    err = _first_error(resp)
    if err is not None or not isinstance(resp, CommandResponse):
        on = f" on its header {theorem.header!r}" if env is not None else ""
        return Opened(Outcome(Kind.ERROR, message=f"theorem {theorem.name} does not elaborate{on}: {err}"),
                      None, None)
    if len(resp.sorries) != 1 or resp.sorries[0].proof_state is None:
        return Opened(Outcome(Kind.ERROR, message=(
            f"theorem {theorem.name} must contain exactly one `sorry` with a proof state; the repl reported "
            f"{len(resp.sorries)}")), None, None)
    s = resp.sorries[0]
    return Opened(Outcome(Kind.OPEN, goals=(s.goal,)), s.proof_state, resp.env)


async def open_theorem(client: Any, theorem: Theorem, *, timings: Timings, timeout: float) -> Opened:
    """Run the header imports (timed as ``import``) then the theorem with ``sorry``; the sorry is the root.

    Transport failures propagate (``ReplError``): a root that cannot be opened is not a search fault."""
    env, err = await run_header(client, theorem, timings=timings, timeout=timeout)
    if err is not None:
        return Opened(Outcome(Kind.ERROR, message=err), None, None)
    return await state_theorem(client, theorem, env, timings=timings, timeout=timeout)


async def run_tactic(client: Any, proof_state: int, tactic: str, *, timings: Timings,
                     timeout: float) -> tuple[Outcome, int | None]:
    """One proof step; returns the outcome and the new proof state id (``None`` unless it worked)."""
    t0 = time.perf_counter()
    try:
        resp = await client.request(ProofStep(tactic=tactic, proof_state=proof_state), timeout=timeout)
    except TRANSPORT_FAULTS as e:
        timings.add("tactic", time.perf_counter() - t0)
        return fault(e, f"tactic {tactic!r}"), None
    dt = time.perf_counter() - t0
    timings.add("tactic", dt)
    if isinstance(resp, ErrorResponse):
        return Outcome(Kind.ERROR, tactic=tactic, message=resp.message, seconds=dt), None
    if not isinstance(resp, ProofStepResponse):
        return Outcome(Kind.FAULT, tactic=tactic, message=f"unexpected reply {type(resp).__name__}", seconds=dt), None
    verdict = judge_step(resp)
    if not verdict.ok:
        return Outcome(Kind.ERROR, tactic=tactic, message=verdict.reason, seconds=dt), None
    if verdict.proved:
        return Outcome(Kind.PROVED, tactic=tactic, goals=(), seconds=dt), resp.proof_state
    return Outcome(Kind.OPEN, tactic=tactic, goals=tuple(resp.goals), seconds=dt), resp.proof_state


async def run_tactics(client: Any, proof_state: int, tactics: Sequence[str], *, timings: Timings,
                      timeout: float) -> tuple[Outcome, int | None]:
    """Tactics one after another from ``proof_state``; stops at the first that does not leave goals."""
    out = Outcome(Kind.ERROR, message="no tactics to replay")
    ps: int | None = proof_state
    for i, tac in enumerate(tactics):
        out, ps = await run_tactic(client, ps, tac, timings=timings, timeout=timeout)
        if out.kind is not Kind.OPEN and i < len(tactics) - 1:
            if out.kind is Kind.PROVED:
                out = Outcome(Kind.ERROR, tactic=tac, message=f"replay closed every goal early at step {i + 1}")
            return out, None
    return out, ps


async def pickle_proof_state(client: Any, proof_state: int, path: str, *, timings: Timings,
                             timeout: float) -> str | None:
    """``pickleTo`` a proof state; the error text, or ``None`` on success."""
    with timings.measure("pickle"):
        resp = await client.request(PickleProofState(pickle_to=path, proof_state=proof_state), timeout=timeout)
    return _first_error(resp)


async def pickle_env(client: Any, env: int, path: str, *, timings: Timings, timeout: float) -> str | None:
    with timings.measure("pickle"):
        resp = await client.request(PickleEnvironment(pickle_to=path, env=env), timeout=timeout)
    return _first_error(resp)


async def unpickle_env(client: Any, path: str, *, timings: Timings, timeout: float) -> tuple[int | None, str | None]:
    """``unpickleEnvFrom`` (timed as ``import``: it replays the header, as in the seed)."""
    with timings.measure("import"):
        resp = await client.request(UnpickleEnvironment(unpickle_env_from=path), timeout=timeout)
    err = _first_error(resp)
    if err is not None or not isinstance(resp, CommandResponse):
        return None, err or f"unexpected reply {type(resp).__name__}"
    return resp.env, None


async def unpickle_proof_state(client: Any, path: str, env: int | None, *, timings: Timings,
                               timeout: float) -> tuple[int | None, str | None]:
    with timings.measure("pickle"):
        resp = await client.request(UnpickleProofState(unpickle_proof_state_from=path, env=env), timeout=timeout)
    err = _first_error(resp)
    if err is not None or not isinstance(resp, ProofStepResponse):
        return None, err or f"unexpected reply {type(resp).__name__}"
    return resp.proof_state, None


__all__ = ["Opened", "open_theorem", "run_tactic", "run_tactics", "pickle_proof_state", "pickle_env",
           "unpickle_env", "unpickle_proof_state", "fault", "TRANSPORT_FAULTS", "ReplError"]


# ------------------------------------------------------------------ client lifetime (one place to adapt)
async def spawn_client(argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None,
                       memory_limit: int | None = None) -> Any:
    """A fresh repl process with an ``AsyncReplClient`` on it (the client owns and ends it)."""
    from lean_env.client import AsyncReplClient

    return await AsyncReplClient.spawn(list(argv), env=env, timeout=timeout, memory_limit=memory_limit)


def attach_client(proc: Any, *, timeout: float, memory_limit: int | None = None) -> Any:
    """An ``AsyncReplClient`` over a process we already own (e.g. a thawed ``criu_backend.Proc``); closing
    the client does not end the process. ``memory_limit``: RSS bytes past which the client kills it."""
    from lean_env.client import AsyncReplClient

    return AsyncReplClient.attach(proc, timeout=timeout, memory_limit=memory_limit)


async def close_client(client: Any) -> None:
    """Kill and reap the client's process; shielded from cancellation."""
    import anyio

    with anyio.CancelScope(shield=True):
        await client.aclose()


def client_pid(client: Any) -> int | None:
    return getattr(client, "pid", None)


def client_alive(client: Any) -> bool:
    """True while the client's repl runs and the client is usable."""
    return bool(getattr(client, "alive", False))
