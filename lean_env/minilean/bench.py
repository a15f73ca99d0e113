"""`python -m lean_env.minilean.bench`: start-up, `import Mathlib` (time, RSS) per library size, tactic-step time.

Speed figures live here, not in tests.  Runs real MiniLean processes and talks the repl protocol to them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time


def _talk(proc: subprocess.Popen, req: dict) -> dict:
    proc.stdin.write(json.dumps(req, ensure_ascii=False) + "\n\n")
    proc.stdin.flush()
    lines: list[str] = []
    while True:
        line = proc.stdout.readline()
        if line == "":
            raise RuntimeError("minilean exited")
        if not line.strip():
            if lines:
                return json.loads("".join(lines))
            continue
        lines.append(line)


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (VmRSS), NaN when /proc does not say."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(library_size: int, *, steps: int) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "lean_env.minilean", "--library-size", str(library_size)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        _talk(proc, {"cmd": "example : True := trivial"})
        startup = time.perf_counter() - t0
        t1 = time.perf_counter()
        _talk(proc, {"cmd": "import Mathlib"})
        import_s = time.perf_counter() - t1
        rss = rss_mb(proc.pid)
        r = _talk(proc, {"cmd": "theorem t (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r := by sorry", "env": 0})
        root = r["sorries"][0]["proofState"]
        script = ["apply And.intro", "exact h1.left", "apply h2", "exact h1.right"]
        t2 = time.perf_counter()
        n = 0
        while n < steps:
            ps = root
            for tac in script:
                ps = _talk(proc, {"tactic": tac, "proofState": ps})["proofState"]
                n += 1
        step_ms = (time.perf_counter() - t2) / n * 1000
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
        proc.stdout.close()
    return {"library_size": library_size, "startup_s": round(startup, 3), "import_s": round(import_s, 3),
            "rss_mb": round(rss), "step_ms": round(step_ms, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lean_env.minilean.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,2000,3000", help="comma-separated library sizes")
    ap.add_argument("--steps", type=int, default=400, help="tactic steps to time per size")
    args = ap.parse_args(argv)
    for n in (int(x) for x in args.sizes.split(",")):
        print(json.dumps(measure(n, steps=args.steps)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
