"""The anyio search driver: select -> propose -> expand -> back up, with up to ``max_in_flight`` expansions.

Concurrent selections are spread by virtual loss: every node on a selected path has its ``in_flight``
count raised until its expansion ends (added on the way down, removed in ``finally`` on every path:
success, error, fault, cancellation); the selector counts each in-flight visit as a loss, and a leaf
being expanded is never offered again. With ``max_in_flight=1`` and a fixed ``seed`` a run is
deterministic: the order of selections, proposals and node ids depends only on the seed.

Proposals are awaited through the async seam of ``policies.seam``: the proposer is wrapped once per run with
``as_async_proposer`` (a synchronous proposer runs in a worker thread, unchanged) inside a ``BatchWindow``
(``batch_size`` requests or ``batch_wait`` seconds), so the proposals of every expansion in flight are
requested at once and a model server may serve several states in one call.  Each expanded node is described by
a ``ProposalContext`` (theorem name, statement, header, the tactic path from the root, its goals as text and as
parsed by ``lean_env.goals``, depth); the answer goes through ``finalize`` (whitespace-normalised
de-duplication, cut to ``tactics_per_expansion``, priors renormalised).  A ``PolicyError`` (a
``ProposalError`` from a model server among them) fails that one node with its reason; the search goes on.

The driver measures what the search itself spends besides the backend: the seconds spent in the policies
(``timings["policy"]``: the wall seconds of awaiting the proposer, plus the selector and a given value
estimate; concurrent awaits overlap, so with several expansions in flight this sum can exceed the wall time),
the wall seconds of every backend ``expand`` call (``SearchResult.expansion_latencies``) and when the root was
proved (``time_to_proof``).  A ``stop`` signal (e.g. an ``anyio.Event``) ends the search as ``interrupted``
with its partial result.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import numpy as np
from lean_env.errors import GoalParseError as _GoalTextError
from lean_env.goals import Goal, parse_goal
from policies.errors import PolicyError
from policies.seam import BatchWindow, ProposalContext, as_async_proposer, finalize

from treesearch.backends.base import COUNTER_KEYS, Backend, Kind, Outcome, Timings, Usage
from treesearch.budget import (
    STOP_EXHAUSTED, STOP_EXPANSIONS, STOP_INTERRUPTED, STOP_MEMORY, STOP_OPEN_FAILED, STOP_PROVED, STOP_WALL,
    SearchBudget,
)
from treesearch.errors import BackendError, StateLost, TreeSearchError
from treesearch.theorem import Theorem
from treesearch.tree import NO_HANDLE, ROOT, ProofTree, Status

SAVE_FORMAT = "cryo-search/1"
STOP_ERROR = "error"  # a failure of the backend's processes ended the search (``search(..., failures=...)``)
POLICY = "policy"  # the timings key of the seconds spent in the proposer, the selector and the value estimate
DEFAULT_BATCH_SIZE = 1  # proposal requests merged into one proposer call (1: each request is sent at once)
DEFAULT_BATCH_WAIT = 0.005  # seconds a batch stays open for more requests after its first


@dataclass
class SearchResult:
    """Everything one search produced.

    ``timings``: seconds per kind of work -- the backend's split (``thaw``, ``freeze``, ``tactic``, ``pickle``,
    ``import``) plus ``policy``, the seconds inside the proposer, the selector and a given value estimate --
    and ``counts`` (calls per key). ``expansion_latencies``: wall seconds of every backend ``expand`` call, in
    order of completion (a retried or rebuilt expansion makes more than one). ``time_to_proof``: seconds from
    the start until the expansion that proved the root ended (``wall`` when the root was proved at open;
    ``None`` when not proved). ``close_seconds``: seconds ``search`` spent closing a backend it owned (0 when
    the caller closes it). ``batching``: the proposal window's statistics (``BatchWindow.stats()``: batches,
    requests, largest and mean batch, summed wait) and its ``batch_size`` / ``batch_wait``.
    ``recheck_status``: ``passed``, ``failed``, ``skipped`` (not asked for, or interrupted; ``recheck_note``
    says which), ``none`` (no proof) or ``error`` (the re-check repl failed)."""

    theorem: Theorem
    backend: str
    proved: bool
    proof: list[str] | None
    recheck: Any  # treesearch.proof.RecheckVerdict | None
    expansions: int
    nodes: int
    wall: float
    timings: dict[str, Any]
    peak_memory: int
    image_bytes: int
    peak_image_bytes: int
    errors: list[dict[str, Any]]
    stopped_by: str
    tree: ProofTree
    seed: int = 0
    max_in_flight: int = 1
    peak_in_flight: int = 0
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTER_KEYS, 0))
    peak_processes: int = 0
    expansion_latencies: list[float] = field(default_factory=list)
    time_to_proof: float | None = None
    close_seconds: float = 0.0
    backend_settings: dict[str, Any] = field(default_factory=dict)
    recheck_status: str = "none"
    recheck_note: str = ""
    batching: dict[str, Any] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        """Proved and accepted by the re-check."""
        return bool(self.proved and self.recheck is not None and self.recheck.accepted)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready dict without the tree."""
        return {
            "theorem": self.theorem.name, "backend": self.backend, "proved": self.proved, "proof": self.proof,
            "recheck": None if self.recheck is None else self.recheck.to_dict(), "verified": self.verified,
            "expansions": self.expansions, "nodes": self.nodes, "wall": self.wall, "timings": self.timings,
            "peak_memory": self.peak_memory, "image_bytes": self.image_bytes,
            "peak_image_bytes": self.peak_image_bytes, "errors": self.errors, "stopped_by": self.stopped_by,
            "seed": self.seed, "max_in_flight": self.max_in_flight, "peak_in_flight": self.peak_in_flight,
            "counters": self.counters, "peak_processes": self.peak_processes,
            "expansion_latencies": self.expansion_latencies, "time_to_proof": self.time_to_proof,
            "close_seconds": self.close_seconds, "backend_settings": self.backend_settings,
            "recheck_status": self.recheck_status, "recheck_note": self.recheck_note,
            "batching": self.batching, "tree_counts": self.tree.counts(),
        }


