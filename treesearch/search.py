"""``search``: the one search path -- driver, backend lifetime, re-check -- that ``cryo run``, ``cryo compare``,
``cryo demo``, the benchmarks and ``python -m treesearch`` all call."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio

from treesearch.backends import Backend, make_backend
from treesearch.backends.base import Outcome
from treesearch.budget import SearchBudget
from treesearch.driver import DEFAULT_BATCH_SIZE, DEFAULT_BATCH_WAIT, STOP_ERROR, SearchDriver, SearchResult
from treesearch.errors import RecheckError, TreeSearchError
from treesearch.proof import RecheckVerdict, extract_proof, recheck_proof
from treesearch.theorem import Theorem

__all__ = ["search", "RECHECK_INTERRUPTED_BEFORE", "RECHECK_INTERRUPTED_DURING"]

RECHECK_INTERRUPTED_BEFORE = "interrupted before the re-check"
RECHECK_INTERRUPTED_DURING = "interrupted during the re-check"


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for e in group.exceptions:
        out.extend(_leaves(e) if isinstance(e, BaseExceptionGroup) else [e])
    return out


def _backend(backend: Any, settings: dict[str, Any] | None) -> tuple[Backend, bool]:
    """(the backend, whether ``search`` owns it): a ``Backend`` is the caller's; a name or a factory makes one."""
    if isinstance(backend, Backend):
        if settings:
            raise TreeSearchError("backend_settings apply only to a backend given by name; "
                                  f"the {backend.name} backend given was made already")
        return backend, False
    if isinstance(backend, str):
        return make_backend(backend, **(settings or {})), True
    if callable(backend):
        made = backend(**(settings or {}))
        if not isinstance(made, Backend):
            raise TreeSearchError(f"the backend factory returned {type(made).__name__}, not a treesearch Backend")
        return made, True
    raise TreeSearchError(f"backend must be a Backend, a backend name or a factory, got {type(backend).__name__}")


async def _close(be: Backend) -> float:
    t0 = time.monotonic()
    with anyio.CancelScope(shield=True):
        await be.close()
    return time.monotonic() - t0


