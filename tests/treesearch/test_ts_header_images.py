"""Post-import header images shared across theorems by the criu backend (real MiniLean, real CRIU): the header
is imported once per (argv, cwd, imports) and every theorem is stated on a clone of its image."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
from conftest import AND_INTRO, AND_INTRO_TACTICS, IMP_TRANS, IMP_TRANS_TACTICS
from lean_env.repl_cmd import minilean_argv
from policies.proposers import FixedTactics
from policies.selection import UCT

from treesearch import SearchBudget, SearchDriver, Theorem, search
from treesearch.backends import Kind, make_backend
from treesearch.backends.criu import HeaderImages

BUDGET = SearchBudget(expansions=20, wall_seconds=120, tactic_timeout=20)
ARGV = minilean_argv(library_size=50, imports=("Mathlib",))


def with_mathlib(theorem: Theorem) -> Theorem:
    return Theorem(theorem.source, imports=("Mathlib",), name=theorem.name)


async def _search(theorem: Theorem, tactics: list[str], headers: HeaderImages, **settings):
    backend = make_backend("criu", argv=ARGV, header_images=headers, **settings)
    async with backend:
        return await search(theorem, backend=backend, proposer=FixedTactics(tactics), selector=UCT(),
                            budget=BUDGET, max_in_flight=1, seed=0, tactics_per_expansion=len(tactics),
                            handle_sigint=False)


async def _open_failed(theorem: Theorem, headers: HeaderImages):
    """Run the driver (``search`` itself re-checks, which an unopened tree cannot be) on a theorem that
    cannot be opened."""
    backend = make_backend("criu", argv=ARGV, header_images=headers)
    async with backend:
        driver = SearchDriver(theorem, backend=backend, proposer=FixedTactics(["constructor"]), selector=UCT(),
                              budget=BUDGET, max_in_flight=1, seed=0, handle_sigint=False)
        return await driver.run()


def test_two_theorems_import_once_and_are_proved_and_rechecked(criu, no_leaks):
    async def main():
        async with HeaderImages() as headers:
            first = await _search(with_mathlib(AND_INTRO), AND_INTRO_TACTICS, headers)
            second = await _search(with_mathlib(IMP_TRANS), IMP_TRANS_TACTICS, headers, freeze="lazy", keep_warm=1)
            return first, second, headers.builds

    first, second, builds = anyio.run(main)
    assert builds == 1
    for res in (first, second):
        assert res.verified, (res.stopped_by, res.errors)
        assert res.errors == []
        assert res.timings["counts"]["thaw"] >= 1  # the root came from a clone of the header image
    assert first.proof == AND_INTRO_TACTICS
    assert second.proof == IMP_TRANS_TACTICS[:4]
    # the header build is the first theorem's import; the second one imported nothing
    assert first.timings.get("import", 0.0) > 0.0
    assert second.timings.get("import", 0.0) == 0.0


def test_concurrent_opens_with_one_key_build_the_header_once(criu, no_leaks):
    async def main():
        roots = {}
        async with HeaderImages() as headers:
            backends = [make_backend("criu", argv=ARGV, header_images=headers) for _ in range(2)]

            async def open_one(i, thm):
                roots[i] = await backends[i].open(thm)

            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(open_one, 0, with_mathlib(AND_INTRO))
                    tg.start_soon(open_one, 1, with_mathlib(IMP_TRANS))
                (child,) = await backends[1].expand(roots[1].handle, [IMP_TRANS_TACTICS[0]])
                assert child.kind is Kind.OPEN
            finally:
                for b in backends:
                    await b.close()
            return roots, headers.builds

    roots, builds = anyio.run(main)
    assert builds == 1
    assert roots[0].kind is Kind.OPEN and roots[0].goals == ("p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q",)
    assert roots[1].kind is Kind.OPEN


def test_a_statement_that_fails_on_the_header_is_open_failed(criu, no_leaks):
    bad = Theorem("theorem bad (p : Prop) : p ∧ nonsense_name := by sorry", imports=("Mathlib",), name="bad")

    async def main():
        async with HeaderImages() as headers:
            res = await _open_failed(bad, headers)
            good = await _search(with_mathlib(AND_INTRO), AND_INTRO_TACTICS, headers)
            return res, good, headers.builds

    res, good, builds = anyio.run(main)
    assert not res.proved and res.stopped_by == "open-failed", res.stopped_by
    assert any("does not elaborate" in e["message"] for e in res.errors), res.errors
    assert good.verified and builds == 1  # the header image survived the failed theorem


def test_a_header_that_fails_is_reported_and_not_kept(criu, no_leaks):
    thm = Theorem(AND_INTRO.source, imports=("NoSuchModule",), name="and_intro")

    async def main():
        async with HeaderImages() as headers:
            res = await _open_failed(thm, headers)
            return res, headers.builds, headers.images()

    res, builds, images = anyio.run(main)
    assert res.stopped_by == "open-failed"
    assert any("header" in e["message"] for e in res.errors), res.errors
    assert builds == 0 and images == []


def test_close_removes_the_header_images(criu, no_leaks):
    headers = HeaderImages()

    async def main():
        return await _search(with_mathlib(AND_INTRO), AND_INTRO_TACTICS, headers)

    res = anyio.run(main)
    assert res.verified
    (image,) = headers.images()
    path = Path(image.path)
    assert path.is_dir() and image.pins == 1
    root = Path(os.environ["CRYO_IMAGE_ROOT"])
    assert str(path).startswith(str(root))
    anyio.run(headers.aclose)
    anyio.run(headers.aclose)  # idempotent
    assert not path.exists() and headers.images() == []


def test_a_damaged_header_image_is_rebuilt(criu, no_leaks):
    async def main():
        async with HeaderImages() as headers:
            first = await _search(with_mathlib(AND_INTRO), AND_INTRO_TACTICS, headers)
            (image,) = headers.images()
            pages = max(Path(image.path).glob("pages-*.img"), key=lambda p: p.stat().st_size)
            pages.write_bytes(b"")  # damaged: the manifest no longer matches
            second = await _search(with_mathlib(IMP_TRANS), IMP_TRANS_TACTICS, headers)
            return first, second, headers.builds, image

    first, second, builds, old = anyio.run(main)
    assert first.verified and second.verified, (second.stopped_by, second.errors)
    assert builds == 2 and old.removed
    assert any("header image" in e["message"] for e in second.errors), second.errors


def test_header_copies_thawed_ahead_serve_the_roots(criu, no_leaks):
    """With ahead=1 the repl that built the header image serves the first theorem; without warm clones
    (keep_warm=0) nothing is given back, so the next theorem takes the copy the header's ClonePool thawed
    meanwhile (no restore on demand), and aclose() ends the copy still waiting."""
    async def main():
        async with HeaderImages(ahead=1) as headers:
            first = await _search(with_mathlib(AND_INTRO), AND_INTRO_TACTICS, headers)
            await anyio.sleep(0.5)  # the pool's task thaws its copy meanwhile
            second = await _search(with_mathlib(IMP_TRANS), IMP_TRANS_TACTICS, headers)
            (header,) = headers._headers.values()
            await anyio.sleep(0.5)
            ready = header.pool.ready
            return first, second, headers.builds, headers.reused, headers.ahead_taken, ready

    first, second, builds, reused, taken, ready = anyio.run(main)
    assert first.verified and second.verified, (second.stopped_by, second.errors)
    assert builds == 1 and reused == 1 and taken == 1 and ready == 1


def test_a_damaged_header_image_is_rebuilt_with_copies_ahead(criu, no_leaks):
    async def main():
        async with HeaderImages(ahead=1) as headers:
            first = await _search(with_mathlib(AND_INTRO), AND_INTRO_TACTICS, headers)
            (header,) = headers._headers.values()
            await header.pool.aclose()  # no copy ahead left: the next open must thaw the (damaged) image itself
            pages = max(Path(header.image.path).glob("pages-*.img"), key=lambda p: p.stat().st_size)
            pages.write_bytes(b"")
            second = await _search(with_mathlib(IMP_TRANS), IMP_TRANS_TACTICS, headers)
            return first, second, headers.builds

    first, second, builds = anyio.run(main)
    assert first.verified and second.verified, (second.stopped_by, second.errors)
    assert builds == 2


def test_a_finished_theorems_idle_clone_serves_the_next_theorem(criu, no_leaks):
    """Closing a backend gives its idle clone of the header image back; the next theorem is stated in it
    (no restore), and a lazy root lost with that clone is stated again under a new proof state id."""
    import os
    import signal

    async def main():
        async with HeaderImages(ahead=1) as headers:
            first = await _search(with_mathlib(AND_INTRO), AND_INTRO_TACTICS, headers, freeze="lazy", keep_warm=1)
            (header,) = headers._headers.values()
            assert len(header.live) == 1 and header.live[0].poll() is None
            backend = make_backend("criu", argv=ARGV, header_images=headers, freeze="lazy", keep_warm=1)
            async with backend:
                root = await backend.open(with_mathlib(IMP_TRANS))
                # the repl that built the header served the first theorem and now the second: no restore
                assert headers.reused == 2 and backend.timings.counts.get("thaw", 0) == 1
                (pid,) = (await backend.usage()).pids
                os.kill(pid, signal.SIGKILL)
                while (await backend.usage()).pids:
                    await anyio.sleep(0.01)
                (child,) = await backend.expand(root.handle, ["intro hpq hqr hp"])
                assert child.kind is Kind.OPEN and backend.counters["root_rebuilds"] == 1
                assert backend.root_handle.proof_state != root.handle.proof_state  # stated in a fresh copy
                (grand,) = await backend.expand(child.handle, ["apply hqr"])
                assert grand.kind is Kind.OPEN
            return first, headers.builds

    first, builds = anyio.run(main)
    assert first.verified and builds == 1
