"""The Backend interface: open a theorem -> root state; expand a state with K tactics -> K outcomes; close.

Every call the driver makes is ``async``, so a backend whose processes live in another process or on another
machine fits the same interface. A backend owns every process and file it creates and removes them all in
``close()``. States are referred to by opaque *handles*; a handle whose state is gone (evicted image, dead
process) reports ``await has_state(handle) is False`` and the driver rebuilds it with ``replay`` from an
ancestor. ``await usage()`` is the one call that reports what the backend holds and has spent: its timings,
its processes and their memory, its image bytes and its fault and cache counters.

A backend serves one theorem: ``open`` claims it (the base class refuses a second ``open``, and unclaims the
backend again when ``open`` raises, so the driver may retry) and calls the subclass's ``_open``.
"""

from __future__ import annotations

import abc
import enum
import socket
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import psutil
from lean_env.repl_cmd import minilean_argv

from treesearch.errors import BackendError
from treesearch.theorem import Theorem

_HOST = socket.gethostname()
TIMING_KEYS = ("thaw", "freeze", "tactic", "pickle", "import")
COUNTER_KEYS = ("faults", "warm_hits", "evicted_rebuilds", "root_rebuilds")
"""Counters every backend reports in ``usage()`` (and so in every results row): ``faults``, processes that
crashed, hung or ran out of memory; ``warm_hits``, expansions served by a live process that already held the
state (no restore, no unpickle, no replay); ``evicted_rebuilds``, states rebuilt by ``replay`` because their
image, pickle or process was gone; ``root_rebuilds``, roots stated again after the only process holding them
died. A backend counts only what applies to it; the others stay 0."""


@dataclass
class Timings:
    """Seconds spent per kind of work, summed over all processes (concurrent work adds up).

    ``thaw``: restoring CRIU images; ``freeze``: dumping them; ``tactic``: running tactics (and replays);
    ``pickle``: pickleTo / unpickleProofStateFrom; ``import``: header imports or unpickleEnvFrom.
    """

    thaw: float = 0.0
    freeze: float = 0.0
    tactic: float = 0.0
    pickle: float = 0.0
    import_: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k in TIMING_KEYS})

    def add(self, key: str, seconds: float, *, n: int = 1) -> None:
        if key not in TIMING_KEYS:
            raise KeyError(f"unknown timing {key!r}; one of {TIMING_KEYS}")
        attr = "import_" if key == "import" else key
        setattr(self, attr, getattr(self, attr) + seconds)
        self.counts[key] += n

    @contextmanager
    def measure(self, key: str, *, n: int = 1):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(key, time.perf_counter() - t0, n=n)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["import"] = d.pop("import_")
        return d

    def merged(self, other: "Timings") -> "Timings":
        out = Timings()
        for k in TIMING_KEYS:
            a = "import_" if k == "import" else k
            setattr(out, a, getattr(self, a) + getattr(other, a))
            out.counts[k] = self.counts.get(k, 0) + other.counts.get(k, 0)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Timings":
        out = cls()
        for k in TIMING_KEYS:
            setattr(out, "import_" if k == "import" else k, float(d.get(k, 0.0)))
            out.counts[k] = int(d.get("counts", {}).get(k, 0))
        return out


@dataclass(frozen=True)
class Usage:
    """What a backend holds and has spent, at one moment (``await backend.usage()``).

    ``timings``: seconds per kind of work (``Timings.as_dict()``); ``memory_bytes``: resident memory (RSS) of
    its live repl processes, summed; ``pids``: those processes, on the machine ``host`` (empty when they are not
    visible from here); ``image_bytes``: bytes of saved states (CRIU images, pickle files) it holds now;
    ``counters``: ``COUNTER_KEYS`` -> count."""

    timings: dict[str, Any]
    memory_bytes: int = 0
    pids: tuple[int, ...] = ()
    image_bytes: int = 0
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTER_KEYS, 0))
    host: str = ""

    @property
    def processes(self) -> int:
        return len(self.pids)


def rss_bytes(pids: Sequence[int]) -> int:
    """Summed RSS of ``pids`` (processes gone meanwhile count 0)."""
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
    return total


class Kind(str, enum.Enum):
    OPEN = "open"  # the tactic ran; goals remain
    PROVED = "proved"  # the tactic ran and no goal remains
    ERROR = "error"  # Lean rejected the tactic (a value, not a transport failure)
    FAULT = "fault"  # the process crashed, hung past the timeout, or ran out of memory
    LOST = "lost"  # not run: the state went with a process that another tactic of this expansion killed


@dataclass
class Outcome:
    """What one tactic did (or, from ``open``/``replay``, the state reached)."""

    kind: Kind
    tactic: str | None = None
    goals: tuple[str, ...] | None = None
    handle: Any = None
    message: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.kind in (Kind.OPEN, Kind.PROVED)


