"""Regression: aborting a criu run in flight must leave nothing of it behind.

Killing only the criu process left a helper it had forked -- same command line, stopped in
``do_signal_stop``, orphaned -- after Ctrl-C interrupted a search during a freeze (about 1 run in 6 of
tests/treesearch ``test_ctrl_c_stops_every_process_and_saves[criu]``).  criu now runs as a session leader and an
abort kills its whole process group.  The same holds for a restore aborted before criu wrote the pid file.
"""

from __future__ import annotations

import time

import psutil
import pytest

import criu_backend as cb
from criu_backend import core

from cb_helpers import COUNTER_ARGV, ask

# From "just started" to "well into the dump of a 64 MB process".
DELAYS = [0.0, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08]


def _group_members(pgid: int) -> list[str]:
    rows = []
    for p in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            if p.pid != pgid and __import__("os").getpgid(p.pid) == pgid:
                rows.append(f"{p.pid} {p.info['status']} {' '.join(p.info['cmdline'] or [])[:120]}")
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return rows


@pytest.mark.parametrize("delay", DELAYS)
def test_aborted_dump_leaves_no_criu_helper(criu, tmp_path, delay: float) -> None:
    with cb.ImageStore(root=tmp_path) as store, cb.spawn(COUNTER_ARGV) as proc:
        assert ask(proc, "alloc 64") == "ok"
        job = core.FreezeJob(pid=proc.pid, argv=proc.argv, target=store, parent=None, proc=proc)
        popen = job.start()
        time.sleep(delay)
        job.abort()
        assert popen.poll() is not None
        deadline = time.monotonic() + 2.0
        while _group_members(popen.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _group_members(popen.pid) == []
        # The target survives an aborted freeze, unharmed.
        assert ask(proc, "5") == "5"


@pytest.mark.parametrize("delay", DELAYS[:4])
def test_aborted_restore_leaves_no_half_restored_task(criu, tmp_path, delay: float) -> None:
    with cb.ImageStore(root=tmp_path) as store:
        with cb.spawn(COUNTER_ARGV) as proc:
            assert ask(proc, "alloc 32") == "ok"
            image = cb.freeze(proc, store)
        image, binary = core.prepare_thaw(image)
        job = core.RestoreJob(image, binary)
        popen = job.start()
        time.sleep(delay)
        job.abort()
        deadline = time.monotonic() + 2.0
        while _group_members(popen.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _group_members(popen.pid) == []
