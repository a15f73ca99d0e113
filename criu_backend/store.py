"""Image store: where frozen images live, what each one is, and how much room they may take.

Layout (default root ``$CRYO_IMAGE_ROOT`` or ``/dev/shm/cryo``, i.e. tmpfs)::

    ROOT/run-<pid>-<random>/          one per ImageStore, mode 0700, removed by ImageStore.close()
        owner.json                    pid + start time of the owning process (stale runs are collected)
        img-000001/                   one criu image directory per freeze, files 0600
            cryo-meta.json            command, parent, created, criu version, size, pipes, manifest
        work/                         per-restore scratch (criu log, pidfile), removed after each restore

A byte budget (``budget=`` or ``$CRYO_IMAGE_BUDGET``, e.g. ``4G``; default half the filesystem) is kept by
evicting the least recently used image that is not pinned.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import shutil
import signal
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from criu_backend import _sys
from criu_backend.errors import ImageCorrupt, ImageStoreFull

META_NAME = "cryo-meta.json"
META_FORMAT = "cryo-image/1"
OWNER_NAME = "owner.json"
PROCS_NAME = "procs"  # "pid start_time" of every clone thawed from the run
RUN_PREFIX = "run-"
DEFAULT_ROOT = "/dev/shm/cryo"
BUDGET_ENV = "CRYO_IMAGE_BUDGET"
ROOT_ENV = "CRYO_IMAGE_ROOT"
CHECKSUM_LIMIT = 1 << 20  # files up to this size get a CRC32 in the manifest; larger ones only a size
NOT_IMAGE_FILES = {META_NAME, "dump.log", "stats-dump"}

_stores: set["ImageStore"] = set()
_stores_lock = threading.Lock()


def image_root() -> Path:
    return Path(os.environ.get(ROOT_ENV, DEFAULT_ROOT))


def parse_bytes(text: str) -> int:
    """``"4G"``, ``"512M"``, ``"1.5GiB"``, ``"1000000"`` -> bytes."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(i?b)?\s*", text, re.IGNORECASE)
    if m is None:
        raise ValueError(f"not a byte size: {text!r} (use e.g. 4G, 512M or a number of bytes)")
    scale = 1024 ** " kmgt".index(m.group(2).lower() or " ")
    return int(float(m.group(1)) * scale)


def dir_bytes(path: Path) -> int:
    """Bytes used by the regular files directly in ``path``."""
    total = 0
    with os.scandir(path) as it:
        for entry in it:
            if entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
    return total


# -- manifest & validation (pure over file contents) -----------------------------------------------------------
def build_manifest(path: Path) -> dict[str, list[int]]:
    """``{file: [size, crc32 or -1]}`` for every criu image file in ``path`` (CRC only for small files)."""
    manifest: dict[str, list[int]] = {}
    with os.scandir(path) as it:
        for entry in it:
            if entry.name in NOT_IMAGE_FILES or not entry.is_file(follow_symlinks=False):
                continue
            size = entry.stat(follow_symlinks=False).st_size
            crc = -1
            if size <= CHECKSUM_LIMIT:
                with open(entry.path, "rb") as f:
                    crc = zlib.crc32(f.read())
            manifest[entry.name] = [size, crc]
    return manifest


def read_meta(path: Path) -> dict[str, Any]:
    """Load and sanity-check ``cryo-meta.json``; raises ImageCorrupt naming what is wrong."""
    path = Path(path)
    if not path.is_dir():
        raise ImageCorrupt(
            f"image directory {path} does not exist (removed, evicted by the store's budget, or never written); "
            "freeze again, or pin images you will thaw later",
            path=path,
        )
    meta_path = path / META_NAME
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError as e:
        raise ImageCorrupt(
            f"{path} is not a cryo image: {META_NAME} is missing (was the freeze interrupted?); freeze again",
            path=path,
        ) from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ImageCorrupt(f"{meta_path} is not valid JSON ({e}); the image is corrupt, freeze again", path=path) from e
    if not isinstance(meta, dict) or meta.get("format") != META_FORMAT or not isinstance(meta.get("manifest"), dict):
        raise ImageCorrupt(f"{meta_path} is not {META_FORMAT} metadata; the image is corrupt, freeze again", path=path)
    return meta


