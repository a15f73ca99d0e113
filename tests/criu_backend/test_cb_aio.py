"""criu_backend.aio without threads or sleeps: the async clone pool (copies thawed ahead in an anyio task), a
cancelled spawn, and a freeze whose target dies during the dump (real CRIU, no mocks)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest

import criu_backend as cb
from criu_backend import aio

from cb_helpers import COUNTER_ARGV, ask


def _frozen_counter(store: cb.ImageStore, start: int) -> cb.Image:
    with cb.spawn(COUNTER_ARGV) as orig:
        ask(orig, str(start))
        return cb.freeze(orig, store)


def _live_copies_of(image: cb.Image) -> list[cb.Proc]:
    return [p for p in cb.live_procs() if p.image is image]


async def _until_thawing(pool: aio.ClonePool) -> None:
    with anyio.fail_after(60):
        while not pool.thawing:
            await anyio.sleep(0.001)


def test_take_hands_over_ready_copies_and_the_task_refills(store):
    image = _frozen_counter(store, 20)
    taken: list[cb.Proc] = []

    async def main():
        async with aio.ClonePool(image, size=2) as pool:
            assert image.pins == 1
            for i in range(5):  # more than the pool size: each take awaits the refill task when none is ready
                with anyio.fail_after(60):
                    c = await pool.take()
                taken.append(c)
                assert ask(c, str(i)) == str(20 + i)
        assert pool.closed and pool.ready == 0

    try:
        anyio.run(main)
        assert len({c.pid for c in taken}) == 5
        assert image.pins == 0
        assert all(c.poll() is None for c in taken)  # copies taken stay with their owner
        assert sorted(p.pid for p in _live_copies_of(image)) == sorted(c.pid for c in taken)  # the rest ended
    finally:
        for c in taken:
            c.close()
    assert _live_copies_of(image) == []


def test_a_cancelled_take_takes_nothing(store):
    image = _frozen_counter(store, 7)

    async def main():
        async with aio.ClonePool(image, size=1) as pool:
            await _until_thawing(pool)
            with anyio.move_on_after(0.001) as scope:
                await pool.take()  # the copy is still being restored: cancelled while waiting
            assert scope.cancelled_caught
            with anyio.fail_after(60):
                c = await pool.take()  # the copy the cancelled take was waiting for is still there
            try:
                assert ask(c, "1") == "8"
            finally:
                await aio.aclose(c)

    anyio.run(main)
    assert _live_copies_of(image) == [] and image.pins == 0


def test_cancelling_the_refill_task_during_a_restore_leaves_the_copy_owned_by_the_pool(store):
    """Regression guard for the reason restores are shielded: a copy whose restore was under way when the
    refill task was cancelled is finished and owned by the pool (taken, or ended by aclose), never orphaned."""
    image = _frozen_counter(store, 3)
    pool = aio.ClonePool(image, size=1)

    async def main():
        async with anyio.create_task_group() as tg:
            await tg.start(pool.run)
            await _until_thawing(pool)
            tg.cancel_scope.cancel()
        assert pool.thawing == 0 and pool.ready == 1  # the restore finished; the pool owns its copy
        (copy,) = _live_copies_of(image)
        assert copy.poll() is None
        with anyio.fail_after(60):
            assert await pool.take() is copy  # a whole, usable copy
        try:
            assert ask(copy, "1") == "4"
            with pytest.raises(cb.CriuError, match="not running"):
                await pool.take()  # no task refills it any more: said plainly rather than waiting forever
        finally:
            await aio.aclose(copy)
        await pool.aclose()
        return copy

    copy = anyio.run(main)
    assert copy.closed and _live_copies_of(image) == [] and image.pins == 0


def test_aclose_with_a_refill_under_way_ends_the_copy_being_restored(store):
    image = _frozen_counter(store, 1)

    async def main():
        async with aio.ClonePool(image, size=1) as pool:
            await _until_thawing(pool)
            await pool.aclose()  # waits for the restore under way, then closes its copy
            assert pool.thawing == 0 and pool.ready == 0
            assert _live_copies_of(image) == []
            with pytest.raises(cb.CriuError, match="closed"):
                await pool.take()

    anyio.run(main)
    assert image.pins == 0


def test_a_failed_refill_is_raised_by_take_with_its_cause(store):
    image = _frozen_counter(store, 1)
    pages = max(Path(image.path).glob("pages-*.img"), key=lambda p: p.stat().st_size)
    pages.write_bytes(b"")  # damaged: every restore is refused before criu runs

    async def main():
        async with aio.ClonePool(image, size=1) as pool:
            with anyio.fail_after(60), pytest.raises(cb.CriuError, match="last refill failed") as err:
                await pool.take()
            assert isinstance(err.value.__cause__, cb.ImageCorrupt)

    anyio.run(main)
    assert _live_copies_of(image) == [] and image.pins == 0


def test_a_cancelled_spawn_leaves_no_process(criu):
    async def main():
        with anyio.move_on_after(0.001) as scope:
            await aio.spawn(COUNTER_ARGV)  # the hand-over takes longer than that
        return scope.cancelled_caught

    before = {p.pid for p in cb.live_procs()}
    assert anyio.run(main)
    assert {p.pid for p in cb.live_procs()} - before == set()


def test_async_freeze_of_a_target_killed_during_the_dump_says_so(store):
    """The anyio twin of test_target_killed_during_freeze: after the failed dump it awaits the target's exit
    through its pidfd (no time.sleep on the event loop) and reports TargetGone."""
    p = cb.spawn(COUNTER_ARGV)
    try:
        assert ask(p, "alloc 300") == "ok"  # big enough that the dump takes a while

        async def kill_soon():
            await anyio.sleep(0.03)
            os.kill(p.pid, 9)  # killed from outside while criu works on it

        async def main():
            async with anyio.create_task_group() as tg:
                tg.start_soon(kill_soon)
                with pytest.raises(cb.TargetGone, match="during the freeze"):
                    await aio.freeze(p, store)

        anyio.run(main)
        assert list(store) == []
    finally:
        p.close()


def test_async_freeze_of_a_target_that_exited_names_its_stderr(store):
    p = cb.spawn([sys.executable, "-c", "import sys; sys.stderr.write('bye now'); sys.exit(3)"])
    try:
        assert p.wait(20) == 3

        async def main():
            with pytest.raises(cb.TargetGone) as err:
                await aio.freeze(p, store)
            return err.value

        err = anyio.run(main)
        assert err.returncode == 3 and "bye now" in str(err) and "before the freeze" in str(err)
        assert list(store) == []
    finally:
        p.close()
