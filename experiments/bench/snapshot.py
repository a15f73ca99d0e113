"""`cryo bench` part 2: snapshot scaling, measured by `criu_backend.bench` (`cryo bench snapshot`) and folded in.

Freeze and thaw-to-first-reply against process size, fan-out of N copies from one image (wall until all N
answer, memory of the N copies, the same N restores with bare `criu restore`), lazy thaw, a copy thawed ahead
of demand, and `os.fork()` of the same process as the floor.
"""

from __future__ import annotations

from typing import Any, Sequence

from experiments.bench.common import SEED, TARGETS, BenchError, fmt_ratio, markdown_table, ratio

__all__ = ["run_snapshot", "snapshot_markdown"]


def run_snapshot(*, sizes: Sequence[int], fanouts: Sequence[int], fanout_size: int, cold_wait: float,
                 repeat: int) -> dict[str, Any]:
    """`criu_backend.bench.run` with these settings; its result, with JSON-friendly keys and the settings."""
    from criu_backend import bench

    res = bench.run(list(sizes), list(fanouts), fanout_size, cold_wait, repeat)
    return {
        "settings": {"sizes_mb": list(sizes), "fanouts": list(fanouts), "fanout_size_mb": fanout_size,
                     "cold_wait_s": cold_wait, "repeat": repeat},
        "sizes": {str(k): v for k, v in res["sizes"].items()},
        "fanout": {str(k): v for k, v in res["fanout"].items()},
        "text": bench.report(res),
    }


def fanout_target(res: dict[str, Any]) -> float | None:
    """Wall until 8 copies answer (lazy) over one lazy thaw; the largest N measured stands in for 8."""
    fan = res["fanout"]
    if "1" not in fan or len(fan) < 2:
        return None
    n = "8" if "8" in fan else max(fan, key=int)
    return ratio(fan[n].get("lazy_wall_s"), fan["1"].get("lazy_wall_s"))


def _cell(x: float | None, digits: int) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def snapshot_markdown(res: dict[str, Any]) -> str:
    st = res["settings"]
    rows = []
    cols = ("image_mb", "freeze_s", "thaw_reply_cold_s", "thaw_reply_warm_s", "thaw_reply_lazy_s", "lazy_settled_s",
            "pool_take_reply_s", "refreeze_thawed_s", "fork_reply_s")
    for size, r in res["sizes"].items():
        # keys criu_backend.bench does not measure (in an older version) show as "-"
        cells = [_cell(r.get(c), 0 if c == "image_mb" else 4 if c in ("pool_take_reply_s", "fork_reply_s") else 3)
                 for c in cols]
        rows.append([size, *cells, fmt_ratio(ratio(SEED["thaw_reply_s"], r.get("thaw_reply_warm_s")))])
    lines = [
        f"A Python process holding SIZE MB of touched memory, answering `ping` (criu_backend/bench.py). Freeze is "
        f"the median of {st['repeat']}; thaw columns are seconds to the first reply; cold = after "
        f"{st['cold_wait_s']:g} s idle; the fork floor is `os.fork()` of the same process answering.",
        "",
        markdown_table(["size MB", "image MB", "freeze s", "thaw cold s", "thaw warm s", "lazy s", "lazy settled s",
                        "pool s", "re-freeze of a copy s", "fork floor s", "seed thaw / ours (warm)"], rows),
    ]
    if res["fanout"]:
        one = res["fanout"].get("1")
        frows = []
        for n, f in res["fanout"].items():
            g = f.get
            frows.append([n, _cell(g("wall_s"), 3), _cell(g("bare_criu_wall_s"), 3),
                          fmt_ratio(ratio(g("wall_s"), g("bare_criu_wall_s"))), _cell(g("lazy_wall_s"), 3),
                          fmt_ratio(ratio(g("lazy_wall_s"), one.get("lazy_wall_s")) if one else None),
                          _cell(g("mem_used_mb"), 0), _cell(g("rss_sum_mb"), 0), _cell(g("lazy_rss_sum_mb"), 0)])
        lines += [
            "",
            f"Fan-out: N copies thawed at once from one {st['fanout_size_mb']} MB image, wall until all N answered "
            f"(mean of 2 runs, ours and bare criu alternating, each after idling).",
            "",
            markdown_table(["N", "wall s", "bare criu s", "ours / bare", "lazy wall s", "lazy / one lazy",
                            "MemAvailable drop MB", "RSS sum MB", "lazy RSS sum MB"], frows),
            "",
            f"Target: fan-out of 8 within {TARGETS['fanout8_vs_lazy1']:g}x one lazy thaw: "
            f"{fmt_ratio(fanout_target(res))}.",
        ]
    return "\n".join(lines)