def validate_image(path: Path, meta: dict[str, Any], *, full: bool = False) -> None:
    """Check every file of the manifest is present with its recorded size (and CRC for small files).

    With ``full=True`` large files (memory pages) are checksummed too when a checksum was recorded.
    """
    problems: list[str] = []
    for name, (size, crc) in sorted(meta["manifest"].items()):
        file = path / name
        try:
            actual = file.stat().st_size
        except FileNotFoundError:
            problems.append(f"{name} is missing")
            continue
        if actual != size:
            kind = "truncated" if actual < size else "longer than recorded"
            problems.append(f"{name} is {kind}: {actual} bytes, expected {size}")
            continue
        if crc >= 0 and (full or size <= CHECKSUM_LIMIT):
            with open(file, "rb") as f:
                if zlib.crc32(f.read()) != crc:
                    problems.append(f"{name} content changed (CRC mismatch)")
    if problems:
        raise ImageCorrupt(
            f"image {path} is damaged: " + "; ".join(problems[:8]) + (" ..." if len(problems) > 8 else "")
            + ". It cannot be restored; freeze the process again",
            path=path,
        )


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically with mode 0600."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def chmod_private(path: Path) -> None:
    """Directory 0700, its files 0600."""
    os.chmod(path, 0o700)
    with os.scandir(path) as it:
        for entry in it:
            if entry.is_file(follow_symlinks=False):
                os.chmod(entry.path, 0o600)


# -- Image ---------------------------------------------------------------------------------------------------
@dataclass(eq=False)
class Image:
    """One frozen process tree on disk: ``path`` (a criu image directory) and its ``meta``."""

    path: Path
    meta: dict[str, Any]
    store: "ImageStore | None" = None
    pins: int = 0
    last_used: float = field(default_factory=time.monotonic)
    removed: bool = False

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> "Image":
        """An image from a directory written by :func:`criu_backend.freeze` (metadata read, not yet validated)."""
        path = Path(path).resolve()
        return cls(path, read_meta(path))

    @property
    def nbytes(self) -> int:
        return int(self.meta.get("nbytes", 0))

    @property
    def parent(self) -> str | None:
        return self.meta.get("parent")

    @property
    def depth(self) -> int:
        """Freeze generations behind this image (0: frozen from a spawned process)."""
        return int(self.meta.get("depth", 0))

    def pin(self) -> "Image":
        """Protect from budget eviction until unpinned (pins nest)."""
        self.pins += 1
        return self

    def unpin(self) -> None:
        if self.pins > 0:
            self.pins -= 1

    def touch(self) -> None:
        self.last_used = time.monotonic()

    def validate(self, *, full: bool = False) -> None:
        """Raise ImageCorrupt unless every image file is present and intact (see :func:`validate_image`)."""
        if self.removed:
            raise ImageCorrupt(
                f"image {self.path} was removed"
                + (" (evicted by the store's byte budget; pin it to keep it)" if self.meta.get("evicted") else ""),
                path=self.path,
            )
        if not self.path.is_dir():
            read_meta(self.path)  # raises ImageCorrupt naming the missing directory
        validate_image(self.path, self.meta, full=full)

    def remove(self) -> None:
        """Delete the image directory (idempotent) and drop it from its store."""
        if self.removed:
            return
        self.removed = True
        shutil.rmtree(self.path, ignore_errors=True)
        if self.store is not None:
            self.store._forget(self)

    def __repr__(self) -> str:
        return f"<Image {self.path} {self.nbytes / 1e6:.1f} MB depth={self.depth}{' pinned' if self.pins else ''}>"


