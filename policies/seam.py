"""The async proposer seam: what a proposer is told about a state, how the driver awaits it, and batching.

The driver asks for tactics with ``await proposer.propose(context, k, rng=rng)`` on an :class:`AsyncProposer`
obtained from :func:`as_async_proposer`, so many expansions' proposals are in flight at once and a model
server never stalls the event loop.  The pieces:

* :class:`ProposalContext` -- one proof state as a proposer sees it: theorem name and statement, header, the
  tactic path from the root, the goals as text and as parsed by ``lean_env.goals`` (filled by the driver), depth.
* :class:`AsyncProposer` -- ``async propose_many(contexts, k, *, rng)``: one list of proposals per context, or
  the :class:`~policies.errors.PolicyError` that failed that one context (the others keep theirs).
* :class:`SyncProposerAdapter` -- any existing synchronous :class:`~policies.base.Proposer` unchanged, run in
  an anyio worker thread (one at a time by default: proposers and numpy generators are not thread-safe).
* :class:`BatchWindow` -- merges concurrent ``propose(context, k)`` calls into one ``propose_many`` call:
  a batch closes when it holds ``max_batch`` requests or ``max_wait`` seconds after its first request.
* :func:`finalize` -- whitespace-normalised de-duplication (priors of duplicates added), truncation to ``k``,
  priors renormalised to sum 1.  Every path through the seam ends in it.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

import anyio
import anyio.to_thread
import numpy as np
from anyio.abc import TaskGroup

from policies.base import TacticProposal
from policies.errors import PolicyError, StatsError

__all__ = [
    "ProposalError",
    "ProposalContext",
    "ProposalResult",
    "AsyncProposer",
    "SyncProposerAdapter",
    "BatchWindow",
    "as_async_proposer",
    "finalize",
    "normalise_tactic",
]

class ProposalError(PolicyError):
    """A proposer could not give tactics for a state (a model server failed, a reply was malformed, ...).

    It fails that one state: the driver marks the node failed with this message and the search goes on.
    """


#: One context's answer from :meth:`AsyncProposer.propose_many`: its proposals, or the error that failed it.
ProposalResult = list[TacticProposal] | PolicyError


@dataclasses.dataclass(frozen=True, slots=True)
class ProposalContext:
    """One proof state as a proposer sees it.

    Attributes:
        theorem_name: the theorem's name (``"and_swap"``); ``""`` when unknown.
        statement: the theorem's statement as written in the suite, without its proof
            (``"theorem and_swap (p q : Prop) : p ∧ q → q ∧ p"``); ``""`` when unknown.
        header: the header sent before the theorem (``"import Mathlib\\nopen Nat"``); ``""`` when none.
        path: the tactics applied from the root to reach this state, in order (empty at the root).
        goals: the open goals exactly as the repl pretty-prints them; tactics act on the first.
        depth: number of tactics from the root; defaults to ``len(path)``.
        parsed_goals: the goals as ``lean_env.goals.Goal`` values, one per entry of ``goals``, filled by the
            search driver (``lean_env.goals.parse_goal``); an entry is ``None`` where the text did not parse
            (the node is not failed for it: such a proposer falls back to ``goals``).  ``None`` as a whole when
            the caller did not parse (contexts built by hand).  The seam never parses goals itself.
    """

    theorem_name: str = ""
    statement: str = ""
    header: str = ""
    path: tuple[str, ...] = ()
    goals: tuple[str, ...] = ()
    depth: int | None = None
    parsed_goals: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        # Lists given by callers are frozen into tuples, so a context can key a cache and cross threads.
        for name in ("path", "goals"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise StatsError(f"ProposalContext.{name} must be a sequence of strings, got the string {value!r}")
            object.__setattr__(self, name, tuple(value))
        if self.parsed_goals is not None:
            object.__setattr__(self, "parsed_goals", tuple(self.parsed_goals))
        if self.depth is None:
            object.__setattr__(self, "depth", len(self.path))
        elif self.depth < 0:
            raise StatsError(f"ProposalContext.depth must be >= 0, got {self.depth}")

    @property
    def state(self) -> str:
        """The goals as one text, separated by a blank line as Lean prints several goals."""
        return "\n\n".join(self.goals)

    @property
    def proof_before(self) -> str:
        """The tactics so far, one per line (InternLM-StepProver's ``PROOF_BEFORE``)."""
        return "\n".join(self.path)


def normalise_tactic(tactic: str) -> str:
    """The de-duplication key of a tactic: whitespace runs collapsed to one space, ends stripped."""
    return " ".join(tactic.split())


def finalize(proposals: Sequence[TacticProposal], k: int) -> list[TacticProposal]:
    """At most ``k`` distinct proposals, highest prior first, priors summing to 1.

    Tactics equal up to whitespace (:func:`normalise_tactic`) are one proposal: the first spelling is kept
    and the priors are added.  Ties keep their first-seen order.  When every kept prior is 0 the priors are
    uniform.  An empty input gives an empty list.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise StatsError(f"the number of tactics wanted must be an int >= 1, got {k!r}")
    merged: dict[str, list[Any]] = {}
    for p in proposals:
        key = normalise_tactic(p.tactic)
        if key in merged:
            merged[key][1] += float(p.prior)
        else:
            merged[key] = [p.tactic, float(p.prior)]
    kept = sorted(merged.values(), key=lambda tp: -tp[1])[:k]  # stable: ties keep first-seen order
    total = math.fsum(prior for _t, prior in kept)
    if not kept:
        return []
    if not math.isfinite(total):
        raise StatsError(f"priors {[(t, p) for t, p in kept]} do not add up to a finite number")
    if total <= 0.0:
        return [TacticProposal(t, 1.0 / len(kept)) for t, _p in kept]
    return [TacticProposal(t, p / total) for t, p in kept]


@runtime_checkable
class AsyncProposer(Protocol):
    """Proof states -> tactics with priors, awaited by the driver.

    ``propose_many`` returns one item per context, in order: at most ``k`` proposals (priors summing to 1,
    highest first; see :func:`finalize`), or the :class:`PolicyError` that failed that context alone.  An
    exception it *raises* fails every context of the call.  ``rng`` is a ``numpy.random.Generator``.
    """

    async def propose_many(
        self, contexts: Sequence[ProposalContext], k: int, *, rng: np.random.Generator
    ) -> list[ProposalResult]: ...


async def _propose_one(
    proposer: Any, context: ProposalContext, k: int, rng: np.random.Generator
) -> list[TacticProposal]:
    (result,) = _check_results(proposer, [context], await proposer.propose_many([context], k, rng=rng))
    if isinstance(result, PolicyError):
        raise result
    return result


async def each_state(
    contexts: Sequence[ProposalContext],
    propose_one: Callable[[ProposalContext], Awaitable[list[TacticProposal]]],
    *,
    catch: type[PolicyError] = PolicyError,
) -> list[ProposalResult]:
    """``propose_one(context)`` for every context at once, results in the contexts' order; a state whose call
    raised ``catch`` gets that error as its result, so the other states keep their proposals."""
    out: list[ProposalResult] = [[] for _ in contexts]

    async def one(i: int, ctx: ProposalContext) -> None:
        try:
            out[i] = await propose_one(ctx)
        except catch as e:
            out[i] = e

    async with anyio.create_task_group() as tg:
        for i, ctx in enumerate(contexts):
            tg.start_soon(one, i, ctx)
    return out


def _check_results(owner: Any, contexts: Sequence[ProposalContext], results: Any) -> list[ProposalResult]:
    results = list(results)
    if len(results) != len(contexts):
        raise ProposalError(f"{owner!r}.propose_many returned {len(results)} results for {len(contexts)} contexts")
    return results


class SyncProposerAdapter:
    """Runs a synchronous :class:`~policies.base.Proposer` (``propose(goals, *, rng)``) off the event loop.

    Each ``propose_many`` call runs the proposer once per context in an anyio worker thread.  At most
    ``max_threads`` calls run at once (default 1: a proposer's own state and a numpy ``Generator`` are not
    thread-safe, and the driver ran them one at a time before).  A :class:`PolicyError` raised for one
    context fails that context only.  Results pass through :func:`finalize`.
    """

    def __init__(self, proposer: Any, *, max_threads: int = 1) -> None:
        if not callable(getattr(proposer, "propose", None)):
            raise PolicyError(f"{proposer!r} has no propose(goals, *, rng) method")
        if inspect.iscoroutinefunction(proposer.propose):
            raise PolicyError(f"{proposer!r}.propose is async; give it propose_many or use as_async_proposer")
        if max_threads < 1:
            raise StatsError(f"max_threads must be >= 1, got {max_threads}")
        self.proposer = proposer
        self._limiter = anyio.CapacityLimiter(max_threads)

    def _run(self, contexts: Sequence[ProposalContext], k: int, rng: np.random.Generator) -> list[ProposalResult]:
        out: list[ProposalResult] = []
        for ctx in contexts:
            try:
                out.append(finalize(self.proposer.propose(list(ctx.goals), rng=rng), k))
            except PolicyError as e:
                out.append(e)
        return out

    async def propose_many(
        self, contexts: Sequence[ProposalContext], k: int, *, rng: np.random.Generator
    ) -> list[ProposalResult]:
        """One result per context; see :class:`AsyncProposer`."""
        return await anyio.to_thread.run_sync(self._run, list(contexts), k, rng, limiter=self._limiter)

    async def propose(self, context: ProposalContext, k: int, *, rng: np.random.Generator) -> list[TacticProposal]:
        """The proposals for one context; raises its :class:`PolicyError`."""
        return await _propose_one(self, context, k, rng)

    def __repr__(self) -> str:
        return f"SyncProposerAdapter({self.proposer!r})"


class _Request:
    __slots__ = ("context", "k", "rng", "done", "result", "error", "t_submit")

    def __init__(self, context: ProposalContext, k: int, rng: np.random.Generator) -> None:
        self.context = context
        self.k = k
        self.rng = rng
        self.done = anyio.Event()
        self.result: list[TacticProposal] | None = None
        self.error: BaseException | None = None
        self.t_submit = time.monotonic()


def _fail_unanswered(requests: Sequence[_Request]) -> None:
    """Release callers whose batch was cancelled (``BatchWindow.cancel``), with a :class:`ProposalError`."""
    for r in requests:
        if not r.done.is_set():
            r.error = ProposalError("the batch window was closed before the proposer answered")
            r.done.set()


class BatchWindow:
    """Merges concurrent ``propose(context, k)`` calls into ``propose_many`` calls of the inner proposer.

    A batch opens with the first waiting request and closes when it holds ``max_batch`` requests or
    ``max_wait`` seconds later, whichever comes first; it is then sent (one ``propose_many`` per distinct
    ``k``, with the rng of its first request) while the next batch fills, so several batches can be in
    flight at once.  Use it as an async context manager: it owns a task group::

        async with BatchWindow(as_async_proposer(p), max_batch=8, max_wait=0.005) as window:
            proposals = await window.propose(context, k, rng=rng)

    Statistics: ``batches`` (calls made), ``requests``, ``largest_batch``, ``wait_seconds`` (summed time
    requests spent waiting for their batch to close).

    :meth:`cancel` drops what is queued and cancels the batches in flight (a search that ended does not wait
    for model calls nobody awaits any more); a caller still waiting gets a :class:`ProposalError`.
    """

    def __init__(self, inner: AsyncProposer, *, max_batch: int = 8, max_wait: float = 0.005) -> None:
        if not (isinstance(max_batch, int) and max_batch >= 1):
            raise StatsError(f"max_batch must be an int >= 1, got {max_batch!r}")
        if not (math.isfinite(max_wait) and max_wait >= 0):
            raise StatsError(f"max_wait must be a finite number of seconds >= 0, got {max_wait!r}")
        self.inner = inner
        self.max_batch = max_batch
        self.max_wait = float(max_wait)
        self.batches = 0
        self.requests = 0
        self.largest_batch = 0
        self.wait_seconds = 0.0
        self._tg: TaskGroup | None = None
        self._send: Any = None
        self._receive: Any = None
        self._scopes: set[anyio.CancelScope] = set()  # the dispatcher's and each batch's, for cancel()
        self._cancelled = False

    async def __aenter__(self) -> BatchWindow:
        if self._tg is not None:
            raise PolicyError("BatchWindow is already open")
        self._send, self._receive = anyio.create_memory_object_stream[_Request](max_buffer_size=math.inf)
        self._cancelled = False
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._guarded, self._dispatch)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        tg, self._tg = self._tg, None
        if tg is None:
            return None
        await self._send.aclose()  # the dispatcher sends what is queued, then ends
        try:
            return await tg.__aexit__(exc_type, exc, tb)
        finally:
            await self._receive.aclose()

    def cancel(self) -> None:
        """Cancel every batch in flight and drop queued requests; their callers get a :class:`ProposalError`,
        and so does every later ``propose``.  Only the window's own tasks are cancelled, not the code inside
        ``async with``."""
        self._cancelled = True
        for scope in list(self._scopes):
            scope.cancel()

    async def _guarded(self, fn: Any, *args: Any) -> None:
        """Run one of the window's tasks in a cancel scope of its own, which ``cancel`` cancels."""
        with anyio.CancelScope() as scope:
            if self._cancelled:
                scope.cancel()
            self._scopes.add(scope)
            try:
                await fn(*args)
            finally:
                self._scopes.discard(scope)

    async def _dispatch(self) -> None:
        async with self._receive:
            batch: list[_Request] = []
            try:
                while True:
                    try:
                        first = await self._receive.receive()
                    except anyio.EndOfStream:
                        return
                    batch = [first]
                    with anyio.move_on_after(self.max_wait):
                        while len(batch) < self.max_batch:
                            try:
                                batch.append(await self._receive.receive())
                            except anyio.EndOfStream:
                                break
                    now = time.monotonic()
                    self.wait_seconds += sum(now - r.t_submit for r in batch)
                    by_k: dict[int, list[_Request]] = {}
                    for r in batch:
                        by_k.setdefault(r.k, []).append(r)
                    for group in by_k.values():
                        self._tg.start_soon(self._guarded, self._run_batch, group)
                    batch = []
            except BaseException:  # cancelled (``cancel``): release every caller still queued, then re-raise
                queued = list(batch)
                while True:
                    try:
                        queued.append(self._receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                        break
                _fail_unanswered(queued)
                raise

    async def _run_batch(self, group: list[_Request]) -> None:
        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(group))
        try:
            contexts = [r.context for r in group]
            results = _check_results(
                self.inner, group, await self.inner.propose_many(contexts, group[0].k, rng=group[0].rng)
            )
        except Exception as e:  # delivered to every waiting caller, who re-raises it; never lost here
            for r in group:
                r.error = e
                r.done.set()
            return
        except BaseException:  # cancelled (``cancel``): the callers get an error instead of waiting forever
            _fail_unanswered(group)
            raise
        for r, res in zip(group, results):
            if isinstance(res, PolicyError):
                r.error = res
            else:
                r.result = list(res)
            r.done.set()

    async def propose(self, context: ProposalContext, k: int, *, rng: np.random.Generator) -> list[TacticProposal]:
        """The proposals for one context, served in a batch; raises the error that failed it."""
        if self._tg is None:
            raise PolicyError("BatchWindow is not open; use `async with BatchWindow(...) as window:`")
        if self._cancelled:
            raise ProposalError("the batch window was closed before the proposer answered")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise StatsError(f"the number of tactics wanted must be an int >= 1, got {k!r}")
        req = _Request(context, k, rng)
        self.requests += 1
        await self._send.send(req)
        await req.done.wait()
        if req.error is not None:
            raise req.error
        return req.result  # type: ignore[return-value]

    async def propose_many(
        self, contexts: Sequence[ProposalContext], k: int, *, rng: np.random.Generator
    ) -> list[ProposalResult]:
        """Each context through the window (so they can share batches with other callers)."""
        return await each_state(contexts, lambda ctx: self.propose(ctx, k, rng=rng))

    def stats(self) -> dict[str, float]:
        """Batches, requests, the largest batch, and the mean batch size and wait per request."""
        return {
            "batches": self.batches,
            "requests": self.requests,
            "largest_batch": self.largest_batch,
            "mean_batch": self.requests / self.batches if self.batches else 0.0,
            "wait_seconds": self.wait_seconds,
        }


class _SingleAsyncAdapter:
    """An object with ``async propose(context, k, *, rng)`` only, as an :class:`AsyncProposer`."""

    def __init__(self, proposer: Any) -> None:
        self.proposer = proposer

    async def propose_many(
        self, contexts: Sequence[ProposalContext], k: int, *, rng: np.random.Generator
    ) -> list[ProposalResult]:
        out: list[ProposalResult] = [[] for _ in contexts]

        async def one(i: int, ctx: ProposalContext) -> None:
            try:
                out[i] = finalize(await self.proposer.propose(ctx, k, rng=rng), k)
            except PolicyError as e:
                out[i] = e

        async with anyio.create_task_group() as tg:
            for i, ctx in enumerate(contexts):
                tg.start_soon(one, i, ctx)
        return out

    async def propose(self, context: ProposalContext, k: int, *, rng: np.random.Generator) -> list[TacticProposal]:
        return await _propose_one(self, context, k, rng)


def as_async_proposer(proposer: Any, *, max_threads: int = 1) -> Any:
    """``proposer`` as an :class:`AsyncProposer` (with ``propose_many`` and ``propose(context, k, *, rng)``).

    * an object whose ``propose_many`` is a coroutine function is returned as it is;
    * an object whose ``propose`` is a coroutine function taking a :class:`ProposalContext` is wrapped so
      its contexts run concurrently;
    * a synchronous :class:`~policies.base.Proposer` is wrapped in :class:`SyncProposerAdapter`.
    """
    if inspect.iscoroutinefunction(getattr(proposer, "propose_many", None)):
        return proposer
    propose = getattr(proposer, "propose", None)
    if inspect.iscoroutinefunction(propose):
        return _SingleAsyncAdapter(proposer)
    if callable(propose):
        return SyncProposerAdapter(proposer, max_threads=max_threads)
    raise PolicyError(f"{proposer!r} is not a proposer: it has neither propose_many() nor propose()")
