"""A criu run cancelled while a copy of its header image is being thawed ahead of demand ends at once and
leaves nothing behind (real MiniLean, real CRIU). Guards against the thread-based clone pool, whose
non-cancellable wait in take_ahead (up to 120 s) and thread join in close() held up a cancelled run."""

from __future__ import annotations

import os
import time
from pathlib import Path

import anyio
import criu_backend as cb
from conftest import IMP_TRANS, our_children
from lean_env.repl_cmd import minilean_argv
from policies.proposers import FixedTactics
from policies.selection import UCT

from treesearch import SearchBudget, Theorem, search
from treesearch.backends import make_backend
from treesearch.backends.criu import KIND, HeaderImages

ARGV = minilean_argv(library_size=50, imports=("Mathlib",))
# tactics that never prove imp_trans: the search would run until its budget, far longer than the test
NO_PROOF = ["intro h", "intro hpq hqr", "intro hpq"]
BUDGET = SearchBudget(expansions=10_000, wall_seconds=600, tactic_timeout=20)
CANCEL_BOUND = 1.0  # seconds from cancel to return (a restore under way takes ~0.1 s here)


def _thawing(headers: HeaderImages) -> bool:
    return any(h.pool is not None and h.pool.thawing for h in list(headers._headers.values()))


def test_a_run_cancelled_while_a_header_copy_is_thawed_ahead_ends_within_a_second(criu, no_leaks):
    root = Path(os.environ["CRYO_IMAGE_ROOT"])
    before = set(os.listdir(root))
    theorem = Theorem(IMP_TRANS.source, imports=("Mathlib",), name="imp_trans")

    async def run(headers: HeaderImages) -> None:
        async with make_backend("criu", argv=ARGV, header_images=headers, freeze="lazy", keep_warm=1) as backend:
            await search(theorem, backend=backend, proposer=FixedTactics(NO_PROOF), selector=UCT(), budget=BUDGET,
                         max_in_flight=1, seed=0, handle_sigint=False)

    async def main() -> tuple[float, bool, int]:
        with anyio.CancelScope() as outer:
            # the registry's per-run context: HeaderImages(ahead=1), left with `await aclose()`
            async with KIND.run_context({"image_dir": ""}) as headers:
                async with anyio.create_task_group() as tg:
                    # two theorems at once: the first is stated in the repl that built the header, the second
                    # awaits (in take_ahead) the copy the header's pool starts restoring right then
                    tg.start_soon(run, headers)
                    tg.start_soon(run, headers)
                    with anyio.fail_after(120):
                        while not _thawing(headers):  # the header is built; its copy ahead is being restored
                            await anyio.sleep(0.001)
                    thawing_at_cancel = _thawing(headers)
                    builds = headers.builds
                    t0 = time.perf_counter()
                    outer.cancel()
        return time.perf_counter() - t0, thawing_at_cancel, builds

    elapsed, thawing_at_cancel, builds = anyio.run(main)
    assert thawing_at_cancel and builds == 1
    assert elapsed < CANCEL_BOUND, f"the cancelled run took {elapsed:.2f} s to return"
    # nothing left at return: no process (the copy being restored was finished and closed), no image directory
    assert cb.live_procs() == []
    assert our_children() == []
    assert set(os.listdir(root)) - before == set()