async def search(
    theorem: Theorem | str,
    *,
    backend: Backend | str | Callable[..., Backend],
    proposer: Any,
    selector: Any,
    budget: SearchBudget | None = None,
    max_in_flight: int | None = None,
    seed: int = 0,
    tactics_per_expansion: int = 8,
    value_fn: Callable[[Sequence[Outcome]], float] | Any = None,
    recheck: bool = True,
    save_path: str | os.PathLike | None = None,
    resume_from: str | os.PathLike | None = None,
    backend_settings: dict[str, Any] | None = None,
    handle_sigint: bool = True,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    stop: Any = None,
    failures: tuple[type[BaseException], ...] = (),
    batch_size: int = DEFAULT_BATCH_SIZE,
    batch_wait: float = DEFAULT_BATCH_WAIT,
) -> SearchResult:
    """Search for a proof of ``theorem`` and re-check what was found.

    ``backend``: a ``Backend`` (the caller closes it), a name for ``make_backend`` or a factory (a callable
    returning a ``Backend``, e.g. ``lambda: kind.make(settings, shared=shared)``); one made here from a name
    (with ``backend_settings``) or a factory is closed here as soon as the search stops -- before the re-check,
    also on errors and cancellation -- and the seconds that took are ``result.close_seconds``.
    ``proposer``/``selector``: policy objects, or names for ``policies.load_policy``; the proposer may be
    synchronous (``propose(goals, *, rng)``, run in a worker thread) or async (``propose_many`` /
    ``propose(context, k, *, rng)``, see ``policies.seam``), and is awaited, so the proposals of every
    expansion in flight are requested at once. ``batch_size`` / ``batch_wait``: the proposal window -- up to
    ``batch_size`` concurrent requests (never more than ``max_in_flight``) go to the proposer as one
    ``propose_many`` call, sent when full or ``batch_wait`` seconds after its first request (``batch_size=1``,
    the default: each request at once). A proposer with an async ``aclose()`` is closed when the search
    stops (a later search reopens it). ``max_in_flight``:
    concurrent expansions (default: number of cores). ``resume_from``: a file written via ``save_path`` by a
    stopped run; the search goes on with that run's remaining budget (or ``budget`` minus what was spent).

    Hooks: ``on_event(dict)`` gets ``selected`` (path), ``expanded`` (node, tactics, ok, status, ``seconds``
    of the whole expansion, ``expand_seconds`` of its backend ``expand`` calls), ``replay`` and ``error``
    events. ``stop`` (anything with ``is_set()`` and ``async wait()``, e.g. an ``anyio.Event``): once set, the
    search ends as ``interrupted`` and returns its partial result; a re-check is skipped, or cut short when
    it is running (``recheck_status = "skipped"``, ``recheck_note`` says which). ``failures``: exception types
    (e.g. the repl client's and CRIU's) that end this search as ``error`` with its partial result and the
    failure in ``errors`` (kind ``failed``) instead of being raised.
    """
    if isinstance(theorem, str):
        theorem = Theorem.parse(theorem)
    be, owned = _backend(backend, backend_settings)
    open_ = owned
    try:
        driver = SearchDriver(
            theorem, backend=be, proposer=proposer, selector=selector, budget=budget or SearchBudget(),
            max_in_flight=max_in_flight, seed=seed, tactics_per_expansion=tactics_per_expansion,
            value_fn=value_fn, save_path=save_path, handle_sigint=handle_sigint, on_event=on_event, stop=stop,
            batch_size=batch_size, batch_wait=batch_wait,
        )
        if resume_from is not None:
            driver.load(resume_from, budget=budget)
        try:
            result = await driver.run()
        except* failures as group:  # anyio task groups wrap them in exception groups
            result = driver.result()
            for e in _leaves(group):
                result.errors.append({"kind": "failed", "node": None, "message": f"{type(e).__name__}: {e}"})
            # the driver calls any unexplained end "interrupted"; only a stop or SIGINT is one (and says so)
            if not result.proved and not any(e["kind"] == "interrupted" for e in result.errors):
                result.stopped_by = STOP_ERROR
        if owned:
            open_ = False
            result.close_seconds = await _close(be)
        result.backend_settings = dict(be.settings())
        await _recheck(result, theorem, be, recheck=recheck, stop=stop, timeout=max(60.0, driver.budget.tactic_timeout))
        return result
    finally:
        if open_:
            await _close(be)


async def _recheck(result: SearchResult, theorem: Theorem, be: Backend, *, recheck: bool, stop: Any,
                   timeout: float) -> None:
    """Re-check ``result``'s proof in a fresh repl of ``be``'s kind; sets ``recheck``, ``recheck_status`` and
    ``recheck_note``."""
    # An open that failed leaves an empty placeholder tree, which must not be read as a proof.
    proof = extract_proof(result.tree) if result.proved else None
    if proof is None:
        result.recheck_status = "none"
        return
    if not recheck:
        result.recheck_status = "skipped"
        return
    if stop is not None and stop.is_set():
        result.recheck_status, result.recheck_note = "skipped", RECHECK_INTERRUPTED_BEFORE
        return
    verdict: RecheckVerdict | None = None
    failed: RecheckError | None = None
    async with anyio.create_task_group() as tg:
        if stop is not None:
            async def cut_short() -> None:
                await stop.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(cut_short)
        try:
            verdict = await recheck_proof(theorem, proof, argv=be.recheck_argv(), timeout=timeout)
        except RecheckError as e:
            failed = e
        tg.cancel_scope.cancel()
    if failed is not None:
        result.recheck = RecheckVerdict(False, f"re-check could not run: {failed}", "")
        result.recheck_status, result.recheck_note = "error", str(failed)
        result.errors.append({"kind": "recheck", "node": None, "message": str(failed)})
    elif verdict is None:  # the stop cancelled it
        result.recheck_status, result.recheck_note = "skipped", RECHECK_INTERRUPTED_DURING
    else:
        result.recheck = verdict
        result.recheck_status = "passed" if verdict.accepted else "failed"
        result.recheck_note = verdict.reason
