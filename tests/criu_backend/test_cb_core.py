"""Real CRIU, real processes: spawn, freeze, thaw, thaw_many, beam, depth chains, lifecycle."""

from __future__ import annotations

import json
import os
import signal
import stat

import anyio
import psutil

import criu_backend as cb
from criu_backend import aio
from cb_helpers import COUNTER_ARGV, ask


def test_spawned_target_is_pid1_of_own_namespace(criu):
    with cb.spawn(COUNTER_ARGV) as p:
        assert ask(p, "pid") == "1"  # PID 1 inside its namespace
        assert psutil.Process(p.pid).cmdline()[:2] == COUNTER_ARGV[:2]
        assert p.poll() is None
    assert p.closed
    assert p.poll() == -signal.SIGKILL


def test_frozen_counter_keeps_state_and_original_keeps_running(store):
    with cb.spawn(COUNTER_ARGV) as orig:
        assert ask(orig, "5") == "5"
        image = cb.freeze(orig, store)
        assert ask(orig, "1") == "6"  # the original keeps running after the freeze
        with cb.thaw(image) as clone:
            assert clone.pid != orig.pid
            assert ask(clone, "10") == "15"  # state at freeze time, not the original's later state
            assert ask(orig, "1") == "7"
        assert image.meta["command"] == COUNTER_ARGV
        assert image.meta["criu_version"] == criu.version if (criu := cb.find_criu()) else False
        assert image.nbytes > 0 and image.depth == 0 and image.parent is None


def test_freeze_kill_reaps_the_original(store):
    orig = cb.spawn(COUNTER_ARGV)
    assert ask(orig, "3") == "3"
    image = cb.freeze(orig, store, leave_running=False)
    assert orig.closed and orig.poll() == -signal.SIGKILL
    assert not psutil.pid_exists(orig.pid) or psutil.Process(orig.pid).status() == psutil.STATUS_ZOMBIE
    with cb.thaw(image) as clone:
        assert ask(clone, "4") == "7"


def test_eight_concurrent_clones_evolve_independently(store):
    async def main():
        orig = await aio.spawn(COUNTER_ARGV)
        try:
            assert ask(orig, "100") == "100"
            image = await aio.freeze(orig, store)
            clones = await aio.thaw_many(image, 8)
            try:
                assert len({c.pid for c in clones}) == 8
                for i, c in enumerate(clones):
                    assert ask(c, str(i)) == str(100 + i)
                for i, c in enumerate(clones):
                    assert ask(c, str(i)) == str(100 + 2 * i)
                assert ask(orig, "1") == "101"
            finally:
                for c in clones:
                    await aio.aclose(c)
        finally:
            await aio.aclose(orig)

    anyio.run(main)


def test_sync_thaw_many_fresh_pipes_each(store):
    with cb.spawn(COUNTER_ARGV) as orig:
        ask(orig, "1")
        image = cb.freeze(orig, store)
    clones = cb.thaw_many(image, 3)
    try:
        fds = {fd for c in clones for fd in (c.stdin, c.stdout, c.stderr)}
        assert len(fds) == 9
        assert [ask(c, "1") for c in clones] == ["2", "2", "2"]
    finally:
        for c in clones:
            c.close()


def test_depth_ten_chain(store):
    proc = cb.spawn(COUNTER_ARGV)
    ask(proc, "0")
    images = []
    for depth in range(1, 11):
        image = cb.freeze(proc, store, leave_running=False)
        images.append(image)
        proc = cb.thaw(image)
        assert ask(proc, "1") == str(depth)
    try:
        assert [im.depth for im in images] == list(range(10))
        assert images[-1].parent == str(images[-2].path)
        # the deepest image thaws again, twice, concurrently
        for c in cb.thaw_many(images[-1], 2):
            with c:
                assert ask(c, "5") == "14"
    finally:
        proc.close()


def test_beam_and_async_depth(store):
    async def main():
        proc = await aio.spawn(COUNTER_ARGV)
        ask(proc, "2")
        for depth in range(10):
            proc = await aio.beam(proc, store, leave_running=False)
        assert ask(proc, "1") == "3"
        assert proc.image.depth == 9
        await aio.aclose(proc)

    anyio.run(main)


def test_store_close_kills_all_clones(criu):
    with cb.ImageStore() as store:
        with cb.spawn(COUNTER_ARGV) as orig:
            ask(orig, "1")
            image = cb.freeze(orig, store)
        clones = cb.thaw_many(image, 3)
        pids = [c.pid for c in clones]
        run_dir = store.run_dir
    assert all(c.closed for c in clones)
    assert not any(psutil.pid_exists(pid) for pid in pids)
    assert not run_dir.exists()


def test_chatty_stderr_never_blocks_and_tail_is_kept(store):
    with cb.spawn(COUNTER_ARGV) as p:
        assert ask(p, "err 2000000") == "ok"  # 2 MB to stderr, nobody reading Proc.stderr
        assert ask(p, "1") == "1"
        image = cb.freeze(p, store)
        with cb.thaw(image) as clone:
            assert ask(clone, "err 300000") == "ok"
            assert ask(clone, "2") == "3"
            assert clone.stderr_tail().endswith(b"END-OF-STDERR\n")
        p.kill()
        p.wait(10)
        assert p.stderr_tail().endswith(b"END-OF-STDERR\n")
        assert len(p.stderr_tail()) <= 64 * 1024


