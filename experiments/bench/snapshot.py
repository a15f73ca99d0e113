"""`cryo bench` part 2: snapshot scaling, measured by `criu_backend.bench` (`cryo bench snapshot`) and folded in.

Freeze and thaw-to-first-reply against process size, fan-out of N copies from one image (wall until all N
answer, memory of the N copies, the same N restores with bare `criu restore`), lazy thaw, a copy thawed ahead
of demand, and `os.fork()` of the same process as the floor.
"""

from __future__ import annotations

from typing import Any, Sequence

from experiments.bench.common import SEED, TARGETS, fmt_ratio, markdown_table, ratio

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
    return ratio(fan[n]["lazy_wall_s"], fan["1"]["lazy_wall_s"])


def snapshot_markdown(res: dict[str, Any]) -> str:
    st = res["settings"]
    rows = []
    for size, r in res["sizes"].items():
        rows.append([size, f"{r['image_mb']:.0f}", f"{r['freeze_s']:.3f}", f"{r['thaw_reply_cold_s']:.3f}",
                     f"{r['thaw_reply_warm_s']:.3f}", f"{r['thaw_reply_lazy_s']:.3f}", f"{r['lazy_settled_s']:.3f}",
                     f"{r['pool_take_reply_s']:.4f}", f"{r['refreeze_thawed_s']:.3f}", f"{r['fork_reply_s']:.4f}",
                     fmt_ratio(ratio(SEED["thaw_reply_s"], r["thaw_reply_warm_s"]))])
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
            frows.append([n, f"{f['wall_s']:.3f}", f"{f['bare_criu_wall_s']:.3f}",
                          fmt_ratio(ratio(f["wall_s"], f["bare_criu_wall_s"])), f"{f['lazy_wall_s']:.3f}",
                          fmt_ratio(ratio(f["lazy_wall_s"], one["lazy_wall_s"]) if one else None),
                          f"{f['mem_used_mb']:.0f}", f"{f['rss_sum_mb']:.0f}", f"{f['lazy_rss_sum_mb']:.0f}"])
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
