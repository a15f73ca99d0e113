"""pickle and pickle-warm: a node is a pickled proof state (``pickleTo``), the seed's comparison.

``pickle`` (cold): every expansion starts a fresh repl that unpickles the environment -- paying the
import again, as in the seed -- and the node's proof state, runs the tactics, pickles the children
that worked, and ends. ``pickle-warm``: a pool of repls that unpickled the environment once and load
proof states into their live environment -- the strongest fair pickle baseline. With ``warm_repls`` (a run's
shared :class:`~treesearch.backends.warm.WarmRepls`) the pool is leased repls that imported the header for an
earlier theorem, and live ones are given back at ``close()``: the run imports once per pool member.

Pickle files live in one private directory under ``$CRYO_IMAGE_ROOT`` (default /dev/shm/cryo),
removed by ``close()``.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from criu_backend.store import image_root

from treesearch.backends import _repl
from treesearch.backends.base import Backend, Kind, Outcome
from treesearch.backends.registry import BackendKind
from treesearch.backends.warm import WarmPoolKind, WarmRepls
from treesearch.errors import BackendError, StateLost
from treesearch.theorem import Theorem


@dataclass(frozen=True)
class PickleHandle:
    path: str  # the pickled proof state
    serial: int


class _Warm:
    """One long-lived repl of the warm pool, with the environment already unpickled."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.client: Any = None
        self.env: int | None = None
        self.lease: Any = None  # the WarmRepl this member runs on, when the backend has warm_repls