# A process holding SIZE MB either in anonymous memory (what MiniLean's premise index is) or in a read-only
# shared mapping of a file (how a library cached on disk would be held): "ping" -> "pong".
MAPPED_TARGET = r"""
import mmap, os, sys
size = int(sys.argv[1]) * 1024 * 1024
if sys.argv[2] == "file":
    fd = os.open(sys.argv[3], os.O_RDONLY)
    blob = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
    os.close(fd)
    total = sum(blob[i] for i in range(0, size, 4096))   # every page resident
else:
    blob = bytearray(b"\x5a") * size
sys.stdout.write("ready\n"); sys.stdout.flush()
for line in sys.stdin:
    sys.stdout.write("pong\n"); sys.stdout.flush()
"""


def _ask(proc: Any, word: str | None, timeout: float = 300.0) -> str:
    from criu_backend.bench import ask_line

    try:
        return ask_line(proc, word, timeout)
    except (TimeoutError, EOFError) as e:
        raise BenchError(str(e)) from e


def run_mapped(*, size_mb: int, repeat: int) -> dict[str, Any]:
    """Image size, freeze and warm thaw-to-first-reply of a SIZE MB process whose memory is anonymous, and of
    one whose memory is a file mapping (criu re-maps the file instead of dumping its pages)."""
    import os
    import shutil
    import statistics
    import sys
    import tempfile
    import time

    import criu_backend as cb

    tmp = tempfile.mkdtemp(prefix="cryo-bench-map-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    out: dict[str, Any] = {"size_mb": size_mb, "repeat": repeat}
    try:
        data = os.path.join(tmp, "library.bin")
        with open(data, "wb") as f:
            chunk = b"\x5a" * (1 << 20)
            for _ in range(size_mb):
                f.write(chunk)
        with cb.ImageStore(budget="64G") as store:
            for kind in ("anon", "file"):
                with cb.spawn([sys.executable, "-c", MAPPED_TARGET, str(size_mb), kind, data], cwd=tmp) as proc:
                    if _ask(proc, None) != "ready":
                        raise BenchError(f"the {kind} target did not start")
                    freezes, thaws = [], []
                    image = None
                    for _ in range(repeat):
                        if image is not None:
                            image.remove()
                        t0 = time.perf_counter()
                        image = cb.freeze(proc, store)
                        freezes.append(time.perf_counter() - t0)
                    for _ in range(repeat + 1):
                        t0 = time.perf_counter()
                        clone = cb.thaw(image)
                        try:
                            _ask(clone, "ping")
                            thaws.append(time.perf_counter() - t0)
                        finally:
                            clone.close()
                    out[kind] = {"image_mb": image.nbytes / 1e6, "freeze_s": statistics.median(freezes),
                                 "thaw_reply_warm_s": statistics.median(thaws[1:])}
                    image.remove()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def mapped_markdown(res: dict[str, Any]) -> str:
    rows = [[kind, f"{res[kind]['image_mb']:.1f}", f"{res[kind]['freeze_s']:.3f}",
             f"{res[kind]['thaw_reply_warm_s']:.3f}"] for kind in ("anon", "file") if kind in res]
    return "\n".join([
        f"Smaller images: a {res['size_mb']} MB process whose memory is anonymous, against one holding the same "
        f"bytes as a read-only shared mapping of a file on tmpfs (criu records the mapping and re-maps the file "
        f"at restore instead of dumping the pages). Medians of {res['repeat']}; thaw is warm.",
        "",
        markdown_table(["memory", "image MB", "freeze s", "thaw to first reply s"], rows),
    ])
