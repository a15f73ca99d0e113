"""`cryo bench snapshot`: freeze / thaw-to-first-reply / fan-out / fork floor for processes of several sizes.

Not a test: it prints measured times, ratios against the seed article's CRIU figures and against the targets,
and (with ``--json``) writes every sample.  Cold and warm states are labelled: "cold" runs after
``--cold-wait`` seconds of idleness (these VMs hand freed memory back to the host within seconds, and touching
it again costs ~2 ms/MB); "warm" repeats the same operation at once.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SEED_FREEZE_S = 0.829
SEED_THAW_S = 0.510
SEED_IMAGE_MB = 455
TARGET_THAW_S = 0.05
TARGET_FREEZE_S = 0.2
TARGET_FANOUT8_VS_BARE = 1.2
TARGET_MEM8_VS_ONE = 3.0

# A process with SIZE MB of touched memory; "ping" -> "pong"; "fork" -> a forked child answers "child" and exits.
TARGET = r"""
import os, sys
blob = bytearray(b"\x5a") * (int(sys.argv[1]) * 1024 * 1024)
sys.stdout.write("ready\n"); sys.stdout.flush()
for line in sys.stdin:
    word = line.strip()
    if word == "fork":
        if os.fork() == 0:
            os.write(1, b"child\n")
            os._exit(0)
        os.wait()
    else:
        sys.stdout.write("pong\n"); sys.stdout.flush()
