"""Header modules: the core prelude (always) and the bundled lemma library behind `import Mathlib`.

Importing the library does real work, linear in its size: generate N lemma sources deterministically, parse them,
elaborate them, kernel-check their proofs and index them by the head symbol of their conclusion; then build or
load the dense premise index (what makes the import Mathlib-sized: ~436 MB at the default size).

Where the premise index lives is the *library storage*:

- ``heap`` (default): computed at every import into anonymous memory, as the seed's measured repl holds its
  imports (its 455 MB image). A CRIU image carries all of it.
- ``mmap``: computed once into a cache file (as ``lake build`` writes ``.olean`` files) and mapped read-only at
  every import, as Lean 4 maps its ``.olean`` files. The import still reads every page (it verifies the file's
  checksum), so the repl is as large, but the bytes are file-backed: CRIU records the mapping and re-maps the
  file at restore instead of copying its pages, so images are small and thaws fast. The file must stay in place
  while images of such a repl exist (see :func:`cache_dir`).
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import json
import os
import sys
import tempfile
import zlib
from pathlib import Path

from ..repl_cmd import MINILEAN_LIBRARY_STORAGES
from .elab import Elaborator
from .errors import ElabError
from .expr import Const, Pi, get_app_fn_args
from .kernel import ConstInfo, Env, LocalContext, MetaCtx, Reducer
from .prelude import CORE_DEFINITIONS, CORE_SIGNATURES
from .syntax import Parser

DEFAULT_LIBRARY_SIZE = 3000
LIBRARY_STORAGES = MINILEAN_LIBRARY_STORAGES
DEFAULT_LIBRARY_STORAGE = "heap"
STORAGE_ENV = "CRYO_MINILEAN_LIBRARY_STORAGE"
CACHE_ENV = "CRYO_MINILEAN_CACHE"
EMBEDDING_DIM = 36352  # features per lemma in the premise index (float32): what makes the import Mathlib-sized
LIGHT_MODULES = ("Init", "Lean", "Std", "Batteries", "Aesop", "Qq")
HEAVY_MODULES = ("Mathlib",)

_PRELUDE: dict[str, ConstInfo] | None = None


class UnknownModule(ElabError):
    def __init__(self, module: str) -> None:
        root = module.split(".")[0]
        super().__init__(f"unknown module prefix '{root}'\n\nNo directory '{root}' or file '{root}.olean' in the "
                         f"search path entries:\n<minilean>/library")
        self.module = module


def _parse_sig(line: str):
    p = Parser(line)
    name = p.advance().text
    p.expect_sym(":")
    ty = p.term()
    val = None
    if p.is_sym(":="):
        p.advance()
        val = p.term()
    return name, ty, val


def prelude() -> dict[str, ConstInfo]:
    """The core declarations (built once per process)."""
    global _PRELUDE
    if _PRELUDE is not None:
        return _PRELUDE
    base: dict[str, ConstInfo] = {}
    todo = [(line, "axiom") for line in CORE_SIGNATURES.strip().splitlines()]
    todo += [(line, "def") for line in CORE_DEFINITIONS.strip().splitlines()]
    while todo:
        deferred = []
        for line, kind in todo:
            name, ty_s, val_s = _parse_sig(line)
            el = Elaborator(Env(base), MetaCtx())
            try:
                ty = el.elab_type(ty_s, LocalContext())
                el.default_numerals()
                ty = el.mctx.instantiate(ty)
                val = None
                if val_s is not None:
                    val = el.mctx.instantiate(el.elab(val_s, ty, LocalContext()))
            except ElabError:
                deferred.append((line, kind))
                continue
            base[name] = ConstInfo(name, ty, val, kind)
        if len(deferred) == len(todo):
            raise ElabError("prelude does not elaborate: " + deferred[0][0])
        todo = deferred
    _PRELUDE = base
    return base


TEMPLATES = [
    ("(p q : Prop) : p ∧ q → q ∧ p", "fun p q h => ⟨h.2, h.1⟩"),
    ("(p q : Prop) : p ∨ q → q ∨ p", "fun p q h => Or.elim h (fun hp => Or.inr hp) (fun hq => Or.inl hq)"),
    ("(p q r : Prop) : (p → q) → (q → r) → p → r", "fun p q r f g x => g (f x)"),
    ("(p : Prop) : p → ¬¬p", "fun p hp hn => hn hp"),
    ("(p q : Prop) : (p ↔ q) → q → p", "fun p q h hq => h.mpr hq"),
    ("(n k : Nat) : n + k = k + n", "fun n k => Nat.add_comm n k"),
    ("(a b : Int) : a = b → b = a", "fun a b h => Eq.symm h"),
    ("(p q : Prop) : ¬(p ∨ q) → ¬p", "fun p q h hp => h (Or.inl hp)"),
    ("(n : Nat) : n + 0 = n", "fun n => Nat.add_zero n"),
    ("(p q r : Prop) : p ∧ q ∧ r → r", "fun p q r h => h.2.2"),
]


def lemma_source(i: int) -> str:
    """The i-th generated lemma, deterministically."""
    k = i % (len(TEMPLATES) + 1)
    if k == len(TEMPLATES):
        a, b = (i * 7919) % 1000, (i * 104729) % 1000
        return f"theorem Mathlib.Gen.num_{i} : {a} + {b} = {a + b} := rfl"
    sig, proof = TEMPLATES[k]
    return f"theorem Mathlib.Gen.t{k}_{i} {sig} := {proof}"


def build_library(n: int, base: dict[str, ConstInfo]) -> tuple[dict[str, ConstInfo], dict[str, list[str]]]:
    """Generate, parse, elaborate, kernel-check and index n lemmas on top of ``base``."""
    lib = dict(base)
    index: dict[str, list[str]] = {}
    env = Env(lib)
    for i in range(n):
        src = lemma_source(i)
        p = Parser(src)
        p.advance()
        name = p.advance().text
        binders = p.binders(allow_bare_typed=False)
        p.expect_sym(":")
        ty_s = p.term()
        p.expect_sym(":=")
        val_s = p.term()
        el = Elaborator(env, MetaCtx())
        lctx, bs = el.elab_binders(binders, LocalContext())
        ty = el.elab_type(ty_s, lctx)
        el.default_numerals()
        from .expr import abstract
        full = el.mctx.instantiate(ty)
        for fid, nm, bty, imp in reversed(bs):
            full = Pi(nm, bty, abstract(full, fid), imp)
        val = el.mctx.instantiate(el.elab(val_s, full, LocalContext()))
        red = Reducer(env, MetaCtx())
        vty = red.infer(val, LocalContext(), check=True)
        if not red.is_def_eq(vty, full):
            raise ElabError(f"library lemma {name} failed to check")
        lib[name] = ConstInfo(name, full, val, "theorem")
        concl = full
        while type(concl) is Pi:
            concl = concl.body
        head, _ = get_app_fn_args(concl)
        index.setdefault(head.name if type(head) is Const else "_", []).append(name)
    return lib, index


def _lemma_hashes(names: list[str], lib: dict[str, ConstInfo]):
    import numpy as np

    return np.array([zlib.crc32(" ".join([n] + _features(lib[n])).encode()) % 9973 + 1 for n in names],
                    dtype=np.float32)


def _fill_rows(rows, h, dim: int, *, checksum: bool = False) -> int | None:
    """Write the index rows for lemma hashes ``h`` into ``rows`` chunk by chunk; with ``checksum``, return the
    crc32 of the bytes written (the cache file's header records it), else ``None``."""
    import numpy as np

    freqs = np.arange(1, dim + 1, dtype=np.float32) / dim
    chunk = 512
    crc = 0
    for s in range(0, len(h), chunk):
        part = rows[s:s + chunk]
        np.sin(np.outer(h[s:s + chunk], freqs), out=part)
        if checksum:
            crc = zlib.crc32(memoryview(part).cast("B"), crc)
    return crc if checksum else None


def premise_index(names: list[str], lib: dict[str, ConstInfo], dim: int = EMBEDDING_DIM):
    """A dense premise-selection index: one row per lemma, a hashed bag of the constants of its statement.

    Rows are written in full (every page touched), so the index occupies real memory like an imported library.
    """
    import numpy as np

    rows = np.empty((len(names), dim), dtype=np.float32)
    _fill_rows(rows, _lemma_hashes(names, lib), dim)
    return rows


INDEX_MAGIC = "minilean-premise-index"
INDEX_VERSION = 1
INDEX_HEADER = 4096  # the header is one page; rows start page-aligned


class IndexFileError(ElabError):
    """The premise-index cache cannot be written or read."""


def cache_dir() -> Path:
    """Where ``mmap`` storage keeps its index files: ``$CRYO_MINILEAN_CACHE``, else
    ``$XDG_CACHE_HOME/cryo/minilean``, else ``~/.cache/cryo/minilean``.

    A file there is written once per library (its name is a digest of the content) and never changed; deleting
    one is safe except while CRIU images of a repl that mapped it are still to be thawed (criu re-opens the
    file at restore)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cryo" / "minilean"


def _read_header(f) -> dict | None:
    raw = f.read(INDEX_HEADER)
    try:
        head = json.loads(raw.split(b"\n", 1)[0])
    except ValueError:
        return None
    return head if isinstance(head, dict) and head.get("format") == INDEX_MAGIC else None


def _write_index_file(path: Path, h, dim: int, key: str, *, replace: bool) -> None:
    """Build the index into a temporary file beside ``path``, then publish it: by a hard link that never
    overwrites (two repls building at once both end up mapping the one published inode), or, for a corrupt
    file, by a rename over it (repls that mapped the corrupt inode keep it)."""
    import numpy as np

    fd, tmp = tempfile.mkstemp(prefix=".premise-index-", suffix=".tmp", dir=path.parent)
    try:
        size = INDEX_HEADER + len(h) * dim * 4
        os.ftruncate(fd, size)
        rows = np.memmap(tmp, dtype=np.float32, mode="r+", offset=INDEX_HEADER, shape=(len(h), dim))
        crc = _fill_rows(rows, h, dim, checksum=True)
        rows.flush()
        del rows
        head = json.dumps({"format": INDEX_MAGIC, "version": INDEX_VERSION, "rows": len(h), "dim": dim,
                           "dtype": "float32", "crc32": crc, "key": key}).encode() + b"\n"
        os.pwrite(fd, head, 0)
        os.fchmod(fd, 0o644)
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another repl published the same content first: map that one
    finally:
        os.close(fd)
        if os.path.exists(tmp):
            os.unlink(tmp)


_ABSENT, _BAD = "absent", "bad"


def _map_index_file(path: Path, rows: int, dim: int):
    """The published file's rows, mapped read-only, after checking its header and reading every page for the
    checksum; else ``_ABSENT`` (no such file) or ``_BAD`` (truncated, corrupt, another format)."""
    import numpy as np

    try:
        with open(path, "rb") as f:
            head = _read_header(f)
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        return _ABSENT
    if (head is None or head.get("version") != INDEX_VERSION or head.get("rows") != rows
            or head.get("dim") != dim or size != INDEX_HEADER + rows * dim * 4):
        return _BAD
    if rows == 0:
        return np.empty((0, dim), dtype=np.float32)
    mapped = np.memmap(path, dtype=np.float32, mode="r", offset=INDEX_HEADER, shape=(rows, dim))
    if zlib.crc32(memoryview(mapped).cast("B")) != head.get("crc32"):
        return _BAD
    return mapped


def mapped_premise_index(names: list[str], lib: dict[str, ConstInfo], dim: int = EMBEDDING_DIM,
                         directory: Path | None = None):
    """The premise index of :func:`premise_index`, equal byte for byte, held in a read-only file mapping of
    ``directory`` (default :func:`cache_dir`): built into the file on first use, mapped and verified after."""
    h = _lemma_hashes(names, lib)
    key = hashlib.sha256(f"{INDEX_VERSION}:{dim}:".encode() + h.tobytes()).hexdigest()[:24]
    directory = cache_dir() if directory is None else directory
    path = directory / f"premise-index-{key}.bin"
    try:
        mapped = _map_index_file(path, len(names), dim)
        if not isinstance(mapped, str):
            return mapped
        if mapped == _BAD:
            print(f"minilean: {path} is corrupt or of another format; rebuilding it", file=sys.stderr)
        directory.mkdir(parents=True, exist_ok=True)
        _write_index_file(path, h, dim, key, replace=mapped == _BAD)
        mapped = _map_index_file(path, len(names), dim)
    except OSError as e:
        raise IndexFileError(f"cannot use the premise index cache {path}: {e.strerror or e} (set "
                             f"{CACHE_ENV} to a writable directory, or use library storage 'heap')") from e
    if isinstance(mapped, str):
        raise IndexFileError(f"the premise index cache {path} does not verify right after it was written")
    return mapped


def release_free_memory() -> None:
    """Hand memory freed by the import back to the kernel (collect garbage, then glibc's ``malloc_trim``), so
    neither the repl's RSS nor a CRIU image of it carries the import's garbage."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc


def _features(c: ConstInfo) -> list[str]:
    from .expr import consts_of
    return sorted(consts_of(c.type)) or ["_"]


def library_size_setting(explicit: int | None) -> int:
    if explicit is not None:
        return explicit
    v = os.environ.get("CRYO_MINILEAN_LIBRARY_SIZE")
    if v:
        try:
            return int(v)
        except ValueError as e:
            raise ValueError(f"CRYO_MINILEAN_LIBRARY_SIZE must be an integer, got {v!r}") from e
    return DEFAULT_LIBRARY_SIZE


def library_storage_setting(explicit: str | None) -> str:
    v = explicit if explicit is not None else (os.environ.get(STORAGE_ENV) or DEFAULT_LIBRARY_STORAGE)
    if v not in LIBRARY_STORAGES:
        src = "library storage" if explicit is not None else STORAGE_ENV
        raise ValueError(f"{src} must be one of {', '.join(LIBRARY_STORAGES)}, got {v!r}")
    return v


class Loader:
    """Resolves a header's modules into an environment; heavy modules build the lemma library each time."""

    def __init__(self, *, library_size: int, heavy: tuple[str, ...] = HEAVY_MODULES,
                 light: tuple[str, ...] = LIGHT_MODULES, storage: str = DEFAULT_LIBRARY_STORAGE) -> None:
        if storage not in LIBRARY_STORAGES:
            raise ValueError(f"library storage must be one of {', '.join(LIBRARY_STORAGES)}, got {storage!r}")
        self.storage = storage
        self.library_size = library_size
        self.heavy = heavy  # module roots whose import builds the lemma library
        self.light = light  # module roots that import only the prelude

    def known(self, module: str) -> bool:
        root = module.split(".")[0]
        return root in self.heavy or root in self.light

    def __call__(self, imports: list[str]) -> Env:
        for m in imports:
            if not self.known(m):
                raise UnknownModule(m)
        base = prelude()
        if any(m.split(".")[0] in self.heavy for m in imports):
            lib, index = build_library(self.library_size, base)
            names = [n for ns in index.values() for n in ns]
            rows = premise_index(names, lib) if self.storage == "heap" else mapped_premise_index(names, lib)
            release_free_memory()
            return Env(lib, {}, tuple(imports), {"premise_index": (index, names, rows)})
        return Env(base, {}, tuple(imports))
