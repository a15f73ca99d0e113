"""`cryo bench seed`: the seed article's table on the embedded prover with its Mathlib-sized import.

Times, on real MiniLean processes: the `import Mathlib` command, `pickleTo` of its environment,
`unpickleEnvFrom` in a fresh repl, a CRIU freeze of the live repl, thaw-to-first-reply (thaw, send
`{"cmd": "def f := 37", "env": 0}`, wait for the reply, as the seed does) cold, warm, lazy and from a pool
of copies thawed ahead of demand, and a bare `criu restore` of the same image to the same first reply (for
cryo's own overhead).  Each figure is the median of `repeat` samples; "cold" samples follow `cold_wait`
seconds of idleness (these VMs hand freed memory back to the host), "warm" ones follow another thaw at once.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from experiments.bench.common import (SEED, TARGETS, BenchError, Stopwatch, by_storage, fmt_ratio, markdown_table,
                                      median, ratio)
from lean_env.minilean.bench import rss_mb
from lean_env.repl_cmd import MINILEAN_LIBRARY_STORAGES

__all__ = ["HEADER", "PAYLOAD", "STORAGES", "run_seed", "run_seed_storages", "seed_markdown",
           "dir_bytes", "bare_restore_reply"]

# MiniLean's library storages (lean_env.minilean.library): the premise index in anonymous memory, as the seed's
# measured repl held its imports, or in a read-only file mapping, as Lean maps its .olean files.
STORAGES = MINILEAN_LIBRARY_STORAGES
STORAGE_LABELS = {"heap": "heap (anonymous memory)", "mmap": "mmap (library file-mapped, as .olean)"}

# The seed's command is "import Mathlib\nopen BigOperators\nopen Real\nopen Nat"; MiniLean has no
# BigOperators or Real namespace (opening them is an error there), so those two lines are left out.
HEADER = "import Mathlib\nopen Nat"
PAYLOAD = {"cmd": "def f := 37", "env": 0}


def dir_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes allocated to the files under `path` (what `du -s` counts)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def _check_reply(reply: Any, what: str) -> None:
    from lean_env.protocol import CommandResponse

    if not isinstance(reply, CommandResponse):
        raise BenchError(f"{what}: the repl answered {reply!r}, not a command reply")
    errors = [m.data for m in reply.messages if m.severity == "error"]
    if errors:
        raise BenchError(f"{what}: the repl reported errors: {errors}")


def _first_reply(proc: Any, what: str, *, timeout: float) -> None:
    """Send the seed's payload to a running repl copy and wait for a good reply."""
    from lean_env.client import ReplClient

    client = ReplClient.attach(proc, timeout=timeout)
    try:
        _check_reply(client.command(PAYLOAD["cmd"], env=PAYLOAD["env"]), what)
    finally:
        client.close()


def bare_restore_reply(image: Any, *, timeout: float = 120.0) -> tuple[float, float]:
    """A bare `criu restore -d` of `image` with fresh pipes (no criu_backend on the way), then the seed's
    payload until its reply: (seconds to the reply, seconds of the restore alone).  The copy is killed."""
    from criu_backend import _sys
    from criu_backend.core import criu_binary
    from lean_env.framing import FrameDecoder, decode_frame, encode_request

    criu = criu_binary()
    _sys.become_subreaper()  # the restored copy becomes our child, so we can reap it
    stdio = image.meta.get("stdio", {})
    work = Path(tempfile.mkdtemp(prefix="bare-", dir=Path(image.path).parent))
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    ours, theirs = [in_w, out_r, err_r], [in_r, out_w, err_w]
    pid = None
    try:
        args = []
        for fd, child in (("0", in_r), ("1", out_w), ("2", err_w)):
            link = stdio.get(fd)
            if link and link.startswith("pipe:"):
                args += ["--inherit-fd", f"fd[{child}]:{link}"]
        cmd = [*criu.argv, "restore", "-D", str(image.path), "-W", str(work), "-d", "--pidfile", str(work / "pid"),
               "-o", "restore.log", *args]
        t0 = time.perf_counter()
        with open(work / "criu.stderr", "wb") as err:
            rc = subprocess.run(cmd, pass_fds=theirs, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                check=False).returncode
        restored = time.perf_counter() - t0
        for fd in theirs:
            os.close(fd)
        theirs = []
        pid_text = (work / "pid").read_text().strip() if (work / "pid").exists() else ""
        if rc != 0 or not pid_text.isdigit():
            log = "".join(p.read_text(errors="replace")[-800:] for p in (work / "restore.log", work / "criu.stderr")
                          if p.exists())
            raise BenchError(f"bare criu restore of {image.path} failed (exit {rc}): {log}")
        pid = int(pid_text)
        os.write(in_w, encode_request(PAYLOAD))
        dec = FrameDecoder()
        frame = None
        deadline = time.monotonic() + timeout
        while frame is None:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([out_r, err_r], [], [], max(left, 0))
            if not ready:
                raise BenchError(f"bare-restored copy (pid {pid}) did not answer within {timeout} s")
            if err_r in ready:
                os.read(err_r, 65536)
            if out_r in ready:
                chunk = os.read(out_r, 65536)
                if not chunk:
                    raise BenchError(f"bare-restored copy (pid {pid}) closed its stdout before answering")
                dec.feed(chunk)
                frame = dec.pop()
        replied = time.perf_counter() - t0
        reply = decode_frame(frame)
        if "env" not in reply:
            raise BenchError(f"bare-restored copy answered {reply!r}, not a command reply")
        return replied, restored
    finally:
        if pid is not None:
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        for fd in ours + theirs:
            os.close(fd)
        shutil.rmtree(work, ignore_errors=True)


