"""ImageStore: budget with LRU eviction of unpinned images, totals, stale-run collection, cleanup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import criu_backend as cb
from criu_backend.store import OWNER_NAME, collect_stale_runs, parse_bytes
from cb_helpers import COUNTER_ARGV, ask


def test_parse_bytes():
    assert parse_bytes("4G") == 4 << 30
    assert parse_bytes("512m") == 512 << 20
    assert parse_bytes("1.5KiB") == 1536
    assert parse_bytes("1000") == 1000
    with pytest.raises(ValueError, match="not a byte size"):
        parse_bytes("lots")


def test_budget_evicts_least_recently_used_unpinned(criu):
    with cb.spawn(COUNTER_ARGV) as p:
        ask(p, "1")
        with cb.ImageStore(budget="1G") as probe:
            one = cb.freeze(p, probe).nbytes
        # room for two images, not three
        with cb.ImageStore(budget=int(one * 2.5)) as store:
            a = cb.freeze(p, store).pin()
            b = cb.freeze(p, store)
            c = cb.freeze(p, store)  # evicts b (a is pinned)
            assert b.removed and not b.path.exists() and not a.removed
            assert store.evictions == 1
            with pytest.raises(cb.ImageCorrupt, match="evicted"):
                cb.thaw(b)
            with cb.thaw(c):
                pass  # touching c makes it the most recently used
            a.unpin()
            d = cb.freeze(p, store)  # now a is the least recently used unpinned image
            assert a.removed and not c.removed and not d.removed
            stats = store.stats()
            assert stats["images"] == 2 and stats["bytes"] == c.nbytes + d.nbytes == store.total_bytes
            assert stats["evictions"] == 2
            c.pin()
            d.pin()
            with pytest.raises(cb.ImageStoreFull, match="CRYO_IMAGE_BUDGET"):
                cb.freeze(p, store)
            assert ask(p, "1") == "2"  # still running after the refused freeze
            assert len(store) == 2


def test_stale_run_of_dead_owner_is_collected(criu, tmp_path):
    root = tmp_path / "root"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = root / f"run-{dead.pid}-deadbeef"
    (stale / "img-000001").mkdir(parents=True)
    (stale / OWNER_NAME).write_text(json.dumps({"pid": dead.pid, "start_time": 1}))
    live = root / f"run-{os.getpid()}-cafecafe"
    live.mkdir()
    (live / OWNER_NAME).write_text(json.dumps({"pid": os.getpid(), "start_time": None}))
    with cb.ImageStore(root) as store:
        assert stale in store.collected and not stale.exists()
        assert live.exists()
    assert collect_stale_runs(root) == []  # the live one is ours and alive
    live.joinpath(OWNER_NAME).unlink()
    live.rmdir()


def test_store_removes_run_dir_on_ctrl_c(criu, tmp_path):
    code = (
        "import os, signal, sys, time\n"
        "import criu_backend as cb\n"
        f"argv = {COUNTER_ARGV!r}\n"
        "store = cb.ImageStore()\n"
        "p = cb.spawn(argv)\n"
        "os.write(p.stdin, b'1\\n'); os.read(p.stdout, 10)\n"
        "im = cb.freeze(p, store)\n"
        "c = cb.thaw(im)\n"
        "print(store.run_dir, p.pid, c.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "CRYO_IMAGE_ROOT": str(tmp_path / "root")}
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        run_dir, pid, clone = child.stdout.readline().split()
        assert os.path.isdir(run_dir)
        child.send_signal(2)  # Ctrl-C
        assert child.wait(30) != 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    assert not os.path.exists(run_dir)
    for p in (int(pid), int(clone)):
        assert not os.path.exists(f"/proc/{p}") or open(f"/proc/{p}/stat").read().split()[2] == "Z"


def test_clones_of_a_killed_run_are_killed_by_the_next_store(criu, tmp_path):
    code = (
        "import os, time\n"
        "import criu_backend as cb\n"
        f"argv = {COUNTER_ARGV!r}\n"
        "store = cb.ImageStore()\n"
        "p = cb.spawn(argv)\n"
        "os.write(p.stdin, b'1\\n'); os.read(p.stdout, 10)\n"
        "c = cb.thaw(cb.freeze(p, store, leave_running=False))\n"
        "print(store.run_dir, c.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    root = tmp_path / "root"
    env = {**os.environ, "CRYO_IMAGE_ROOT": str(root)}
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        run_dir, clone = child.stdout.readline().split()
        child.kill()  # no atexit, no cleanup: the clone is left running
        child.wait()
    finally:
        child.stdout.close()
    clone = int(clone)
    assert os.path.isdir(run_dir) and os.path.exists(f"/proc/{clone}")
    with cb.ImageStore(root) as store:
        assert [str(p) for p in store.collected] == [run_dir]
    try:  # the orphan may have been reparented to us (we are a subreaper after other tests' thaws)
        os.waitpid(clone, 0)
    except ChildProcessError:
        pass
    for _ in range(100):
        if not os.path.exists(f"/proc/{clone}"):
            break
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{clone}")