class PickleBackend(Backend):
    name = "pickle"

    def __init__(self, *, warm: bool = False, pool_size: int | None = None, argv: Sequence[str] | None = None,
                 tactic_timeout: float = 20.0, open_timeout: float = 120.0, root: str | None = None,
                 warm_repls: Any = None) -> None:
        super().__init__(tactic_timeout=tactic_timeout, argv=argv)
        self.warm = bool(warm)
        if warm_repls is not None and not (self.warm and isinstance(warm_repls, WarmRepls)):
            raise BackendError("warm_repls must be a WarmRepls, and only pickle-warm takes one (pickle starts a "
                               f"fresh repl per expansion); got {type(warm_repls).__name__} for {self.name}")
        self.warm_repls = warm_repls
        self.name = "pickle-warm" if self.warm else "pickle"
        self.pool_size = int(pool_size or os.cpu_count() or 1)
        self.open_timeout = open_timeout
        self._root = root
        self.dir: Path | None = None
        self.env_file: str | None = None
        self.root_handle: PickleHandle | None = None
        self._serial = itertools.count(0)
        self._clients: set[Any] = set()
        self._pool: list[_Warm] = []
        self._idle: Any = None  # anyio memory object stream of idle warm workers
        self._idle_rx: Any = None
        self._closed = False

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "warm": self.warm, "pool_size": self.pool_size, "argv": self.argv(),
                "warm_repls": self.warm_repls is not None}

    def _new_path(self) -> tuple[str, int]:
        serial = next(self._serial)
        return str(self.dir / f"s{serial:06d}.olean"), serial

    # -------------------------------------------------------------- processes
    async def _spawn(self) -> Any:
        client = await _repl.spawn_client(self.argv(), timeout=self.open_timeout)
        self._clients.add(client)
        return client

    async def _end(self, client: Any) -> None:
        self._clients.discard(client)
        await _repl.close_client(client)

    async def _fresh_with_env(self) -> tuple[Any, int]:
        """A new repl that unpickled the theorem's environment (process start + unpickle timed as import)."""
        t0 = time.perf_counter()
        client = await self._spawn()
        self.timings.add("import", time.perf_counter() - t0, n=0)
        env, err = await _repl.unpickle_env(client, self.env_file, timings=self.timings, timeout=self.open_timeout)
        if err is not None:
            await self._end(client)
            raise BackendError(f"unpickleEnvFrom {self.env_file} failed: {err}")
        return client, env

    # -------------------------------------------------------------- Backend
    async def _open(self, theorem: Theorem) -> Outcome:
        base = Path(self._root) if self._root else image_root()
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix=f"pickle-{os.getpid()}-", dir=base))
        lease = None
        if self.warm_repls is not None:
            from treesearch.backends.warm import HeaderFailed

            try:
                lease = await self.warm_repls.take(self.argv(), theorem, timings=self.timings)
            except HeaderFailed as e:
                return Outcome(Kind.ERROR, message=str(e))
            except _repl.ReplError as e:
                raise BackendError(f"pickle-warm could not start a repl for {theorem.name}: {e}") from e
            client = lease.client
            self._clients.add(client)
        else:
            client = await self._spawn()
        healthy = False
        try:
            if lease is not None:
                opened = await _repl.state_theorem(client, theorem, lease.env, timings=self.timings,
                                                   timeout=self.open_timeout)
            else:
                opened = await _repl.open_theorem(client, theorem, timings=self.timings, timeout=self.open_timeout)
            healthy = True
            if not opened.outcome.ok:
                return opened.outcome
            self.env_file = str(self.dir / "env.olean")
            err = await _repl.pickle_env(client, opened.env, self.env_file, timings=self.timings,
                                         timeout=self.open_timeout)
            if err is not None:
                raise BackendError(f"pickleTo of the theorem environment failed: {err}")
            path, serial = self._new_path()
            err = await _repl.pickle_proof_state(client, opened.proof_state, path, timings=self.timings,
                                                 timeout=self.open_timeout)
            if err is not None:
                raise BackendError(f"pickleTo of the root proof state failed: {err}")
        except _repl.ReplError as e:
            healthy = False
            raise BackendError(f"pickle backend could not open {theorem.name}: {e}") from e
        finally:
            if lease is None:
                await self._end(client)
            elif not (healthy and opened.outcome.ok):
                self._clients.discard(client)
                await self.warm_repls.give_back(lease, alive=healthy)
        self.root_handle = PickleHandle(path, serial)
        if self.warm:
            await self._start_pool(first=lease)
        out = opened.outcome
        out.handle = self.root_handle
        return out

    async def _start_pool(self, first: Any = None) -> None:
        """Fill the warm pool: fresh repls that unpickle the environment, or leases of the run's warm repls
        (``first``, the lease that opened the theorem, becomes member 0)."""
        self._pool = [_Warm(i) for i in range(self.pool_size)]
        self._idle, self._idle_rx = anyio.create_memory_object_stream(self.pool_size)
        failures: list[str] = []
        if first is not None:
            self._pool[0].lease, self._pool[0].client, self._pool[0].env = first, first.client, first.env

        async def start(w: _Warm) -> None:
            try:
                await self._fill(w)
            except (BackendError, _repl.ReplError) as e:
                failures.append(f"warm repl {w.index}: {e}")

        async with anyio.create_task_group() as tg:
            for w in self._pool:
                if w.client is None:
                    tg.start_soon(start, w)
        if failures:
            raise BackendError("pickle-warm could not start its pool: " + "; ".join(failures))
        for w in self._pool:
            self._idle.send_nowait(w)

    async def _fill(self, w: _Warm) -> None:
        """Give pool member ``w`` a repl holding the environment."""
        if self.warm_repls is None:
            w.client, w.env = await self._fresh_with_env()
            return
        w.lease = await self.warm_repls.take(self.argv(), self.theorem, timings=self.timings)
        w.client, w.env = w.lease.client, w.lease.env
        self._clients.add(w.client)

    async def has_state(self, handle: Any) -> bool:
        return self._holds(handle)

    @staticmethod
    def _holds(handle: Any) -> bool:
        return isinstance(handle, PickleHandle) and os.path.exists(handle.path)

    async def _acquire(self) -> tuple[Any, int, _Warm | None]:
        """A repl holding the environment: a fresh one (cold), or an idle pool member (warm; a member
        whose repl died is restarted here)."""
        if not self.warm:
            client, env = await self._fresh_with_env()
            return client, env, None
        w: _Warm = await self._idle_rx.receive()
        if w.client is None:
            try:
                await self._fill(w)
            except BaseException:
                self._idle.send_nowait(w)
                raise
        return w.client, w.env, w

    async def _give_back(self, client: Any, w: _Warm | None, *, alive: bool) -> None:
        with anyio.CancelScope(shield=True):
            if w is not None and w.lease is not None and not alive:
                self._clients.discard(client)
                await self.warm_repls.give_back(w.lease, alive=False)
                w.lease = None
            elif w is None or not alive:
                await self._end(client)
            if w is not None:
                if not alive:
                    w.client = None
                self._idle.send_nowait(w)

    async def _with_repl(self, handle: PickleHandle, tactics: Sequence[str], timeout: float,
                         sequence: bool) -> list[Outcome]:
        """Load ``handle`` into a repl and run the tactics (each from the loaded state, or all in
        sequence); children that worked are pickled. A repl that dies fails only the tactic it was
        running: the rest go on in another repl."""
        if not self._holds(handle):
            raise StateLost(f"pickled state {getattr(handle, 'path', handle)!r} is gone; replay it")
        groups = [list(tactics)] if sequence else [[t] for t in tactics]
        outs: list[Outcome] = []
        while len(outs) < len(groups):
            try:
                client, env, w = await self._acquire()
            except _repl.ReplError as e:
                raise BackendError(f"could not start a repl with the theorem's environment: {e}") from e
            alive = False
            try:
                ps, err = await _repl.unpickle_proof_state(client, handle.path, env, timings=self.timings,
                                                           timeout=timeout)
                if err is not None:
                    alive = True
                    raise StateLost(f"unpickleProofStateFrom {handle.path} failed: {err}")
                while len(outs) < len(groups):
                    group = groups[len(outs)]
                    out, new_ps = await _repl.run_tactics(client, ps, group, timings=self.timings, timeout=timeout)
                    out.tactic = group[-1]
                    if out.kind is Kind.FAULT:
                        self._fault(out.message)
                        outs.append(out)
                        break
                    if out.kind is Kind.OPEN and new_ps is not None:
                        path, serial = self._new_path()
                        err = await _repl.pickle_proof_state(client, new_ps, path, timings=self.timings,
                                                             timeout=timeout)
                        if err is not None:
                            out = Outcome(Kind.FAULT, tactic=group[-1], message=f"pickleTo failed: {err}")
                        else:
                            out.handle = PickleHandle(path, serial)
                    outs.append(out)
                else:
                    alive = True
            except _repl.TRANSPORT_FAULTS as e:
                outs.append(_repl.fault(e, f"pickle repl while loading {handle.path}"))
                self._fault(outs[-1].message)
            except anyio.get_cancelled_exc_class():
                alive = _repl.client_alive(client)  # a cancelled request leaves it running, its reply owed
                raise
            finally:
                await self._give_back(client, w, alive=alive)
        return outs

    async def expand(self, handle: Any, tactics: Sequence[str], *, timeout: float | None = None) -> list[Outcome]:
        if not tactics:
            return []
        outs = await self._with_repl(handle, tactics, timeout or self.tactic_timeout, sequence=False)
        for t, o in zip(tactics, outs):
            o.tactic = t
        return outs

    async def replay(self, handle: Any, tactics: Sequence[str], *, timeout: float | None = None) -> Outcome:
        self.counters["evicted_rebuilds"] += 1
        return (await self._with_repl(handle, tactics, timeout or self.tactic_timeout, sequence=True))[0]

    async def release(self, handle: Any) -> None:
        if isinstance(handle, PickleHandle) and handle is not self.root_handle:
            try:
                os.unlink(handle.path)
            except FileNotFoundError:
                pass

    def _image_bytes(self) -> int:
        if self.dir is None or not self.dir.exists():
            return 0
        total = 0
        with os.scandir(self.dir) as it:
            for e in it:
                try:
                    total += e.stat().st_size
                except FileNotFoundError:
                    continue
        return total

    def _pids(self) -> list[int]:
        return [p for c in list(self._clients) for p in [_repl.client_pid(c)] if p is not None]

    def handle_to_json(self, handle: Any) -> Any:
        return {"path": handle.path} if self._holds(handle) else None

    def handle_from_json(self, value: Any) -> Any:
        if value and value.get("path") and os.path.exists(value["path"]):
            return PickleHandle(value["path"], next(self._serial))
        return None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            for w in self._pool:  # leases go back to the run's warm repls, kept if still running
                if w.lease is not None:
                    self._clients.discard(w.client)
                    await self.warm_repls.give_back(w.lease, alive=True)
                    w.lease = w.client = None
            for c in list(self._clients):
                await self._end(c)
            if self._idle is not None:
                self._idle.close()
                self._idle_rx.close()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


class _PickleKind(BackendKind):
    def backend_kwargs(self, settings: Mapping[str, Any], shared: Any) -> dict[str, Any]:
        return {**super().backend_kwargs(settings, shared), "root": settings.get("image_dir") or None}


class _PickleWarmKind(_PickleKind, WarmPoolKind):
    """pickle's image directory and the warm pool's size and shared repls."""


KIND = _PickleKind("pickle", (
    "How a tree node keeps its state: a repl pickle (`pickleTo`) replayed into a fresh process per expansion "
    "(`pickle`, the seed article's baseline: every expansion re-imports)."), PickleBackend)
WARM_KIND = _PickleWarmKind("pickle-warm", (
    "How a tree node keeps its state: a repl pickle loaded into a pool of `workers` warm processes that "
    "imported once (`pickle-warm`)."), functools.partial(PickleBackend, warm=True), shared_as="warm_repls")