def run_seed(*, library_size: int | None = None, library_storage: str | None = None, repeat: int = 3,
             cold_wait: float = 10.0,
             image_root: str | None = None, timeout: float = 300.0,
             log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Measure the seed table; returns every sample and the medians (seconds, MB, KB)."""
    import criu_backend as cb
    from lean_env.client import ReplClient
    from lean_env.repl_cmd import minilean_argv

    if repeat < 1:
        raise BenchError(f"repeat must be >= 1, got {repeat}")
    argv = minilean_argv(library_size=library_size, library_storage=library_storage)
    s: dict[str, list[float]] = {k: [] for k in (
        "import_s", "pickle_to_s", "unpickle_env_s", "fresh_start_s", "freeze_s", "thaw_reply_cold_s",
        "thaw_reply_warm_s", "restore_cold_s", "restore_warm_s", "bare_reply_cold_s", "bare_reply_warm_s",
        "bare_restore_cold_s", "bare_restore_warm_s", "lazy_reply_cold_s", "lazy_reply_warm_s", "lazy_settled_s",
        "pool_take_reply_s", "rss_after_import_mb", "pickle_bytes")}
    out: dict[str, Any] = {"library_size": library_size, "library_storage": library_storage or "heap",
                           "header": HEADER, "payload": PAYLOAD, "repeat": repeat,
                           "cold_wait_s": cold_wait, "argv": argv}
    pickle_dir = Path(tempfile.mkdtemp(prefix="cryo-bench-pickle-"))
    try:
        with cb.ImageStore(image_root, budget="64G") as store:
            live = None
            try:
                # import + pickleTo, in `repeat` fresh repls; the last one stays alive to be frozen
                for i in range(repeat):
                    log(f"seed: import {i + 1}/{repeat}")
                    # a private working directory: criu serializes dumps of processes sharing a cwd
                    # machine-wide (criu_backend._dumplock), and other programs may dump from the current one
                    proc = cb.spawn(argv, cwd=str(pickle_dir))
                    client = ReplClient.attach(proc, timeout=timeout)
                    try:
                        with Stopwatch() as sw:
                            reply = client.command(HEADER)
                        _check_reply(reply, "import")
                        s["import_s"].append(sw.seconds)
                        s["rss_after_import_mb"].append(rss_mb(proc.pid))
                        path = pickle_dir / f"env{i}.olean"
                        with Stopwatch() as sw:
                            _check_reply(client.pickle_to(str(path), env=reply.env), "pickleTo")
                        s["pickle_to_s"].append(sw.seconds)
                        s["pickle_bytes"].append(path.stat().st_size)
                    finally:
                        client.close()
                    if i < repeat - 1:
                        proc.close()
                    else:
                        live = proc
                # unpickleEnvFrom in a fresh repl (its start-up, to a first trivial reply, measured apart)
                for i in range(repeat):
                    log(f"seed: unpickle {i + 1}/{repeat}")
                    with Stopwatch() as start:
                        fresh = ReplClient.spawn(argv, timeout=timeout)
                        try:
                            _check_reply(fresh.command("example : True := trivial"), "fresh repl start")
                        except BaseException:
                            fresh.close()
                            raise
                    with fresh:
                        s["fresh_start_s"].append(start.seconds)
                        with Stopwatch() as sw:
                            reply = fresh.unpickle_env(str(pickle_dir / f"env{i}.olean"))
                        _check_reply(reply, "unpickleEnvFrom")
                        s["unpickle_env_s"].append(sw.seconds)
                        _check_reply(fresh.command("def f := 37", env=reply.env), "a command in the unpickled env")
                # freeze the live repl (it keeps running); the last image is the one thawed below
                image = None
                for i in range(repeat):
                    log(f"seed: freeze {i + 1}/{repeat}")
                    if image is not None:
                        image.remove()
                    with Stopwatch() as sw:
                        image = cb.freeze(live, store)
                    s["freeze_s"].append(sw.seconds)
            finally:
                if live is not None:
                    live.close()
            image.pin()
            out["image_bytes"] = image.nbytes
            out["image_du_bytes"] = dir_bytes(image.path)

            def ours(kind: str, *, lazy: bool = False) -> None:
                t0 = time.perf_counter()
                clone = cb.thaw(image, lazy=lazy)
                try:
                    _first_reply(clone, f"thaw ({kind})", timeout=timeout)
                    s[f"{'lazy' if lazy else 'thaw'}_reply_{kind}_s"].append(time.perf_counter() - t0)
                    if lazy:
                        clone.settle(timeout)
                        if kind == "cold":
                            s["lazy_settled_s"].append(time.perf_counter() - t0)
                    else:
                        s[f"restore_{kind}_s"].append(clone.thaw_seconds)
                finally:
                    clone.close()

            def bare(kind: str) -> None:
                replied, restored = bare_restore_reply(image, timeout=timeout)
                s[f"bare_reply_{kind}_s"].append(replied)
                s[f"bare_restore_{kind}_s"].append(restored)

            for i in range(repeat):
                log(f"seed: thaw {i + 1}/{repeat} (cold waits {cold_wait:g} s)")
                # ours and bare criu alternate, each cold after idling and warm right after a thaw
                time.sleep(cold_wait)
                ours("cold")
                bare("warm")
                ours("warm")
                time.sleep(cold_wait)
                bare("cold")
                ours("warm")
                bare("warm")
                time.sleep(cold_wait)
                ours("cold", lazy=True)
                ours("warm", lazy=True)
            log("seed: a copy thawed ahead of demand (ClonePool)")
            for i in range(repeat):
                with cb.ClonePool(image, size=1) as pool:
                    time.sleep(min(cold_wait, 2.0))  # the pool's copy is ready before it is asked for
                    t0 = time.perf_counter()
                    clone = pool.take(timeout)
                    try:
                        _first_reply(clone, "pool take", timeout=timeout)
                        s["pool_take_reply_s"].append(time.perf_counter() - t0)
                    finally:
                        clone.close()
            image.unpin()
            image.remove()
    finally:
        shutil.rmtree(pickle_dir, ignore_errors=True)
    out["samples"] = s
    out["median"] = {k: median(v) for k, v in s.items() if v}
    m = out["median"]
    out["image_mb"] = out["image_bytes"] / 1e6
    out["pickle_kb"] = m["pickle_bytes"] / 1e3
    out["overhead_vs_bare"] = {
        "reply_warm": ratio(m["thaw_reply_warm_s"], m["bare_reply_warm_s"]),
        "reply_cold": ratio(m["thaw_reply_cold_s"], m["bare_reply_cold_s"]),
    }
    return out


def seed_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The table's rows: (name, ours, seed's, unit); seconds or MB or KB."""
    m = res["median"]
    rows = [
        ("import (`import Mathlib`)", m["import_s"], SEED["import_s"], "s"),
        ("pickleTo", m["pickle_to_s"], SEED["pickle_to_s"], "s"),
        ("unpickleEnvFrom (fresh repl)", m["unpickle_env_s"], SEED["unpickle_env_s"], "s"),
        ("freeze (criu dump, repl keeps running)", m["freeze_s"], SEED["freeze_s"], "s"),
        ("thaw to first reply, cold", m["thaw_reply_cold_s"], SEED["thaw_reply_s"], "s"),
        ("thaw to first reply, warm", m["thaw_reply_warm_s"], SEED["thaw_reply_s"], "s"),
        ("thaw to first reply, lazy (userfaultfd), cold", m["lazy_reply_cold_s"], SEED["thaw_reply_s"], "s"),
        ("thaw to first reply, lazy, warm", m["lazy_reply_warm_s"], SEED["thaw_reply_s"], "s"),
        ("first reply from a copy thawed ahead (pool)", m["pool_take_reply_s"], SEED["thaw_reply_s"], "s"),
        ("bare `criu restore` to first reply, cold", m["bare_reply_cold_s"], None, "s"),
        ("bare `criu restore` to first reply, warm", m["bare_reply_warm_s"], None, "s"),
        ("image size (du)", res["image_du_bytes"] / 1e6, SEED["image_mb"], "MB"),
        ("pickle file size", res["pickle_kb"], SEED["pickle_kb"], "KB"),
        ("repl RSS after import", m["rss_after_import_mb"], None, "MB"),
    ]
    return [{"name": n, "ours": o, "seed": sd, "unit": u, "ours_over_seed": ratio(o, sd)} for n, o, sd, u in rows]


def _fmt(x: float | None, unit: str) -> str:
    if x is None:
        return "-"
    if unit == "s":
        return f"{x:.3f} s"
    return f"{x:.1f} {unit}" if unit == "KB" else f"{x:.0f} {unit}"


def run_seed_storages(storages: tuple[str, ...] | list[str] = STORAGES, **kwargs: Any) -> dict[str, Any]:
    """:func:`run_seed` once per library storage; ``{"storages": {storage: result}}``."""
    for st in storages:
        if st not in STORAGES:
            raise BenchError(f"library storage must be one of {', '.join(STORAGES)}, got {st!r}")
    log = kwargs.pop("log", lambda _m: None)
    out: dict[str, Any] = {"storages": {}}
    for st in storages:
        out["storages"][st] = run_seed(library_storage=st, log=lambda m, st=st: log(f"[{st}] {m}"), **kwargs)
    return out


def _seed_notes(st: str, r: dict[str, Any]) -> list[str]:
    m = r["median"]
    ov = r["overhead_vs_bare"]
    return [
        f"- {STORAGE_LABELS.get(st, st)}: cryo's overhead, thaw-to-first-reply / bare `criu restore`-to-first-reply "
        f"of the same image = {fmt_ratio(ov['reply_warm'])} warm, {fmt_ratio(ov['reply_cold'])} cold (target <= "
        f"{TARGETS['thaw_vs_bare_criu']}x). The restore alone: ours {m['restore_warm_s']:.3f} s warm / "
        f"{m['restore_cold_s']:.3f} s cold, bare {m['bare_restore_warm_s']:.3f} s / {m['bare_restore_cold_s']:.3f} s. "
        f"Lazy copies finish loading their pages {m.get('lazy_settled_s', float('nan')):.3f} s after the thaw "
        f"starts (cold). A fresh repl needs {m['fresh_start_s']:.3f} s to its first reply before unpickling.",
    ]


def seed_markdown(res: dict[str, Any]) -> str:
    by = by_storage(res)
    first = next(iter(by.values()))
    lib = first["library_size"] if first["library_size"] is not None else "default (3000)"
    tables = {st: seed_rows(r) for st, r in by.items()}
    names = [row["name"] for row in next(iter(tables.values()))]
    header = [""] + [f"ours, {STORAGE_LABELS.get(st, st)}" for st in by] + ["seed (Lean)"] + \
             [f"{st} / seed" for st in by]
    rows = []
    for i, name in enumerate(names):
        cells = [tables[st][i] for st in by]
        unit = cells[0]["unit"]
        rows.append([name] + [_fmt(c["ours"], unit) for c in cells] + [_fmt(cells[0]["seed"], unit)]
                    + [fmt_ratio(c["ours_over_seed"]) for c in cells])
    lines = [
        f"MiniLean, library size {lib}, header `{first['header']!r}`; medians of {first['repeat']} samples; "
        f"cold = after {first['cold_wait_s']:g} s idle, warm = right after another thaw. Library storage: "
        "`heap` holds the premise index in anonymous memory, which an image must carry (the seed's repl: 455 MB "
        "image); `mmap` maps it read-only from a cache file, as Lean 4 maps `.olean` files, and criu re-maps "
        "the file at restore instead of copying it.",
        "",
        markdown_table(header, rows),
        "",
    ]
    for st, r in by.items():
        lines += _seed_notes(st, r)
    return "\n".join(lines)
