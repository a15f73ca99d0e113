"""Library storage: the premise index in anonymous memory (heap) or in a read-only mapped cache file (mmap).

The mapped index must equal the heap one byte for byte, be published once however many repls build it at once,
be rebuilt when corrupt, fail with a clear message when the cache is unusable, and -- the point of it -- stay
out of CRIU images: criu re-maps the file at restore instead of copying its pages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from lean_env.minilean.library import (
    INDEX_HEADER,
    IndexFileError,
    build_library,
    library_storage_setting,
    mapped_premise_index,
    prelude,
    premise_index,
)
from ml_repl import Repl

DIM = 256  # a small index row, so these tests build in milliseconds


@pytest.fixture(scope="module")
def small_library():
    lib, index = build_library(60, prelude())
    return [n for ns in index.values() for n in ns], lib


def _index_files(directory):
    return sorted(p.name for p in directory.iterdir())


def test_mapped_index_equals_heap_index_and_is_read_only(tmp_path, small_library):
    names, lib = small_library
    heap = premise_index(names, lib, dim=DIM)
    mapped = mapped_premise_index(names, lib, dim=DIM, directory=tmp_path)
    assert isinstance(mapped, np.memmap) and not mapped.flags.writeable
    assert mapped.shape == heap.shape == (len(names), DIM)
    assert np.array_equal(np.asarray(mapped), heap)
    [name] = _index_files(tmp_path)
    path = tmp_path / name
    assert path.stat().st_size == INDEX_HEADER + heap.nbytes
    with pytest.raises(ValueError):
        mapped[0, 0] = 1.0


def test_second_import_maps_the_published_file_without_rebuilding(tmp_path, small_library):
    names, lib = small_library
    mapped_premise_index(names, lib, dim=DIM, directory=tmp_path)
    [name] = _index_files(tmp_path)
    before = os.stat(tmp_path / name)
    again = mapped_premise_index(names, lib, dim=DIM, directory=tmp_path)
    after = os.stat(tmp_path / name)
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert np.array_equal(np.asarray(again), premise_index(names, lib, dim=DIM))


def test_other_contents_get_other_files(tmp_path, small_library):
    names, lib = small_library
    mapped_premise_index(names, lib, dim=DIM, directory=tmp_path)
    mapped_premise_index(names[:30], lib, dim=DIM, directory=tmp_path)
    mapped_premise_index(names, lib, dim=DIM // 2, directory=tmp_path)
    assert len(_index_files(tmp_path)) == 3


def test_concurrent_builders_publish_one_inode(tmp_path, small_library, capsys):
    names, lib = small_library
    with ThreadPoolExecutor(6) as pool:
        arrays = list(pool.map(lambda _: mapped_premise_index(names, lib, dim=DIM, directory=tmp_path), range(6)))
    assert "corrupt" not in capsys.readouterr().err  # a file published meanwhile is not mistaken for a bad one
    files = _index_files(tmp_path)
    assert len(files) == 1 and not files[0].startswith("."), files  # no temporary file is left behind
    heap = premise_index(names, lib, dim=DIM)
    for a in arrays:  # the losers of the race map the winner's file (publishing by link never overwrites)
        assert str(a.filename) == str(tmp_path / files[0])
        assert np.array_equal(np.asarray(a), heap)


@pytest.mark.parametrize("damage", ["flip", "truncate", "header"])
def test_a_damaged_file_is_rebuilt(tmp_path, small_library, capsys, damage):
    names, lib = small_library
    mapped_premise_index(names, lib, dim=DIM, directory=tmp_path)
    [name] = _index_files(tmp_path)
    path = tmp_path / name
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[INDEX_HEADER + 100] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) - 4096]
    else:
        data[:20] = b"not a header at all!"
    path.write_bytes(bytes(data))
    mapped = mapped_premise_index(names, lib, dim=DIM, directory=tmp_path)
    assert np.array_equal(np.asarray(mapped), premise_index(names, lib, dim=DIM))
    assert "corrupt" in capsys.readouterr().err
    assert _index_files(tmp_path) == [name]


def test_an_unusable_cache_raises_a_clear_error(tmp_path, small_library):
    names, lib = small_library
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(IndexFileError, match="cannot use the premise index cache .*CRYO_MINILEAN_CACHE"):
        mapped_premise_index(names, lib, dim=DIM, directory=not_a_dir)


def test_storage_setting_validation(monkeypatch):
    monkeypatch.delenv("CRYO_MINILEAN_LIBRARY_STORAGE", raising=False)
    assert library_storage_setting(None) == "heap"
    assert library_storage_setting("mmap") == "mmap"
    monkeypatch.setenv("CRYO_MINILEAN_LIBRARY_STORAGE", "mmap")
    assert library_storage_setting(None) == "mmap"
    monkeypatch.setenv("CRYO_MINILEAN_LIBRARY_STORAGE", "disk")
    with pytest.raises(ValueError, match="CRYO_MINILEAN_LIBRARY_STORAGE must be one of heap, mmap, got 'disk'"):
        library_storage_setting(None)


def _minilean(args, env_extra, stdin=""):
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-m", "lean_env.minilean", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120)


def test_repl_rejects_a_bad_storage_with_exit_2():
    r = _minilean(["--library-storage", "disk"], {})
    assert r.returncode == 2 and "invalid choice: 'disk'" in r.stderr
    r = _minilean([], {"CRYO_MINILEAN_LIBRARY_STORAGE": "disk"})
    assert r.returncode == 2 and "CRYO_MINILEAN_LIBRARY_STORAGE must be one of heap, mmap" in r.stderr


def test_repl_reports_an_unusable_cache_as_a_header_error_and_keeps_serving(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    requests = json.dumps({"cmd": "import Mathlib"}) + "\n\n" + json.dumps({"cmd": "def x := 1"}) + "\n\n"
    r = _minilean(["--library-size", "20", "--library-storage", "mmap"], {"CRYO_MINILEAN_CACHE": str(not_a_dir)},
                  requests)
    assert r.returncode == 0, r.stderr
    first, second = [json.loads(block) for block in r.stdout.split("\n\n") if block.strip()]
    [msg] = first["messages"]
    assert msg["severity"] == "error" and "cannot use the premise index cache" in msg["data"]
    assert second == {"env": 1}


def test_both_storages_answer_alike(tmp_path):
    """The same session on both storages gives the same replies (the index is an implementation detail)."""
    script = ["import Mathlib", "#check Mathlib.Gen.t0_0",
              "example (p q : Prop) (h : p ∧ q) : q ∧ p := by\n  exact Mathlib.Gen.t0_0 p q h"]
    replies = {}
    for storage in ("heap", "mmap"):
        os.environ["CRYO_MINILEAN_LIBRARY_STORAGE"] = storage
        try:
            repl = Repl(tmp_path, library_size=30)
        finally:
            del os.environ["CRYO_MINILEAN_LIBRARY_STORAGE"]
        try:
            env = repl.cmd(script[0])["env"]
            replies[storage] = [repl.cmd(c, env=env) for c in script[1:]]
        finally:
            repl.close()
    assert replies["heap"] == replies["mmap"]
    assert "Mathlib.Gen.t0_0" in json.dumps(replies["mmap"][0])


def _rss_anon_and_file_kb(pid: int) -> tuple[int, int]:
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["RssAnon"].split()[0]), int(fields["RssFile"].split()[0])


@pytest.mark.parametrize("storage", ["heap", "mmap"])
def test_criu_image_carries_the_heap_index_but_not_the_mapped_one(criu, tmp_path, storage):
    """A 200-lemma library has a ~29 MB index. Frozen with heap storage the image holds it; with mmap storage
    the image holds only the repl's anonymous memory (the interpreter and the elaborated lemmas), and the thawed
    copy still answers from the library."""
    import criu_backend as cb
    from lean_env.client import ReplClient
    from lean_env.repl_cmd import minilean_argv

    index_bytes = 200 * 36352 * 4
    argv = minilean_argv(library_size=200, library_storage=storage)
    with cb.ImageStore(budget="2G") as store:
        with cb.spawn(argv, cwd=str(tmp_path)) as proc:
            with ReplClient.attach(proc, timeout=120) as client:
                env = client.command("import Mathlib").env
            anon_kb, file_kb = _rss_anon_and_file_kb(proc.pid)
            image = cb.freeze(proc, store)
        if storage == "heap":
            assert anon_kb * 1024 > index_bytes
            assert image.nbytes > index_bytes
        else:
            assert file_kb * 1024 > index_bytes  # the import read every page of the mapped file
            assert anon_kb * 1024 < index_bytes
            assert image.nbytes < anon_kb * 1024 + 4 * 2**20  # the anonymous memory, not the mapped index
        with cb.thaw(image) as copy, ReplClient.attach(copy, timeout=120) as client:
            reply = client.command("#check Mathlib.Gen.t0_0", env=env)
        assert reply.messages[0].data == "Mathlib.Gen.t0_0 (p q : Prop) : p ∧ q → q ∧ p"
        image.remove()