def default_value(outcomes: Sequence[Outcome]) -> float:
    """Leaf value in [0, 1] of one expansion: 1 if a tactic proved the state, else the best
    ``1 / (1 + goals)`` over the tactics that worked, 0 when none did."""
    best = 0.0
    for o in outcomes:
        if o.kind is Kind.PROVED:
            return 1.0
        if o.kind is Kind.OPEN:
            best = max(best, 1.0 / (1.0 + len(o.goals or ())))
    return best


def _value_fn(spec: Any) -> Callable[[Sequence[Outcome]], float]:
    """``None`` -> ``default_value``; a ``policies.ValueFn`` (or its name) -> the best value over the
    tactics that worked (1 for a proof, 0 if none worked); a callable over outcomes as is."""
    if spec is None:
        return default_value
    vf = _load("value", spec)
    if not hasattr(vf, "value"):
        return vf

    def leaf_value(outcomes: Sequence[Outcome]) -> float:
        vals = [1.0 if o.kind is Kind.PROVED else float(vf.value(list(o.goals or ()))) for o in outcomes if o.ok]
        return min(1.0, max(0.0, max(vals, default=0.0)))

    return leaf_value


class _Clocked:
    """A selector whose ``select`` calls add their seconds to the driver's policy clock; every other attribute
    (``scope`` ...) is the selector's own."""

    def __init__(self, inner: Any, clock: "_PolicyClock") -> None:
        self._inner = inner
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def select(self, *args: Any, **kw: Any) -> Any:
        with self._clock.timed():
            return self._inner.select(*args, **kw)


class _PolicyClock:
    """Seconds and calls spent in the policies (``with clock.timed(): policy call``).  Each timed block keeps
    its own start, so awaited proposals that overlap are each counted in full (their sum can exceed the wall
    time)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    @contextlib.contextmanager
    def timed(self) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - t0
            self.calls += 1


_BY_SORRY = re.compile(r":=\s*by\s+sorry\s*$")  # how every Theorem.source ends (checked by Theorem)


def _statement(theorem: Theorem) -> str:
    """The theorem's statement without its ``:= by sorry``."""
    return _BY_SORRY.sub("", theorem.source).rstrip()


def _parsed(goals: Sequence[str]) -> tuple[Goal | None, ...]:
    """Each goal as ``lean_env.goals`` reads it; ``None`` for a text it cannot read (never an error)."""
    out: list[Goal | None] = []
    for text in goals:
        try:
            out.append(parse_goal(text))
        except (_GoalTextError, ValueError):
            out.append(None)
    return tuple(out)