def test_stderr_relay_is_readable(store):
    with cb.spawn(COUNTER_ARGV) as p:
        assert ask(p, "err 10") == "ok"
        data = b""
        while not data.endswith(b"END-OF-STDERR\n"):
            data += os.read(p.stderr, 4096)
        assert data == b"END-OF-STDERR\n"


def test_image_files_private_and_metadata(store):
    with cb.spawn(COUNTER_ARGV) as p:
        ask(p, "1")
        image = cb.freeze(p, store)
    assert stat.S_IMODE(store.run_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(image.path.stat().st_mode) == 0o700
    modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in image.path.iterdir()}
    assert set(modes.values()) == {0o600}, modes
    meta = json.loads((image.path / "cryo-meta.json").read_text())
    assert meta["stdio"]["0"].startswith("pipe:[")
    assert meta["nbytes"] == image.nbytes
    assert {"command", "parent", "created", "criu_version", "manifest"} <= meta.keys()


def test_open_image_from_path_thaws(store):
    with cb.spawn(COUNTER_ARGV) as p:
        ask(p, "41")
        image = cb.freeze(p, store)
    with cb.thaw(str(image.path)) as clone:
        assert ask(clone, "1") == "42"


def test_no_proc_left_after_closing(criu):
    assert cb.live_procs() == []


def test_concurrent_freezes_in_one_cwd_and_leftover_parasite_dir(store, tmp_path):
    """Regression: criu's parasite mounts procfs at <cwd>/proc.crtools, so concurrent dumps of processes sharing
    a cwd collided (EEXIST) and a leftover directory from a killed dump broke every later dump there."""
    (tmp_path / "proc.crtools").mkdir()  # as left behind by a dump that was killed half-way
    with cb.spawn(COUNTER_ARGV, cwd=tmp_path) as orig:
        ask(orig, "1")
        image = cb.freeze(orig, store)
    assert not (tmp_path / "proc.crtools").exists()

    async def main():
        clones = await aio.thaw_many(image, 4)
        try:
            for i, c in enumerate(clones):
                ask(c, str(i))
            images = [None] * 4

            async def one(i):
                images[i] = await aio.freeze(clones[i], store)

            async with anyio.create_task_group() as tg:
                for i in range(4):
                    tg.start_soon(one, i)
            for i, im in enumerate(images):
                with cb.thaw(im) as again:
                    assert ask(again, "0") == str(1 + i)
        finally:
            for c in clones:
                await aio.aclose(c)

    anyio.run(main)


def test_lazy_thaw_serves_memory_on_demand_and_refreezes(store):
    with cb.spawn(COUNTER_ARGV) as orig:
        ask(orig, "alloc 40")  # 40 MB touched, so there is something to serve lazily
        assert ask(orig, "3") == "3"
        image = cb.freeze(orig, store)
    clones = cb.thaw_many(image, 3, lazy=True)
    try:
        assert image.pins == 3  # pinned while the lazy-pages daemons may still read it
        assert [ask(c, str(i)) for i, c in enumerate(clones)] == ["3", "4", "5"]
        again = cb.freeze(clones[0], store, leave_running=False)  # waits for that copy's memory to settle
        assert clones[0].settled
        with cb.thaw(again) as c2:
            assert ask(c2, "1") == "4"
        for c in clones[1:]:
            c.settle(60)
        assert image.pins == 0
    finally:
        for c in clones:
            c.close()


def test_async_lazy_thaw_many(store):
    async def main():
        with cb.spawn(COUNTER_ARGV) as orig:
            ask(orig, "7")
            image = await aio.freeze(orig, store)
        clones = await aio.thaw_many(image, 2, lazy=True)
        try:
            assert [ask(c, "1") for c in clones] == ["8", "8"]
            child = await aio.freeze(clones[1], store)
            assert child.depth == 1
        finally:
            for c in clones:
                await aio.aclose(c)
        assert image.pins == 0

    anyio.run(main)


def test_clone_pool_hands_out_ready_copies_and_refills(store):
    with cb.spawn(COUNTER_ARGV) as orig:
        ask(orig, "20")
        image = cb.freeze(orig, store)
    taken = []
    try:
        with cb.ClonePool(image, size=2) as pool:
            assert image.pins == 1
            for i in range(5):  # more than the pool size: refills keep up
                c = pool.take(timeout=60)
                taken.append(c)
                assert ask(c, str(i)) == str(20 + i)
            assert len({c.pid for c in taken}) == 5
        assert image.pins == 0
        assert all(c.poll() is None for c in taken)  # copies already taken stay with their owner
    finally:
        for c in taken:
            c.close()


def test_clone_pool_without_prefill_thaws_its_first_copies_in_the_background(store):
    with cb.spawn(COUNTER_ARGV) as orig:
        ask(orig, "5")
        image = cb.freeze(orig, store)
    pool = cb.ClonePool(image, size=1, prefill=False)
    try:
        c = pool.take(timeout=60)  # waits for the thread's first copy
        try:
            assert ask(c, "1") == "6"
        finally:
            c.close()
    finally:
        pool.close()
    assert image.pins == 0
