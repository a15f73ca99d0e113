"""Each failure gives a clear error from the CriuError family and loses nothing (real CRIU, real images)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest

import criu_backend as cb
from criu_backend.store import META_NAME
from cb_helpers import COUNTER_ARGV, ask


@pytest.fixture
def image(store):
    with cb.spawn(COUNTER_ARGV) as p:
        ask(p, "7")
        return cb.freeze(p, store)


def _thaw_ok(image):
    with cb.thaw(image) as c:
        return ask(c, "1")


def test_truncated_pages_file_is_refused_before_restore(image):
    pages = next(image.path.glob("pages-*.img"))
    size = pages.stat().st_size
    os.truncate(pages, size // 2)
    with pytest.raises(cb.ImageCorrupt) as err:
        cb.thaw(image)
    msg = str(err.value)
    assert pages.name in msg and "truncated" in msg and str(image.path) in msg
    assert err.value.path == image.path


def test_corrupt_small_file_is_refused_before_restore(image):
    core = next(image.path.glob("core-*.img"))
    data = bytearray(core.read_bytes())
    data[len(data) // 2] ^= 0xFF
    core.write_bytes(bytes(data))
    with pytest.raises(cb.ImageCorrupt, match=r"core-\d+\.img content changed"):
        cb.thaw_many(image, 2)
    assert cb.live_procs() == []


def test_missing_file_and_missing_dir(image, tmp_path):
    (image.path / "pstree.img").unlink()
    with pytest.raises(cb.ImageCorrupt, match="pstree.img is missing"):
        cb.thaw(image)
    with pytest.raises(cb.ImageCorrupt, match="does not exist"):
        cb.thaw(tmp_path / "nowhere")


def test_directory_without_metadata_is_not_an_image(tmp_path, criu):
    (tmp_path / "inventory.img").write_bytes(b"x")
    with pytest.raises(cb.ImageCorrupt, match="not a cryo image"):
        cb.thaw(tmp_path)
    (tmp_path / META_NAME).write_text("{not json")
    with pytest.raises(cb.ImageCorrupt, match="not valid JSON"):
        cb.thaw(tmp_path)


def test_restore_failure_carries_criu_log_tail(image):
    # Damage that our manifest cannot see (CRC updated to match): criu itself must refuse, and say why.
    core = next(image.path.glob("core-*.img"))
    core.write_bytes(b"\0" * core.stat().st_size)
    meta = json.loads((image.path / META_NAME).read_text())
    meta["manifest"][core.name][1] = zlib.crc32(core.read_bytes())
    image.meta = meta
    with pytest.raises(cb.CriuRefused) as err:
        cb.thaw(image)
    assert err.value.action == "restore" and err.value.returncode != 0
    assert err.value.log_tail.strip()
    assert "criu restore log ends with" in str(err.value)
    assert cb.live_procs() == []


def test_removed_image_says_so(image):
    image.remove()
    assert not image.path.exists()
    with pytest.raises(cb.ImageCorrupt, match="was removed"):
        cb.thaw(image)


def test_target_exited_before_freeze(store):
    p = cb.spawn([sys.executable, "-c", "import sys; sys.stderr.write('bye now'); sys.exit(3)"])
    assert p.wait(20) == 3
    with pytest.raises(cb.TargetGone) as err:
        cb.freeze(p, store)
    assert err.value.returncode == 3 and "bye now" in str(err.value) and "before the freeze" in str(err.value)
    assert list(store) == []
    p.close()


def test_spawn_of_missing_program_is_clear(criu):
    with pytest.raises(cb.CriuError, match="'no-such-program-xyz': not found on PATH"):
        cb.spawn(["no-such-program-xyz"])
    with cb.spawn(["sh", "-c", "sleep 0.5; exit 3"]) as quick:  # the target's own exit code comes through
        assert quick.wait(20) == 3


def test_freeze_into_non_empty_directory_is_refused(tmp_path, criu):
    (tmp_path / "keep.txt").write_text("mine")
    with cb.spawn(COUNTER_ARGV) as p:
        with pytest.raises(cb.CriuError, match="not empty"):
            cb.freeze(p, tmp_path)
        assert ask(p, "1") == "1"  # still running, nothing lost
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_freeze_into_directory_then_thaw(tmp_path, criu):
    target = tmp_path / "img"
    with cb.spawn(COUNTER_ARGV) as p:
        ask(p, "9")
        image = cb.freeze(p, target)
    assert image.store is None and (target / META_NAME).is_file()
    with cb.thaw(target) as c:
        assert ask(c, "1") == "10"


def test_not_root_is_refused_with_the_fix(criu, tmp_path):
    code = (
        "import criu_backend as cb, sys\n"
        "try:\n    cb.spawn(['true'])\nexcept cb.CriuPermissionError as e:\n    print(e); sys.exit(7)\n"
    )
    env = {**os.environ, "HOME": str(tmp_path), "CRYO_IMAGE_ROOT": str(tmp_path / "images")}
    # root without any capability: what criu needs is missing
    out = subprocess.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", sys.executable, "-c", code],
                         capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert out.returncode == 7, out.stderr
    assert "needs root" in out.stdout and "cryo doctor" in out.stdout


def test_no_space_names_the_budget_setting(criu, tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        with cb.ImageStore(mnt, budget="1G") as store, cb.spawn(COUNTER_ARGV) as p:
            ask(p, "1")
            with pytest.raises(cb.ImageStoreFull) as err:
                cb.freeze(p, store)
            assert "CRYO_IMAGE_BUDGET" in str(err.value) and str(mnt) in str(err.value)
            assert ask(p, "1") == "2"  # the process is untouched
            assert list(store) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_target_killed_during_freeze(store):
    p = cb.spawn(COUNTER_ARGV)
    try:
        assert ask(p, "alloc 300") == "ok"  # big enough that the dump takes a while
        result: dict = {}

        def run():
            try:
                result["image"] = cb.freeze(p, store)
            except cb.CriuError as e:
                result["error"] = e

        t = threading.Thread(target=run)
        t.start()
        time.sleep(0.03)
        os.kill(p.pid, 9)  # killed from outside while criu works on it
        t.join(120)
        assert isinstance(result.get("error"), cb.TargetGone), result
        assert "during the freeze" in str(result["error"])
        assert list(store) == []
    finally:
        p.close()


def test_a_file_gone_since_the_freeze_is_named_at_thaw(store, tmp_path):
    """A process that keeps a file open is frozen; the file is deleted; the thaw fails saying which file and
    what to do (criu re-opens files by path at restore)."""
    data = tmp_path / "kept-open.bin"
    data.write_bytes(b"x" * 4096)
    argv = [sys.executable, "-c", f"import sys\nf = open({str(data)!r}, 'rb')\nfor line in sys.stdin:\n"
            "    print(line.strip(), flush=True)\n"]
    with cb.spawn(argv) as p:
        assert ask(p, "hi") == "hi"
        image = cb.freeze(p, store)
    data.unlink()
    with pytest.raises(cb.CriuRefused) as err:
        cb.thaw(image)
    assert f"the process had {data} open or mapped" in str(err.value)
    assert "put the file back at that path, or freeze the process again" in str(err.value)
    data.write_bytes(b"x" * 4096)  # back in place: the image thaws
    with cb.thaw(image) as clone:
        assert ask(clone, "again") == "again"