"""


def ask_line(proc, word: str | None = "ping", timeout: float = 120.0) -> str:
    """Send ``word`` (None: send nothing) and return the next line; TimeoutError / EOFError otherwise."""
    if word is not None:
        os.write(proc.stdin, (word + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"pid {proc.pid} did not answer {word!r} within {timeout} s")
        chunk = os.read(proc.stdout, 4096)
        if not chunk:
            raise EOFError(f"pid {proc.pid} closed stdout; stderr: {proc.stderr_tail()[-300:]!r}")
        buf += chunk
    return buf.decode().strip()


def _rss_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB from smaps_rollup."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss / 1024, pss / 1024


def _mem_available_mb() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _bare_criu_fanout(image, n: int) -> float:
    """Wall time of n concurrent raw `criu restore -d` (fresh pipes, no criu_backend), until all answer."""
    from criu_backend import _sys
    from criu_backend.core import criu_binary

    criu = criu_binary()
    stdio = image.meta["stdio"]
    work = Path(image.path).parent / f"bare-{os.getpid()}"
    pipes, popens, pids = [], [], []
    t0 = time.perf_counter()
    for i in range(n):
        w = work / str(i)
        w.mkdir(parents=True)
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        pipes.append((in_w, out_r, err_r))
        cmd = [*criu.argv, "restore", "-D", str(image.path), "-W", str(w), "-d", "--pidfile", str(w / "pid"),
               "-o", "restore.log", "--inherit-fd", f"fd[{in_r}]:{stdio['0']}",
               "--inherit-fd", f"fd[{out_w}]:{stdio['1']}", "--inherit-fd", f"fd[{err_w}]:{stdio['2']}"]
        with open(w / "criu.stderr", "wb") as err:
            popens.append(subprocess.Popen(cmd, pass_fds=(in_r, out_w, err_w), stdin=subprocess.DEVNULL,
                                           stdout=err, stderr=err))
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    for i, p in enumerate(popens):
        if p.wait() != 0:
            logs = [(work / str(i) / name) for name in ("restore.log", "criu.stderr")]
            text = "".join(f.read_text()[-500:] for f in logs if f.exists())
            raise RuntimeError(f"bare criu restore failed: {text}")
        pids.append(int((work / str(i) / "pid").read_text()))
    for in_w, out_r, _ in pipes:
        os.write(in_w, b"ping\n")
    for in_w, out_r, _ in pipes:
        select.select([out_r], [], [], 120)
        os.read(out_r, 64)
    wall = time.perf_counter() - t0
    for pid in pids:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    for fds in pipes:
        for fd in fds:
            os.close(fd)
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    _sys.become_subreaper()
    return wall


def _our_fanout(cb, image, n: int, *, lazy: bool) -> tuple[float, float, float]:
    """(wall seconds until all n copies answered, MemAvailable drop MB, RSS sum MB at that moment)."""
    before = _mem_available_mb()
    t = time.perf_counter()
    clones = cb.thaw_many(image, n, lazy=lazy)
    try:
        for c in clones:
            os.write(c.stdin, b"ping\n")
        for c in clones:
            select.select([c.stdout], [], [], 120)
            os.read(c.stdout, 64)
        wall = time.perf_counter() - t
        used = before - _mem_available_mb()
        rss = sum(_rss_mb(c.pid)[0] for c in clones)
    finally:
        for c in clones:
            c.close()
    return wall, used, rss


def run(sizes: list[int], fanouts: list[int], fanout_size: int, cold_wait: float, repeat: int) -> dict[str, Any]:
    import criu_backend as cb

    results: dict[str, Any] = {"sizes": {}, "fanout": {}, "machine": os.uname().release}
    with cb.ImageStore(budget="64G") as store:
        for size in sizes:
            row: dict[str, Any] = {}
            with cb.spawn([sys.executable, "-c", TARGET, str(size)]) as orig:
                if ask_line(orig, None, timeout=300) != "ready":
                    raise RuntimeError("target did not start")
                t = time.perf_counter()
                ask_line(orig, "fork")
                row["fork_reply_s"] = time.perf_counter() - t
                freezes = []
                for _ in range(repeat):
                    t = time.perf_counter()
                    image = cb.freeze(orig, store)
                    freezes.append(time.perf_counter() - t)
                    if _ != repeat - 1:
                        image.remove()
                row["freeze_s"] = statistics.median(freezes)
                row["image_mb"] = image.nbytes / 1e6
                image.pin()
                for state in ("cold", "warm"):
                    if state == "cold":
                        time.sleep(cold_wait)
                    t = time.perf_counter()
                    clone = cb.thaw(image)
                    ask_line(clone)
                    row[f"thaw_reply_{state}_s"] = time.perf_counter() - t
                    row[f"criu_restore_{state}_s"] = clone.thaw_seconds
                    if state == "warm":
                        t = time.perf_counter()
                        im2 = cb.freeze(clone, store)
                        row["refreeze_thawed_s"] = time.perf_counter() - t
                        im2.remove()
                    clone.close()
                t = time.perf_counter()
                clone = cb.thaw(image, lazy=True)
                ask_line(clone)
                row["thaw_reply_lazy_s"] = time.perf_counter() - t
                clone.settle(300)
                row["lazy_settled_s"] = time.perf_counter() - t
                clone.close()
                with cb.ClonePool(image, size=1) as pool:  # a copy thawed ahead of demand
                    time.sleep(cold_wait)
                    t = time.perf_counter()
                    clone = pool.take()
                    ask_line(clone)
                    row["pool_take_reply_s"] = time.perf_counter() - t
                clone.close()
                if size == fanout_size:
                    for n in fanouts:
                        # ours and bare criu alternate (ours first, then bare first), each after an idle wait,
                        # so neither profits from memory the other just freed
                        ours, bare = [], []
                        for first in ("ours", "bare"):
                            for kind in ((first, "bare" if first == "ours" else "ours")):
                                time.sleep(cold_wait)
                                if kind == "ours":
                                    ours.append(_our_fanout(cb, image, n, lazy=False))
                                else:
                                    bare.append(_bare_criu_fanout(image, n))
                        time.sleep(cold_wait)
                        lazy = _our_fanout(cb, image, n, lazy=True)
                        results["fanout"][n] = {
                            "wall_s": statistics.mean(o[0] for o in ours),
                            "bare_criu_wall_s": statistics.mean(bare),
                            "lazy_wall_s": lazy[0],
                            "mem_used_mb": statistics.mean(o[1] for o in ours),
                            "rss_sum_mb": statistics.mean(o[2] for o in ours),
                            "lazy_rss_sum_mb": lazy[2],
                        }
                image.unpin()
                image.remove()
            results["sizes"][size] = row
    return results


def report(res: dict[str, Any]) -> str:
    lines = ["cryo bench snapshot (cold: after idling; warm: repeated at once)", ""]
    hdr = f"{'size MB':>8} {'image MB':>9} {'freeze s':>9} {'thaw+reply cold':>16} {'warm':>7} {'lazy':>7} " \
          f"{'lazy settled':>13} {'pool':>7} {'refreeze':>9} {'fork floor s':>13}"
    lines.append(hdr)
    for size, r in res["sizes"].items():
        lines.append(f"{size:>8} {r['image_mb']:>9.1f} {r['freeze_s']:>9.3f} {r['thaw_reply_cold_s']:>16.3f} "
                     f"{r['thaw_reply_warm_s']:>7.3f} {r['thaw_reply_lazy_s']:>7.3f} {r['lazy_settled_s']:>13.3f} "
                     f"{r['pool_take_reply_s']:>7.4f} {r['refreeze_thawed_s']:>9.3f} {r['fork_reply_s']:>13.4f}")
    lines.append("")
    lines.append(f"vs the seed's CRIU (freeze {SEED_FREEZE_S} s, thaw {SEED_THAW_S} s, {SEED_IMAGE_MB} MB image):")
    for size, r in res["sizes"].items():
        lines.append(f"  {size} MB: freeze {SEED_FREEZE_S / r['freeze_s']:.1f}x faster, thaw+reply "
                     f"{SEED_THAW_S / r['thaw_reply_warm_s']:.1f}x faster (warm), "
                     f"{SEED_THAW_S / r['thaw_reply_cold_s']:.1f}x (cold)")
    if res["fanout"]:
        lines.append("")
        lines.append(f"{'N':>3} {'wall s':>8} {'bare criu s':>12} {'ours/bare':>10} {'lazy wall s':>12} "
                     f"{'mem used MB':>12} {'RSS sum MB':>11} {'lazy RSS MB':>12}")
        one = res["fanout"].get(1)
        for n, f in res["fanout"].items():
            lines.append(f"{n:>3} {f['wall_s']:>8.3f} {f['bare_criu_wall_s']:>12.3f} "
                         f"{f['wall_s'] / f['bare_criu_wall_s']:>10.2f} {f['lazy_wall_s']:>12.3f} "
                         f"{f['mem_used_mb']:>12.0f} {f['rss_sum_mb']:>11.0f} {f['lazy_rss_sum_mb']:>12.0f}")
        eight = res["fanout"].get(8)
        if eight and one:
            lines.append("")
            lines.append(f"targets: N=8 within {TARGET_FANOUT8_VS_BARE}x bare criu: "
                         f"{eight['wall_s'] / eight['bare_criu_wall_s']:.2f}x; N=8 lazy within 4x one lazy thaw: "
                         f"{eight['lazy_wall_s'] / one['lazy_wall_s']:.1f}x; memory of 8 <= "
                         f"{TARGET_MEM8_VS_ONE}x one: eager {eight['rss_sum_mb'] / max(one['rss_sum_mb'], 1):.1f}x, "
                         f"lazy short-lived {eight['lazy_rss_sum_mb'] / max(one['rss_sum_mb'], 1):.1f}x")
    for size, r in res["sizes"].items():
        if 400 <= int(size) <= 500:
            lines.append(f"targets at {size} MB: thaw+reply <= {TARGET_THAW_S} s: {r['thaw_reply_warm_s']:.3f} (warm), "
                         f"{r['thaw_reply_lazy_s']:.3f} (lazy), {r['pool_take_reply_s']:.4f} (from a pool), "
                         f"{r['thaw_reply_cold_s']:.3f} (cold); freeze <= {TARGET_FREEZE_S} s: {r['freeze_s']:.3f}, "
                         f"thawed copy {r['refreeze_thawed_s']:.3f}")
    return "\n".join(lines)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _cmd_snapshot(args: argparse.Namespace) -> int:
    from criu_backend.errors import CriuError

    try:
        res = run(_ints(args.sizes), _ints(args.fanout), args.fanout_size, args.cold_wait, args.repeat)
    except CriuError as e:
        print(f"cryo bench snapshot: {e}", file=sys.stderr)
        return 1
    print(report(res))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


def register(bench_subparsers) -> None:
    p = bench_subparsers.add_parser("snapshot", help="freeze/thaw/fan-out timings vs the seed's CRIU figures")
    p.add_argument("--sizes", default="30,100,450,1000", help="touched memory per process, MB (comma list)")
    p.add_argument("--fanout", default="1,2,4,8,16", help="clone counts thawed at once from one image")
    p.add_argument("--fanout-size", type=int, default=450, help="process size (MB) used for the fan-out rows")
    p.add_argument("--cold-wait", type=float, default=5.0, help="idle seconds before a 'cold' measurement")
    p.add_argument("--repeat", type=int, default=3, help="freezes per size (median reported)")
    p.add_argument("--json", help="also write all numbers to this file")
    p.set_defaults(func=_cmd_snapshot)