# -- ImageStore ------------------------------------------------------------------------------------------------
class ImageStore:
    """A per-run directory of images under ``root``, with a byte budget and LRU eviction of unpinned images.

    Use as a context manager (or call :meth:`close`): closing kills every process thawed from its images and
    removes the run directory.  Creating a store first removes run directories whose owner process is dead.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *, budget: int | str | None = None):
        self.root = Path(root) if root is not None else image_root()
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as e:
            raise ImageStoreFull(
                f"cannot create the image root {self.root}: {e}; set ${ROOT_ENV} to a writable directory"
            ) from e
        self.collected = collect_stale_runs(self.root)
        self.budget = self._resolve_budget(budget)
        self.run_dir = self.root / f"{RUN_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        self.run_dir.mkdir(mode=0o700)
        write_private_json(
            self.run_dir / OWNER_NAME,
            {"pid": os.getpid(), "start_time": _sys.start_time(os.getpid()), "pidns": _pidns()},
        )
        self.work_root = self.run_dir / "work"
        self.work_root.mkdir(mode=0o700)
        self._images: dict[Path, Image] = {}
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._procs: set = set()  # Procs thawed from this store's images
        self.evictions = 0
        self.closed = False
        with _stores_lock:
            _stores.add(self)

    def _resolve_budget(self, budget: int | str | None) -> int:
        if budget is None:
            budget = os.environ.get(BUDGET_ENV)
            if budget is None:
                st = os.statvfs(self.root)
                return st.f_blocks * st.f_frsize // 2
        if isinstance(budget, str):
            try:
                return parse_bytes(budget)
            except ValueError as e:
                raise ImageStoreFull(f"bad image budget ({BUDGET_ENV} or budget=): {e}") from e
        if budget <= 0:
            raise ImageStoreFull(f"image budget must be positive, got {budget}")
        return int(budget)

    # -- allocation ----------------------------------------------------------------------------------------
    def new_image_dir(self) -> Path:
        self._check_open()
        path = self.run_dir / f"img-{next(self._seq):06d}"
        path.mkdir(mode=0o700)
        return path

    def new_work_dir(self) -> Path:
        self._check_open()
        path = self.work_root / f"w-{next(self._seq):06d}"
        path.mkdir(mode=0o700)
        return path

    def make_room(self, nbytes: int, *, keep: Image | None = None, strict: bool = True) -> None:
        """Evict least recently used unpinned images until ``nbytes`` more fit in the budget and on disk.

        Raises ImageStoreFull (naming the budget setting) when eviction cannot make enough room; with
        ``strict=False`` (``nbytes`` is only an estimate) the budget part is best effort and only a filesystem
        without ``nbytes`` free raises.
        """
        with self._lock:
            victims = sorted(
                (im for im in self._images.values() if im.pins == 0 and im is not keep), key=lambda im: im.last_used
            )
            total = sum(im.nbytes for im in self._images.values())
            while total + nbytes > self.budget and victims:
                victim = victims.pop(0)
                total -= victim.nbytes
                victim.meta["evicted"] = True
                self._images.pop(victim.path, None)
                victim.removed = True
                shutil.rmtree(victim.path, ignore_errors=True)
                self.evictions += 1
        if strict and total + nbytes > self.budget:
            raise ImageStoreFull(
                f"image store {self.run_dir} is over its byte budget: {nbytes / 1e6:.1f} MB more would make "
                f"{(total + nbytes) / 1e6:.1f} MB > budget {self.budget / 1e6:.1f} MB, and every other image is "
                f"pinned. Raise the budget ({BUDGET_ENV}=… or ImageStore(budget=…)) or unpin/remove images"
            )
        st = os.statvfs(self.run_dir)
        free = st.f_bavail * st.f_frsize
        if nbytes > free:
            raise ImageStoreFull(
                f"no space for a {nbytes / 1e6:.1f} MB image on {self.root} ({free / 1e6:.1f} MB free). "
                f"Lower the budget ({BUDGET_ENV}) so older images are evicted sooner, free space, or point "
                f"${ROOT_ENV} at a larger filesystem"
            )

    def add(self, image: Image) -> Image:
        """Register a freshly written image, evicting others to keep the budget (never the new one)."""
        self._check_open()
        image.store = self
        with self._lock:
            self._images[image.path] = image
        try:
            self.make_room(0, keep=image)
        except ImageStoreFull:
            image.remove()
            raise
        return image

    def _forget(self, image: Image) -> None:
        with self._lock:
            self._images.pop(image.path, None)

    # -- reporting ------------------------------------------------------------------------------------------
    @property
    def images(self) -> list[Image]:
        with self._lock:
            return list(self._images.values())

    def __iter__(self) -> Iterator[Image]:
        return iter(self.images)

    def __len__(self) -> int:
        return len(self._images)

    @property
    def total_bytes(self) -> int:
        return sum(im.nbytes for im in self.images)

    def stats(self) -> dict[str, Any]:
        """Totals: images, bytes, pinned, budget, evictions, run directory."""
        images = self.images
        return {
            "run_dir": str(self.run_dir),
            "images": len(images),
            "bytes": sum(im.nbytes for im in images),
            "pinned": sum(1 for im in images if im.pins),
            "budget": self.budget,
            "evictions": self.evictions,
            "live_procs": len(self._procs),
        }

    # -- lifetime -------------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise ImageStoreFull(f"image store {self.run_dir} is closed")

    def adopt(self, proc) -> None:
        """Record a process thawed from this store, so :meth:`close` kills it -- and, should this process die
        without closing the store, so the next store's stale-run collection kills it (``procs`` file)."""
        with self._lock:
            self._procs.add(proc)
        line = f"{proc.pid} {_sys.start_time(proc.pid)}\n".encode()
        fd = os.open(self.run_dir / PROCS_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def release(self, proc) -> None:
        with self._lock:
            self._procs.discard(proc)

    def close(self) -> None:
        """Kill every process thawed from this store and remove the run directory.  Idempotent."""
        if self.closed:
            return
        self.closed = True
        with self._lock:
            procs = list(self._procs)
            self._procs.clear()
        for p in procs:
            p.kill()
        for p in procs:
            p.close()
        with self._lock:
            for im in self._images.values():
                im.removed = True
            self._images.clear()
        shutil.rmtree(self.run_dir, ignore_errors=True)
        with _stores_lock:
            _stores.discard(self)

    def __enter__(self) -> "ImageStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ImageStore {self.run_dir} {len(self)} images {self.total_bytes / 1e6:.1f}/{self.budget / 1e6:.0f} MB>"


def _pidns() -> int:
    return os.stat("/proc/self/ns/pid").st_ino


def _owner_alive(run_dir: Path) -> bool:
    """Whether the process that made ``run_dir`` may still use it (runs made in another pid namespace, whose
    pids we cannot check, count as alive)."""
    try:
        owner = json.loads((run_dir / OWNER_NAME).read_text())
        pid, started = int(owner["pid"]), owner.get("start_time")
        if owner.get("pidns", _pidns()) != _pidns():
            return True
    except FileNotFoundError:
        # Being created right now by another process, or a crash between mkdir and writing owner.json:
        # judge by the pid in the name, which is only reliable while that pid lives.
        m = re.match(rf"{RUN_PREFIX}(\d+)-", run_dir.name)
        return m is not None and _sys.start_time(int(m.group(1))) is not None
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        return False
    actual = _sys.start_time(pid)
    return actual is not None and (started is None or actual == started)


def collect_stale_runs(root: Path) -> list[Path]:
    """Remove run directories under ``root`` whose owner process is gone; return what was removed."""
    removed = []
    try:
        entries = list(root.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        if entry.name.startswith(RUN_PREFIX) and entry.is_dir() and not _owner_alive(entry):
            _kill_leftover_clones(entry / PROCS_NAME)
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _kill_leftover_clones(procs_file: Path) -> None:
    """SIGKILL the clones a dead run left running (only pids whose start time still matches)."""
    try:
        lines = procs_file.read_text().splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            continue
        pid, started = int(parts[0]), parts[1]
        if started != "None" and str(_sys.start_time(pid)) == started:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def open_stores() -> list[ImageStore]:
    with _stores_lock:
        return list(_stores)
