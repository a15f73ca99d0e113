"""The criu backend's parts on their own: ``ImageRefs`` (which image holds which state, when an image may go) over
real image directories, and ``WarmClones`` (idle/busy clones, the keep_warm LRU) over real processes."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import criu_backend as cb
from criu_backend import aio

from treesearch.backends import Kind
from treesearch.backends.criu import ImageRefs, WarmClones
from treesearch.backends.criu.images import NO_SESSION, ROOT_SERIAL


def _image(tmp_path: Path, name: str) -> cb.Image:
    path = tmp_path / name
    path.mkdir()
    (path / "pages-1.img").write_bytes(b"x" * 10)
    return cb.Image(path, {"nbytes": 10})


def test_an_image_goes_with_its_last_handle(tmp_path):
    refs = ImageRefs()
    image = _image(tmp_path, "img-1")
    refs.frozen(image, {1}, root=None)
    a = refs.new_handle(image, 5, 1)
    b = refs.new_handle(image, 6, 1)
    assert a.serial != b.serial and ROOT_SERIAL not in (a.serial, b.serial)
    refs.release(a)
    refs.release(a)  # idempotent: still one handle left
    assert not image.removed and image.path.is_dir()
    refs.release(b)
    assert image.removed and not image.path.exists()


def test_an_image_stays_while_pinned_or_while_an_image_less_state_of_its_sessions_needs_it(tmp_path):
    refs = ImageRefs()
    pinned, needed = _image(tmp_path, "img-1"), _image(tmp_path, "img-2")
    refs.frozen(pinned, {1}, root=None)
    refs.frozen(needed, {2}, root=None)
    pinned.pin()  # a restore holds it
    refs.release(refs.new_handle(pinned, 1, 1))
    assert not pinned.removed
    unfrozen = refs.new_handle(None, 7, 2)  # a state of session 2 that lives only in a clone
    refs.release(refs.new_handle(needed, 2, 2))
    assert not needed.removed  # the LRU budget evicts it later instead
    assert refs.only_in_clone({2}) is False  # session 2's states are in `needed`
    refs.release(unfrozen)
    assert not needed.removed and not pinned.removed  # kept for the store's LRU budget, not removed late


def test_a_state_is_found_in_a_later_image_of_its_session(tmp_path):
    refs = ImageRefs()
    own, later = _image(tmp_path, "img-1"), _image(tmp_path, "img-2")
    refs.frozen(own, {1}, root=None)
    handle = refs.new_handle(own, 3, 1)
    refs.frozen(later, {1, 2}, root=None)  # the clone that ran session 1 was frozen again
    assert refs.image_of(handle) is own
    own.remove()  # evicted
    assert refs.image_of(handle) is later
    assert refs.sessions_in(later, default=9) == {1, 2} and refs.sessions_in(own, default=9) == {1}
    later.remove()
    assert refs.image_of(handle) is None


def test_the_lazy_roots_first_image_is_pinned_once(tmp_path):
    refs = ImageRefs()
    root = refs.root_handle(None, 0, 4)
    assert root.serial == ROOT_SERIAL and refs.only_in_clone({4})  # the root lives only in its clone
    first, second = _image(tmp_path, "img-1"), _image(tmp_path, "img-2")
    refs.frozen(first, {4}, root=root)
    refs.frozen(second, {4, 5}, root=root)
    assert refs.root_image is first and first.pins == 1 and second.pins == 0
    assert not refs.only_in_clone({4})


def test_proved_children_and_dead_clones_states_are_not_counted_as_unfrozen(tmp_path):
    refs = ImageRefs()
    refs.new_handle(None, 1, 3, kind=Kind.PROVED)  # a leaf: never expanded, needs no image
    refs.new_handle(None, 2, NO_SESSION)  # made in a clone that died: rebuilt by replay
    assert not refs.only_in_clone({3, NO_SESSION})


CAT = [sys.executable, "-c", "import sys\nfor line in sys.stdin: print(line.strip(), flush=True)"]


def test_warm_clones_keep_the_lru_and_wake_waiters(criu, no_leaks):
    async def main():
        clones = WarmClones(keep_warm=1)
        a, b = await aio.spawn(CAT), await aio.spawn(CAT)
        clones.own(a, b)
        try:
            clones.claim(a, {1})
            clones.claim(b, {2})
            assert clones.busy_with(1) and clones.warm_for(1) is None

            woke = []
            waiting = anyio.Event()

            async def waiter():
                waiting.set()  # no checkpoint before the wait below: the main task resumes once it waits
                await clones.wait_parked()
                woke.append(clones.warm_for(1))

            async with anyio.create_task_group() as tg:
                tg.start_soon(waiter)
                await waiting.wait()
                assert clones.park(a, {1}) == []  # room for one idle clone
            assert woke == [a]
            overflow = clones.park(b, {2, 3})  # b is newer: a, the least recently parked, must go
            assert overflow == [(a, {1})] and clones.busy_with(1)  # handed back busy, for a freeze if needed
            assert clones.warm_for(3) is b and clones.idle_count == 1
            await clones.end(a)
            assert a.closed and a not in clones and not clones.busy_with(1)
            assert clones.take_warm(b) == {2, 3} and clones.idle_count == 0
            assert sorted(clones.pids()) == [b.pid]
        finally:
            await clones.end_all()
        assert clones.owned() == [] and b.closed

    anyio.run(main)
