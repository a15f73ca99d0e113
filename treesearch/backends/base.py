"""The Backend interface: open a theorem -> root state; expand a state with K tactics -> K outcomes; close.

A backend owns every process and file it creates and removes them all in ``close()``. States are
referred to by opaque *handles*; a handle whose state is gone (evicted image, dead process) reports
``has_state(handle) is False`` and the driver rebuilds it with ``replay`` from an ancestor.
"""

from __future__ import annotations

import abc
import enum
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import psutil

from treesearch.errors import BackendError
from treesearch.theorem import Theorem

TIMING_KEYS = ("thaw", "freeze", "tactic", "pickle", "import")


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
    """A way of holding proof states and running tactics on them. Use as ``async with``."""

    name: ClassVar[str] = "abstract"

    def __init__(self, *, tactic_timeout: float = 20.0, argv: Sequence[str] | None = None) -> None:
        self._argv = list(argv) if argv else None
        self.timings = Timings()
        self.tactic_timeout = float(tactic_timeout)
        self.theorem: Theorem | None = None
        self.faults: list[str] = []

    async def __aenter__(self) -> "Backend":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _begin(self, theorem: Theorem) -> None:
        """Claim this backend for ``theorem``; a backend serves one theorem, so a second ``open`` is refused
        (it would start new processes and orphan the first theorem's)."""
        if self.theorem is not None:
            raise BackendError(
                f"{self.name} backend is already open on {self.theorem.name!r}; close() it and make a new "
                f"backend for {theorem.name!r}"
            )
        self.theorem = theorem

    # --------------------------------------------------------------- required
    @abc.abstractmethod
    async def open(self, theorem: Theorem) -> Outcome:
        """Start on ``theorem``: the returned outcome holds the root goals and handle, or an error."""

    @abc.abstractmethod
    async def expand(self, handle: Any, tactics: Sequence[str], *, timeout: float | None = None) -> list[Outcome]:
        """Run each tactic on the state ``handle``; one outcome per tactic, in order."""

    @abc.abstractmethod
    async def replay(self, handle: Any, tactics: Sequence[str], *, timeout: float | None = None) -> Outcome:
        """Run ``tactics`` one after another from ``handle``; the outcome of the last, with a handle to it."""

    @abc.abstractmethod
    async def close(self) -> None:
        """End every process and remove every file this backend created. Idempotent."""

    @abc.abstractmethod
    def pids(self) -> list[int]:
        """Pids of the live repl processes this backend holds right now."""

    # --------------------------------------------------------------- optional
    def has_state(self, handle: Any) -> bool:
        """Whether ``handle``'s state can be expanded without a replay."""
        return handle is not None

    def touch(self, handle: Any) -> None:
        """``handle`` was just selected (for least-recently-used bookkeeping)."""

    def release(self, handle: Any) -> None:
        """The search will never expand ``handle`` again; its state may be dropped."""

    def image_bytes(self) -> int:
        """Bytes of on-disk/tmpfs state this backend holds now (CRIU images, pickle files)."""
        return 0

    def apply_budget(self, *, image_bytes: int | None) -> None:
        """Take the search's image byte budget (backends without images ignore it)."""

    def memory_bytes(self) -> int:
        """Resident memory of all live repl processes (psutil RSS, summed)."""
        total = 0
        for pid in self.pids():
            try:
                total += psutil.Process(pid).memory_info().rss
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue
        return total

    def handle_to_json(self, handle: Any) -> Any:
        """A JSON value that refers to ``handle``'s saved state, or ``None`` if it cannot outlive the run."""
        return None

    def handle_from_json(self, value: Any) -> Any:
        """Inverse of ``handle_to_json``; ``None`` when the referred state is gone."""
        return None

    def argv(self) -> list[str]:
        """The repl command this backend starts (default: the embedded MiniLean prover)."""
        if self._argv is None:
            from lean_env.repl_cmd import minilean_argv

            self._argv = minilean_argv()
        return self._argv

    def recheck_argv(self) -> list[str]:
        """The argv of a fresh repl of the same kind, for re-checking proofs."""
        return self.argv()

    def settings(self) -> dict[str, Any]:
        """The settings this backend was made with (for results files)."""
        return {"tactic_timeout": self.tactic_timeout}
