"""The backend registry: every kind of backend by name, with its settings schema, preflight and per-run context.

A *backend kind* (``BackendKind``) is what a config's ``[backend] kind = NAME`` names. It supplies:

* ``settings``: the schema of the keys it takes from ``[backend]`` beyond the common ones (``COMMON_SETTINGS``),
  as ``Setting`` values (type, default, allowed values, meaning). Config validation, ``cryo doctor`` and the
  config reference are generated from them;
* ``preflight(settings)``: what must hold on this machine before anything starts (``cryo doctor`` and
  ``cryo run`` print it), as ``Check`` rows;
* ``run_context(settings)``: an async context manager around a whole run, yielding what the run's theorems
  share (criu: the post-import header images; native and pickle-warm: the repls that ran the header), or
  ``None``; it ends every process and removes every file it made on exit;
* ``make(settings, shared=...)``: a new ``Backend`` for one theorem.

The builtin kinds are ``criu``, ``pickle``, ``pickle-warm`` and ``native``. Another package adds one through the
entry-point group ``cryo.backends``; the entry point names a ``BackendKind`` instance (or a class or function
returning one), and its name is the kind's name::

    [project.entry-points."cryo.backends"]
    remote = "my_pkg.backend:KIND"

``register_backend(kind)`` adds one from code.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Callable

from treesearch.backends.base import Backend
from treesearch.errors import BackendError

__all__ = ["Setting", "Check", "BackendKind", "COMMON_SETTINGS", "ENTRY_POINT_GROUP", "BUILTIN_BACKENDS",
           "register_backend", "backend_kind", "backend_kinds", "backend_names"]

ENTRY_POINT_GROUP = "cryo.backends"
SETTING_KINDS = ("str", "int", "float", "bool", "size", "list[str]")


@dataclass(frozen=True)
class Setting:
    """One key a backend kind takes from ``[backend]``: its TOML type (one of ``SETTING_KINDS``; ``size`` is bytes
    or a string such as ``"4GiB"``), default (``None``: absent), allowed values and meaning."""

    name: str
    kind: str
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in SETTING_KINDS:
            raise BackendError(f"setting {self.name!r} has kind {self.kind!r}; one of {', '.join(SETTING_KINDS)}")


@dataclass(frozen=True)
class Check:
    """One preflight row: ``ok`` (False stops a run), ``what`` was checked, ``detail`` (and what to do)."""

    ok: bool
    what: str
    detail: str


COMMON_SETTINGS: tuple[Setting, ...] = (
    Setting("workers", "int", 2,
            "Pool size of `pickle-warm` and `native`, and the default of [search] max_in_flight (`criu` thaws "
            "clones per expansion, see `clones`; `pickle` starts one repl per expansion).", minimum=1, maximum=256),
    Setting("image_dir", "str", "",
            "Where CRIU images and pickles go (empty: $CRYO_IMAGE_ROOT, else /dev/shm/cryo)."),
    Setting("image_budget", "size", "4GiB",
            "Byte budget for stored images; the least recently used unpinned images are evicted past it."),
)
"""Keys every kind receives (each uses what applies to it). Besides these and its own ``settings``, ``make``
gets ``argv`` (the repl command) and ``tactic_timeout`` (seconds) from the run."""


class BackendKind:
    """A kind of backend. Subclass it (or build one with ``BackendKind(name, doc, factory, ...)``) and register it.

    ``factory`` is the ``Backend`` class (or any callable) that ``make`` calls with keyword arguments; the
    default ``make`` passes ``argv``, ``tactic_timeout`` and the kind's own settings by name, plus
    ``shared`` under the keyword ``shared_as`` when the run context yielded something."""

    def __init__(self, name: str, doc: str, factory: Callable[..., Backend], *,
                 settings: Sequence[Setting] = (), shared_as: str | None = None) -> None:
        self.name = name
        self.doc = doc
        self.factory = factory
        self.settings = tuple(settings)
        self.shared_as = shared_as

    def __repr__(self) -> str:
        return f"BackendKind({self.name!r})"

    def defaults(self) -> dict[str, Any]:
        """Every key this kind reads (common and its own) with its default."""
        return {s.name: s.default for s in (*COMMON_SETTINGS, *self.settings)}

    def preflight(self, settings: Mapping[str, Any]) -> list[Check]:
        """What must hold on this machine for this kind, before anything starts (default: nothing)."""
        return []

    @asynccontextmanager
    async def run_context(self, settings: Mapping[str, Any]) -> AsyncIterator[Any]:
        """What a run's theorems share; the default shares nothing."""
        yield None

    def backend_kwargs(self, settings: Mapping[str, Any], shared: Any) -> dict[str, Any]:
        """The factory's keyword arguments from ``settings`` (run keys, common keys, own keys)."""
        own = {s.name for s in self.settings}
        kw = {k: v for k, v in settings.items() if k in own or k in ("argv", "tactic_timeout")}
        if shared is not None and self.shared_as:
            kw[self.shared_as] = shared
        return kw

    def make(self, settings: Mapping[str, Any], *, shared: Any = None) -> Backend:
        """A new backend of this kind for one theorem."""
        try:
            return self.factory(**self.backend_kwargs(settings, shared))
        except TypeError as e:
            raise BackendError(f"bad settings for backend {self.name!r}: {e}") from e