class Backend(abc.ABC):
    """A way of holding proof states and running tactics on them. Use as ``async with``.

    Subclasses implement ``_open``, ``expand``, ``replay``, ``close`` and ``_pids`` (the live repl processes of a
    backend whose processes are local; a backend whose processes live elsewhere overrides ``usage`` instead),
    and the optional hooks below. Faults are recorded with ``_fault(message)``; the cache counters are
    ``self.counters[key] += 1`` for a key of ``COUNTER_KEYS``."""

    name: ClassVar[str] = "abstract"

    def __init__(self, *, tactic_timeout: float = 20.0, argv: Sequence[str] | None = None) -> None:
        self._argv = list(argv) if argv else None
        self.timings = Timings()
        self.tactic_timeout = float(tactic_timeout)
        self.theorem: Theorem | None = None
        self.faults: list[str] = []  # the messages, in order; counters["faults"] counts them
        self.counters: dict[str, int] = dict.fromkeys(COUNTER_KEYS, 0)

    async def __aenter__(self) -> "Backend":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _fault(self, message: str | None) -> None:
        self.faults.append(message or "fault")
        self.counters["faults"] += 1

    # --------------------------------------------------------------- required
    async def open(self, theorem: Theorem) -> Outcome:
        """Start on ``theorem``: the returned outcome holds the root goals and handle, or an error.

        A backend serves one theorem, so a second ``open`` is refused (it would start new processes and
        orphan the first theorem's); an ``open`` that raised leaves the backend unclaimed, so it may be
        tried again."""
        if self.theorem is not None:
            raise BackendError(
                f"{self.name} backend is already open on {self.theorem.name!r}; close() it and make a new "
                f"backend for {theorem.name!r}"
            )
        self.theorem = theorem
        try:
            return await self._open(theorem)
        except BaseException:
            self.theorem = None
            raise

    @abc.abstractmethod
    async def _open(self, theorem: Theorem) -> Outcome:
        """``open`` once the backend is claimed for ``theorem`` (``self.theorem`` is set)."""

    @abc.abstractmethod
    async def expand(self, handle: Any, tactics: Sequence[str], *, timeout: float | None = None) -> list[Outcome]:
        """Run each tactic on the state ``handle``; one outcome per tactic, in order."""

    @abc.abstractmethod
    async def replay(self, handle: Any, tactics: Sequence[str], *, timeout: float | None = None) -> Outcome:
        """Run ``tactics`` one after another from ``handle``; the outcome of the last, with a handle to it."""

    @abc.abstractmethod
    async def close(self) -> None:
        """End every process and remove every file this backend created. Idempotent."""

    # --------------------------------------------------------------- optional
    async def has_state(self, handle: Any) -> bool:
        """Whether ``handle``'s state can be expanded without a replay."""
        return handle is not None

    async def touch(self, handle: Any) -> None:
        """``handle`` was just selected (for least-recently-used bookkeeping)."""

    async def release(self, handle: Any) -> None:
        """The search will never expand ``handle`` again; its state may be dropped."""

    async def apply_budget(self, *, image_bytes: int | None) -> None:
        """Take the search's image byte budget (backends without images ignore it)."""

    async def usage(self) -> Usage:
        """Timings, processes and their memory, image bytes and counters, now (see ``Usage``)."""
        pids = tuple(self._pids())
        return Usage(timings=self.timings.as_dict(), memory_bytes=rss_bytes(pids), pids=pids,
                     image_bytes=self._image_bytes(), counters=dict(self.counters), host=_HOST)

    def _pids(self) -> list[int]:
        """Pids of the live repl processes this backend holds right now (local backends)."""
        return []

    def _image_bytes(self) -> int:
        """Bytes of on-disk/tmpfs state this backend holds now (CRIU images, pickle files)."""
        return 0

    def handle_to_json(self, handle: Any) -> Any:
        """A JSON value that refers to ``handle``'s saved state, or ``None`` if it cannot outlive the run."""
        return None

    def handle_from_json(self, value: Any) -> Any:
        """Inverse of ``handle_to_json``; ``None`` when the referred state is gone."""
        return None

    def argv(self) -> list[str]:
        """The repl command this backend starts (default: the embedded MiniLean prover)."""
        if self._argv is None:
            self._argv = minilean_argv()
        return self._argv

    def recheck_argv(self) -> list[str]:
        """The argv of a fresh repl of the same kind, for re-checking proofs."""
        return self.argv()

    def settings(self) -> dict[str, Any]:
        """The settings this backend was made with (for results files)."""
        return {"tactic_timeout": self.tactic_timeout}