def _load(kind: str, spec: Any) -> Any:
    if not isinstance(spec, str):
        return spec
    from policies import load_policy

    return load_policy(kind, spec)


class SearchDriver:
    """One search over one theorem with one backend. Build it, then ``await driver.run()``."""

    def __init__(
        self,
        theorem: Theorem,
        *,
        backend: Backend,
        proposer: Any,
        selector: Any,
        budget: SearchBudget,
        max_in_flight: int | None = None,
        seed: int = 0,
        tactics_per_expansion: int = 8,
        value_fn: Callable[[Sequence[Outcome]], float] | None = None,
        retry_faults: int = 1,
        save_path: str | os.PathLike | None = None,
        handle_sigint: bool = True,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        stop: Any = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        batch_wait: float = DEFAULT_BATCH_WAIT,
    ) -> None:
        self.theorem = theorem
        self.backend = backend
        self.proposer = _load("proposer", proposer)
        self.selector = _load("selector", selector)
        self.budget = budget
        self.max_in_flight = int(max_in_flight or os.cpu_count() or 1)
        if self.max_in_flight < 1:
            raise TreeSearchError(f"max_in_flight must be >= 1, got {max_in_flight}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise TreeSearchError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if isinstance(batch_wait, bool) or not isinstance(batch_wait, (int, float)) or not math.isfinite(batch_wait) \
                or batch_wait < 0:
            raise TreeSearchError(f"batch_wait must be a finite number of seconds >= 0, got {batch_wait!r}")
        self.batch_size = batch_size
        self.batch_wait = float(batch_wait)
        try:
            self._proposer = as_async_proposer(self.proposer)
        except PolicyError as e:
            raise TreeSearchError(f"the proposer cannot be used: {e}") from e
        self.window: BatchWindow | None = None  # open while run() runs
        self.batching: dict[str, Any] = {}
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.k = int(tactics_per_expansion)
        self.value_fn = _value_fn(value_fn)
        self._value_is_policy = value_fn is not None  # the default value is the driver's, not a policy
        self.policy_clock = _PolicyClock()
        self._selector = _Clocked(self.selector, self.policy_clock)
        self.retry_faults = int(retry_faults)
        self.save_path = Path(save_path) if save_path is not None else None
        self.handle_sigint = handle_sigint
        self.on_event = on_event
        if stop is not None and not (callable(getattr(stop, "is_set", None)) and callable(getattr(stop, "wait", None))):
            raise TreeSearchError(f"stop must have is_set() and an async wait() (e.g. an anyio.Event), got "
                                  f"{type(stop).__name__}")
        self.stop = stop
        self.tree: ProofTree | None = None
        self.expansions = 0
        self.errors: list[dict[str, Any]] = []
        self.stopped_by: str | None = None
        self.in_flight = 0
        self.peak_in_flight = 0
        self.peak_memory = 0
        self.peak_image_bytes = 0
        self.peak_processes = 0
        self.usage = Usage(timings=Timings().as_dict())  # the backend's last reported usage
        self.timings_before = Timings()  # the backend timings of earlier runs of a resumed search
        self.wall_before = 0.0  # wall seconds spent by earlier runs of a resumed search
        self.expansions_before = 0
        self.policy_before = (0.0, 0)  # policy seconds and calls of earlier runs of a resumed search
        self.expansion_latencies: list[float] = []
        self.proved_at: float | None = None  # seconds from the start to the end of the expansion that proved the root
        self._t0 = time.monotonic()
        self._changed = anyio.Event()
        self._rebuild_failures: dict[int, int] = {}

    # ------------------------------------------------------------------ helpers
    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _event(self, name: str, /, **data: Any) -> None:
        if self.on_event is not None:
            self.on_event({"event": name, "t": time.monotonic() - self._t0, **data})

    def _error(self, kind: str, node: int | None, message: str, **extra: Any) -> None:
        row = {"kind": kind, "node": node, "message": message, "t": round(time.monotonic() - self._t0, 4), **extra}
        self.errors.append(row)
        self._event("error", **row)

    async def _sample(self) -> None:
        self.usage = usage = await self.backend.usage()
        mem = usage.memory_bytes
        self.peak_memory = max(self.peak_memory, mem)
        self.peak_image_bytes = max(self.peak_image_bytes, usage.image_bytes)
        self.peak_processes = max(self.peak_processes, usage.processes)
        if self.budget.memory_bytes is not None and mem > self.budget.memory_bytes and self.stopped_by is None:
            self.stopped_by = STOP_MEMORY
            self._error("memory", None, f"repl processes use {mem} bytes > budget {self.budget.memory_bytes}")
            self._notify()

    # ------------------------------------------------------------------ state rebuild
    async def _ensure_state(self, nid: int) -> Any:
        """The node's handle, rebuilt by replaying its tactics from the nearest ancestor holding a state."""
        tree = self.tree
        handle = tree.node(nid)["handle"]
        if await self.backend.has_state(handle):
            await self.backend.touch(handle)
            return handle
        steps = tree.replay_path(nid)
        start_handle = tree.node(ROOT)["handle"]
        start = 0
        for i, (anc, _tac) in enumerate(steps[:-1]):
            h = tree.node(anc)["handle"]
            if await self.backend.has_state(h):
                start_handle, start = h, i + 1
        tactics = [tac for _n, tac in steps[start:]]
        self._event("replay", node=nid, tactics=len(tactics))
        out = await self.backend.replay(start_handle, tactics, timeout=self.budget.tactic_timeout)
        want = tree.node(nid)["key"]
        if not out.ok or out.goals is None or tree.lookup(out.goals) != nid:
            raise BackendError(
                f"replaying {len(tactics)} tactics to rebuild node {nid} gave "
                f"{out.kind.value}: {out.message or out.goals!r} instead of the recorded goals {want!r}"
            )
        tree.node(nid)["handle"] = out.handle
        return out.handle

    async def _release_settled(self) -> None:
        """Drop the backend states of nodes that can never be expanded again (frees CRIU images)."""
        for nid in self.tree.pop_settled():
            node = self.tree.node(nid)
            if nid != ROOT and node["handle"] is not NO_HANDLE:
                await self.backend.release(node["handle"])
                node["handle"] = NO_HANDLE

    # ------------------------------------------------------------------ proposals
    def context(self, nid: int) -> ProposalContext:
        """What the proposer is told about node ``nid``: the theorem, the tactic path from the root, the goals
        (as text and parsed), depth."""
        tree = self.tree
        goals = tuple(tree.node(nid)["goals"])
        path = tuple(tac for _n, tac in tree.replay_path(nid))
        return ProposalContext(theorem_name=self.theorem.name, statement=_statement(self.theorem),
                               header=self.theorem.header, path=path, goals=goals, depth=len(path),
                               parsed_goals=_parsed(goals))

    async def _propose(self, nid: int) -> list[Any]:
        """At most ``k`` proposals for node ``nid`` (priors renormalised), awaited through the batch window;
        the wait is policy time.  Raises the ``PolicyError`` that failed this state."""
        ctx = self.context(nid)
        with self.policy_clock.timed():
            if self.window is None:
                raise TreeSearchError("the proposal window is not open: proposals are only asked inside run()")
            proposals = await self.window.propose(ctx, self.k, rng=self.rng)
        return finalize(proposals, self.k)

    # ------------------------------------------------------------------ one expansion
    async def _expand_once(self, leaf: int, tactics: list[str], latencies: list[float]) -> list[Outcome]:
        """``backend.expand`` on the leaf's state; a state lost on the way (evicted image, dead worker) is
        rebuilt by replay once. The wall seconds of each ``expand`` call go to ``latencies`` and to
        ``self.expansion_latencies``."""
        for attempt in (1, 2):
            handle = await self._ensure_state(leaf)
            t0 = time.perf_counter()
            try:
                return list(await self.backend.expand(handle, tactics, timeout=self.budget.tactic_timeout))
            except StateLost as e:
                self._error("state-lost", leaf, str(e), attempt=attempt)
                self.tree.node(leaf)["handle"] = NO_HANDLE
                if attempt == 2:
                    raise
            finally:
                seconds = time.perf_counter() - t0
                latencies.append(seconds)
                self.expansion_latencies.append(seconds)
        return []  # not reached: the second attempt returns or raises

    async def _expand(self, path: list[int]) -> None:
        tree = self.tree
        leaf = path[-1]
        done = False
        started = time.perf_counter()
        latencies: list[float] = []
        try:
            proposals = await self._propose(leaf)
            tactics = [p.tactic for p in proposals]
            priors = {p.tactic: float(p.prior) for p in proposals}
            outcomes: list[Outcome] = []
            if tactics:
                outcomes = await self._expand_once(leaf, tactics, latencies)
                if len(outcomes) != len(tactics):
                    raise BackendError(f"backend {self.backend.name} returned {len(outcomes)} outcomes "
                                       f"for {len(tactics)} tactics")
                # Faulted tactics are retried up to retry_faults times; tactics not run because another
                # one killed their process (LOST) are re-run without counting, before the faulted ones.
                tries = [0] * len(tactics)
                for _round in range(len(tactics) + self.retry_faults + 1):
                    redo = [i for i, o in enumerate(outcomes) if o.kind is Kind.LOST
                            or (o.kind is Kind.FAULT and tries[i] < self.retry_faults)]
                    if not redo:
                        break
                    redo.sort(key=lambda i: outcomes[i].kind is Kind.FAULT)
                    faulted = [i for i in redo if outcomes[i].kind is Kind.FAULT]
                    for i in faulted:
                        tries[i] += 1
                        self._error("fault", leaf, outcomes[i].message or "fault", tactic=tactics[i], retry=tries[i])
                    if faulted and leaf != ROOT:  # the state itself may be bad (e.g. frozen while stopped)
                        old = tree.node(leaf)["handle"]
                        tree.node(leaf)["handle"] = NO_HANDLE
                        await self.backend.release(old)
                    again = await self._expand_once(leaf, [tactics[i] for i in redo], latencies)
                    for i, o in zip(redo, again):
                        outcomes[i] = o
                for i, o in enumerate(outcomes):
                    if o.kind in (Kind.FAULT, Kind.LOST):
                        self._error("fault", leaf, o.message or "fault", tactic=tactics[i], retry="gave up")
            for tac, o in zip(tactics, outcomes):
                if o.ok:
                    child = tree.add_outcome(leaf, tac, goals=o.goals, handle=o.handle, prior=priors[tac])
                    if o.handle is not None and tree.node(child)["handle"] is not o.handle:
                        await self.backend.release(o.handle)  # a transposition (or cycle) kept the older state
                else:
                    tree.add_outcome(leaf, tac, goals=None, prior=priors[tac], message=o.message,
                                     fault=o.kind in (Kind.FAULT, Kind.LOST))
                    if o.handle is not None:
                        await self.backend.release(o.handle)
            tree.end_expansion(leaf)
            done = True
            if self._value_is_policy:
                with self.policy_clock.timed():
                    value = self.value_fn(outcomes)
            else:
                value = self.value_fn(outcomes)
            tree.backup(path, value)
            await self._release_settled()
            if self.proved_at is None and tree.proved:
                self.proved_at = self.wall_before + (time.monotonic() - self._t0)
            self._event("expanded", node=leaf, tactics=len(tactics),
                        ok=sum(o.ok for o in outcomes), status=tree.node(leaf)["status"].value,
                        seconds=time.perf_counter() - started, expand_seconds=sum(latencies))
        except PolicyError as e:  # the proposer cannot handle this state: nothing to try here
            self._error("policy", leaf, f"{type(e).__name__}: {e}")
            tree.mark_failed(leaf, f"proposer failed: {e}")
            done = True
        except BackendError as e:
            n = self._rebuild_failures[leaf] = self._rebuild_failures.get(leaf, 0) + 1
            self._error("expand", leaf, str(e), attempt=n)
            if n > self.retry_faults:
                tree.mark_failed(leaf, f"could not expand: {e}")
                done = True
        finally:
            if not done:
                tree.end_expansion(leaf, expanded=False)
            tree.remove_virtual_loss(path)
            self.in_flight -= 1
            with anyio.CancelScope(shield=True):
                await self._sample()
            self._notify()

    # ------------------------------------------------------------------ loop
    def _stop_reason(self) -> str | None:
        if self.stopped_by is not None:
            return self.stopped_by
        if self.tree.proved:
            return STOP_PROVED
        if self.budget.expansions is not None and self.expansions >= self.budget.expansions:
            return STOP_EXPANSIONS
        return None

    async def _monitor(self) -> None:
        while True:
            await self._sample()
            await anyio.sleep(self.budget.sample_seconds)

    async def _sigint_watch(self, scope: anyio.CancelScope) -> None:
        with anyio.open_signal_receiver(signal.SIGINT) as signals:
            async for _sig in signals:
                self.stopped_by = STOP_INTERRUPTED
                self._error("interrupted", None, "SIGINT: stopping every process and saving the tree")
                scope.cancel()
                return

    async def _stop_watch(self, scope: anyio.CancelScope) -> None:
        await self.stop.wait()
        self.stopped_by = STOP_INTERRUPTED
        self._error("interrupted", None, "stop requested: ending every expansion")
        scope.cancel()

    async def _loop(self, tg: anyio.abc.TaskGroup) -> None:
        tree = self.tree
        while True:
            reason = self._stop_reason()
            if reason is not None:
                self.stopped_by = reason
                return
            if self.in_flight >= self.max_in_flight:
                await self._changed.wait()
                continue
            path = tree.select(self._selector)
            if path is None:
                if self.in_flight == 0:
                    self.stopped_by = STOP_PROVED if tree.proved else STOP_EXHAUSTED
                    return
                await self._changed.wait()
                continue
            tree.add_virtual_loss(path)
            tree.begin_expansion(path[-1])
            self._event("selected", path=list(path))
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self.expansions += 1
            tg.start_soon(self._expand, path)

    async def _open(self) -> bool:
        try:
            root = await self.backend.open(self.theorem)
        except BackendError as e:  # e.g. the root repl was killed from outside: try once more
            self._error("open", None, f"opening {self.theorem.name} failed, retrying once: {e}")
            try:
                root = await self.backend.open(self.theorem)
            except BackendError as e2:
                self._error("open", None, f"could not open theorem {self.theorem.name}: {e2}")
                return False
        if not root.ok or root.goals is None:
            self._error("open", None, f"could not open theorem {self.theorem.name}: {root.message}")
            return False
        if self.tree is None:
            self.tree = ProofTree(root.goals, root_handle=root.handle)
            if root.kind is Kind.PROVED:
                self.tree.root["status"] = Status.PROVED
        else:
            if self.tree.lookup(root.goals) != ROOT:
                raise TreeSearchError(
                    f"the saved tree's root goals {self.tree.root['goals']!r} differ from the theorem's "
                    f"root goals {root.goals!r}; resume only with the same theorem and repl"
                )
            self.tree.root["handle"] = root.handle
        return True

    async def run(self) -> SearchResult:
        """Search until proved, exhausted, interrupted, or a budget runs out, and return the result.
        Does not re-check the proof (``search`` does) and does not close the backend."""
        self._t0 = time.monotonic()
        await self.backend.apply_budget(image_bytes=self.budget.image_bytes)
        window = BatchWindow(self._proposer, max_batch=min(self.batch_size, self.max_in_flight),
                             max_wait=self.batch_wait)
        try:
            async with window:
                self.window = window
                try:
                    await self._search()
                finally:
                    window.cancel()  # proposals nobody awaits any more (proved, stopped): no model call waited for
        finally:
            self.window = None
            self.batching = {**window.stats(), "batch_size": self.batch_size, "batch_wait": self.batch_wait}
            with anyio.CancelScope(shield=True):
                await self._aclose_proposer()
            if self.stopped_by is None:
                self.stopped_by = STOP_INTERRUPTED
            with anyio.CancelScope(shield=True):
                await self._sample()  # the result reports what the backend spent up to the end
            if self.save_path is not None and self.tree is not None:
                self.save(self.save_path)
        return self.result()

    async def _aclose_proposer(self) -> None:
        """Close what the proposer holds for this event loop (an ``aclose()``: e.g. HTTP connections)."""
        aclose = getattr(self.proposer, "aclose", None)
        if aclose is not None and inspect.iscoroutinefunction(aclose):
            await aclose()

    async def _search(self) -> None:
        """Open the root, then select and expand until a stop reason holds (run() wraps it)."""
        async with anyio.create_task_group() as tg:
            if self.handle_sigint and threading.current_thread() is threading.main_thread():
                tg.start_soon(self._sigint_watch, tg.cancel_scope)
            if self.stop is not None:
                tg.start_soon(self._stop_watch, tg.cancel_scope)
            tg.start_soon(self._monitor)
            with anyio.move_on_after(self.budget.wall_seconds) as wall_scope:
                if not await self._open():
                    self.stopped_by = STOP_OPEN_FAILED
                else:
                    async with anyio.create_task_group() as work:
                        await self._loop(work)
                        if self.stopped_by != STOP_EXPANSIONS:
                            work.cancel_scope.cancel()  # proved / memory: in-flight work is moot
            if wall_scope.cancelled_caught and self.stopped_by in (None, STOP_EXPANSIONS):
                self.stopped_by = STOP_WALL
            if self.tree is not None and self.tree.proved:
                self.stopped_by = STOP_PROVED
            tg.cancel_scope.cancel()

    def result(self, recheck: Any = None) -> SearchResult:
        """What the search has produced so far (also after a failure or an interruption)."""
        tree = self.tree
        proved = bool(tree is not None and tree.proved)
        proof = tree.proof_tactics() if proved else None
        wall = self.wall_before + (time.monotonic() - self._t0)
        return SearchResult(
            theorem=self.theorem, backend=self.backend.name, proved=proved,
            proof=proof, recheck=recheck, expansions=self.expansions_before + self.expansions,
            nodes=len(tree) if tree is not None else 0, wall=wall,
            timings=self._timings_dict(), peak_memory=self.peak_memory,
            image_bytes=self.usage.image_bytes, peak_image_bytes=self.peak_image_bytes,
            errors=list(self.errors), stopped_by=self.stopped_by or STOP_INTERRUPTED,
            tree=tree if tree is not None else ProofTree([], canonical_fn=tuple),
            seed=self.seed, max_in_flight=self.max_in_flight, peak_in_flight=self.peak_in_flight,
            counters=dict(self.usage.counters), peak_processes=self.peak_processes,
            expansion_latencies=list(self.expansion_latencies),
            time_to_proof=(self.proved_at if self.proved_at is not None else wall) if proved else None,
            batching=dict(self.batching),
        )

    def _timings(self) -> Timings:
        """The backend's timings at the last sample, plus those of earlier runs of a resumed search."""
        return self.timings_before.merged(Timings.from_dict(self.usage.timings))

    def _timings_dict(self) -> dict[str, Any]:
        """The backend's timings (``_timings``) plus the seconds and calls spent in the policies."""
        d = self._timings().as_dict()
        d[POLICY] = self.policy_before[0] + self.policy_clock.seconds
        d["counts"][POLICY] = self.policy_before[1] + self.policy_clock.calls
        return d

    # ------------------------------------------------------------------ save / resume
    def save(self, path: str | os.PathLike) -> Path:
        """Write the tree, its handle references, the budget and what was spent, atomically."""
        path = Path(path)
        data = {
            "format": SAVE_FORMAT,
            "theorem": self.theorem.to_dict(),
            "backend": self.backend.name,
            "budget": self.budget.to_dict(),
            "spent": {"expansions": self.expansions_before + self.expansions,
                      "wall": self.wall_before + (time.monotonic() - self._t0)},
            "seed": self.seed,
            "stopped_by": self.stopped_by,
            "errors": self.errors,
            "timings": self._timings_dict(),
            "tree": self.tree.to_dict(handle_fn=self.backend.handle_to_json),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1))
        os.replace(tmp, path)
        return path

    def load(self, path: str | os.PathLike, *, budget: SearchBudget | None = None) -> None:
        """Take the tree of a saved run; the budget becomes the saved one minus what was spent (or
        ``budget`` minus it, when given)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise TreeSearchError(f"cannot read saved search {path}: {e}") from e
        if data.get("format") != SAVE_FORMAT:
            raise TreeSearchError(f"{path} is not a saved cryo search (format {data.get('format')!r})")
        saved = Theorem.from_dict(data["theorem"])
        if saved.source != self.theorem.source or saved.imports != self.theorem.imports:
            raise TreeSearchError(f"{path} holds a search of {saved.name!r}, not of {self.theorem.name!r}")
        base = budget or SearchBudget.from_dict(data["budget"])
        spent = data["spent"]
        self.budget = base.remaining(expansions_used=int(spent["expansions"]), wall_used=float(spent["wall"]))
        self.expansions_before = int(spent["expansions"])
        self.wall_before = float(spent["wall"])
        self.errors = list(data.get("errors", []))
        timings = data.get("timings", {})
        self.timings_before = Timings.from_dict(timings)
        self.policy_before = (float(timings.get(POLICY, 0.0)), int(timings.get("counts", {}).get(POLICY, 0)))
        self.tree = ProofTree.from_dict(data["tree"], handle_fn=self.backend.handle_from_json)