BUILTIN_BACKENDS: dict[str, str] = {
    "criu": "treesearch.backends.criu:KIND",
    "pickle": "treesearch.backends.pickle:KIND",
    "pickle-warm": "treesearch.backends.pickle:WARM_KIND",
    "native": "treesearch.backends.native:KIND",
}
_registered: dict[str, BackendKind] = {}
_entry_points_loaded = False


def _resolve(spec: str, origin: str) -> BackendKind:
    module, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise BackendError(f"cannot load backend kind {spec!r} ({origin}): {type(e).__name__}: {e}") from e
    return _as_kind(obj, origin)


def _as_kind(obj: Any, origin: str) -> BackendKind:
    if isinstance(obj, BackendKind):
        return obj
    if callable(obj):
        made = obj()
        if isinstance(made, BackendKind):
            return made
    raise BackendError(f"{origin} is not a treesearch.backends.BackendKind (got {type(obj).__name__}); "
                       "an entry point of group cryo.backends names a BackendKind, or a class or function making one")


def register_backend(kind: BackendKind, *, replace: bool = False) -> BackendKind:
    """Make ``kind`` known by its name; a second kind of the same name is refused unless ``replace``."""
    if not isinstance(kind, BackendKind):
        raise BackendError(f"register_backend takes a BackendKind, got {type(kind).__name__}")
    if not replace and (kind.name in BUILTIN_BACKENDS or kind.name in _registered):
        raise BackendError(f"a backend kind named {kind.name!r} is already registered")
    _registered[kind.name] = kind
    return kind


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in BUILTIN_BACKENDS or ep.name in _registered:
            continue  # builtin and code-registered kinds win over an entry point of the same name
        _registered[ep.name] = _as_kind(_load_entry_point(ep), f"entry point {ep.name} = {ep.value}")


def _load_entry_point(ep: importlib.metadata.EntryPoint) -> Any:
    try:
        return ep.load()
    except Exception as e:  # any import-time failure of a third-party package is that package's error
        raise BackendError(f"cannot load backend entry point {ep.name} = {ep.value} (group {ENTRY_POINT_GROUP}): "
                           f"{type(e).__name__}: {e}") from e


def backend_names() -> tuple[str, ...]:
    """Every known kind's name: the builtins first, then registered and entry-point kinds."""
    _load_entry_points()
    return (*BUILTIN_BACKENDS, *sorted(k for k in _registered if k not in BUILTIN_BACKENDS))


def backend_kind(name: str) -> BackendKind:
    """The kind named ``name`` (builtin, registered, or from an entry point of group ``cryo.backends``)."""
    if name in _registered:
        return _registered[name]
    if name in BUILTIN_BACKENDS:
        kind = _registered[name] = _resolve(BUILTIN_BACKENDS[name], f"builtin backend {name}")
        return kind
    _load_entry_points()
    if name in _registered:
        return _registered[name]
    raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(backend_names())}")


def backend_kinds() -> dict[str, BackendKind]:
    """Every known kind by name."""
    return {name: backend_kind(name) for name in backend_names()}
