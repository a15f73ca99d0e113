"""``search``: the one call the experiment runner makes (driver + re-check + backend lifetime)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import anyio

from treesearch.backends import Backend, make_backend
from treesearch.backends.base import Outcome
from treesearch.budget import SearchBudget
from treesearch.driver import SearchDriver, SearchResult
from treesearch.errors import RecheckError
from treesearch.proof import RecheckVerdict, extract_proof, recheck_proof
from treesearch.theorem import Theorem


async def search(
    theorem: Theorem | str,
    *,
    backend: Backend | str,
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
) -> SearchResult:
    """Search for a proof of ``theorem`` and re-check what was found.

    ``backend``: a ``Backend`` (the caller closes it) or a name for ``make_backend`` (made with
    ``backend_settings`` and closed here, also on error and cancellation). ``proposer``/``selector``:
    policy objects, or names for ``policies.load_policy``. ``max_in_flight``: concurrent expansions
    (default: number of cores). ``resume_from``: a file written via ``save_path`` by a stopped run;
    the search goes on with that run's remaining budget (or ``budget`` minus what was spent).
    """
    if isinstance(theorem, str):
        theorem = Theorem.parse(theorem)
    owned = isinstance(backend, str)
    be = make_backend(backend, **(backend_settings or {})) if owned else backend
    try:
        driver = SearchDriver(
            theorem, backend=be, proposer=proposer, selector=selector, budget=budget or SearchBudget(),
            max_in_flight=max_in_flight, seed=seed, tactics_per_expansion=tactics_per_expansion,
            value_fn=value_fn, save_path=save_path, handle_sigint=handle_sigint, on_event=on_event,
        )
        if resume_from is not None:
            driver.load(resume_from, budget=budget)
        result = await driver.run()
        # An open that failed leaves an empty placeholder tree, which must not be read as a proof.
        proof = extract_proof(result.tree) if result.proved else None
        if recheck and proof is not None:
            try:
                result.recheck = await recheck_proof(theorem, proof, argv=be.recheck_argv(),
                                                     timeout=max(60.0, driver.budget.tactic_timeout))
            except RecheckError as e:
                result.recheck = RecheckVerdict(False, f"re-check could not run: {e}", "")
                result.errors.append({"kind": "recheck", "node": None, "message": str(e)})
        return result
    finally:
        if owned:
            with anyio.CancelScope(shield=True):
                await be.close()
