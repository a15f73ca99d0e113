"""`cryo bench profile`: where the time of one criu expansion goes, seen by pyinstrument from the search's side.

Opens the criu backend on one bundled theorem (MiniLean with `import Mathlib`), then profiles a single
`expand` of the root with the propositional proposer's first K tactics: thaw K clones of the root image at
once, one tactic in each, freeze the children that worked (eager), end the clones.  The backend's own
timings (thaw, tactic, freeze seconds summed over clones) are reported beside the profile.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from experiments.bench.common import BenchError

__all__ = ["run_profile", "profile_markdown"]

THEOREM = "comm_and"
PADDING = ("intro h", "constructor", "assumption", "exact h")


def _theorem(name: str) -> Any:
    from experiments.suites import load_suite
    from treesearch import Theorem

    found = load_suite(["bundled:*.lean"], [name])
    if not found:
        raise BenchError(f"no bundled theorem named {name!r}")
    t = found[0]
    return Theorem(source=t.source, imports=("Mathlib", *t.imports), name=t.name)


PHASES = {"_thaw": "thaw (criu restore of K clones)", "run_tactics": "tactic (in the clones)",
          "_freeze": "freeze (criu dump of children)", "_end": "end clones", "close_client": "close clients",
          "attach_client": "attach clients"}


def _phases(session: Any, total: float) -> dict[str, float]:
    """Wall seconds of the expansion under each phase's function (outermost frames only), and the rest."""
    found: dict[str, float] = {}

    def walk(frame: Any) -> None:
        for key, phase in PHASES.items():
            if frame.function == key or frame.function.endswith("." + key):
                found[phase] = found.get(phase, 0.0) + frame.time
                return
        for child in frame.children:
            walk(child)

    root = session.root_frame()
    if root is not None:
        walk(root)
    return found


def _thaw_trial(image: Any, proof_state: int, tactics: list[str], *, repeat: int,
                timeout: float) -> dict[str, Any]:
    """What an expansion without freezing costs with eager and with lazy (userfaultfd) thaw: thaw K copies of
    `image` at once, one tactic in each, end them; eager and lazy alternate, medians of `repeat`."""
    import criu_backend as cb
    from lean_env.client import ReplClient

    samples: dict[str, list[float]] = {"eager": [], "lazy": []}
    for _ in range(repeat):
        for kind in ("eager", "lazy"):
            t0 = time.perf_counter()
            clones = cb.thaw_many(image, len(tactics), lazy=kind == "lazy")
            try:
                for clone, tactic in zip(clones, tactics):
                    client = ReplClient.attach(clone, timeout=timeout)
                    try:
                        client.tactic(tactic, proof_state)
                    finally:
                        client.close()
            finally:
                for clone in clones:
                    clone.close()
            samples[kind].append(time.perf_counter() - t0)
    return {"samples_s": samples, "median_s": {k: statistics.median(v) for k, v in samples.items()}}


def run_profile(out: Path, *, library_size: int | None = None, theorem: str = THEOREM, tactics: int = 4,
                timeout: float = 300.0, trial_repeat: int = 3) -> dict[str, Any]:
    """Profile one eager criu expansion; writes profile.txt and profile.html into `out`."""
    import anyio
    import numpy as np

    try:
        from pyinstrument import Profiler
    except ImportError as e:
        raise BenchError("cryo bench profile needs pyinstrument: .venv/bin/pip install -e '.[dev]'") from e
    from lean_env.repl_cmd import minilean_argv
    from policies import load_policy
    from treesearch.backends import make_backend

    target = _theorem(theorem)
    proposer = load_policy("proposer", "propositional")
    result: dict[str, Any] = {"library_size": library_size, "theorem": theorem, "tactics_per_expansion": tactics}

    async def main() -> None:
        # a private working directory, as in the search bench (criu serializes dumps sharing a cwd)
        argv = ["env", f"--chdir={cwd}", *minilean_argv(library_size=library_size)]
        backend = make_backend("criu", argv=argv, freeze="eager", tactic_timeout=timeout)
        async with backend:
            t0 = time.perf_counter()
            root = await backend.open(target)
            result["open_s"] = time.perf_counter() - t0
            if not root.ok:
                raise BenchError(f"the criu backend could not open {theorem}: {root.message}")
            chosen = [p.tactic for p in proposer.propose(list(root.goals or ()), rng=np.random.default_rng(0))]
            # the proposer offers few tactics at some roots: pad to K with common ones (some may fail, as in a search)
            chosen = list(dict.fromkeys([*chosen, *PADDING]))[:tactics]
            # the backend's own lookup when it has one (a state may live in an image shared with siblings)
            root_image = backend._image_of(root.handle) if hasattr(backend, "_image_of") else root.handle.image
            result["root_image_bytes"] = root_image.nbytes
            before = backend.timings.as_dict()
            profiler = Profiler(interval=0.0005, async_mode="enabled")
            t0, c0 = time.perf_counter(), time.process_time()
            profiler.start()
            outs = await backend.expand(root.handle, chosen)
            profiler.stop()
            result["expand_s"] = time.perf_counter() - t0
            result["cryo_cpu_s"] = time.process_time() - c0
            after = backend.timings.as_dict()
            result["tactics"] = chosen
            result["outcomes"] = [o.kind.value for o in outs]
            result["backend_timings_s"] = {k: after[k] - before.get(k, 0.0) for k in after
                                           if isinstance(after[k], (int, float)) and not k.endswith("_n")
                                           and after[k] != before.get(k, 0.0)}
            result["backend_settings"] = {k: v for k, v in backend.settings().items() if k != "argv"}
            result["text"] = profiler.output_text(unicode=False, color=False)
            (out / "profile.html").write_text(profiler.output_html(), encoding="utf-8")
            result["phases_s"] = _phases(profiler.last_session, result["expand_s"])
            result["thaw_trial"] = _thaw_trial(root_image, root.handle.proof_state, chosen,
                                               repeat=trial_repeat, timeout=timeout)

    cwd = tempfile.mkdtemp(prefix="cryo-bench-cwd-")
    try:
        anyio.run(main)
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    (out / "profile.txt").write_text(result["text"], encoding="utf-8")
    return result


_REPO = str(Path(__file__).resolve().parents[2]) + "/"


def _relative(line: str) -> str:
    """A profile line with this checkout's absolute path cut to a path relative to the repository, so a report
    names no machine path."""
    return line.replace(_REPO, "")


def profile_markdown(res: dict[str, Any]) -> str:
    lib = res["library_size"] if res["library_size"] is not None else "default (3000)"
    timings = ", ".join(f"{k} {v:.3f} s" for k, v in res["backend_timings_s"].items())
    lines = [
        f"One eager criu expansion of `{res['theorem']}` (MiniLean, library size {lib}, root image "
        f"{res['root_image_bytes'] / 1e6:.0f} MB): {len(res['tactics'])} tactics {res['tactics']} -> "
        f"{res['outcomes']}; wall {res['expand_s']:.3f} s (opening the root took {res['open_s']:.2f} s). "
        f"Backend settings {res.get('backend_settings', {})}; its timings (seconds, summed over the clones): "
        f"{timings}. CPU time of the cryo process itself during the "
        f"expansion: {res['cryo_cpu_s']:.3f} s ({100 * res['cryo_cpu_s'] / res['expand_s']:.0f}% of the wall); the "
        "rest is waiting for criu and the clones.",
        "",
        f"The same {len(res['tactics'])} tactics, one per copy, without freezing, thawing "
        f"{len(res['tactics'])} copies of the root at once eagerly: {res['thaw_trial']['median_s']['eager']:.3f} s, "
        "lazily (userfaultfd, pages on demand): "
        f"{res['thaw_trial']['median_s']['lazy']:.3f} s (medians of {len(res['thaw_trial']['samples_s']['lazy'])}).",
        "",
        "Wall seconds under each phase of the expansion in the cryo process (pyinstrument, async mode; phases "
        "overlap since the clones run concurrently; a restore is awaited in a task of its own, so the thaw row "
        "shows only its start-up -- the backend timings above hold the full restore times):",
        "",
        "| phase | wall s | share of the expansion |",
        "|---|---|---|",
    ]
    lines += [f"| {k} | {v:.3f} | {100 * v / res['expand_s']:.0f}% |" for k, v in res["phases_s"].items()]
    tree = [_relative(line) for line in res["text"].splitlines() if line.strip()][:45]
    lines += ["", "The profile (top of the call tree; full: profile.txt, profile.html):", "", "```", *tree, "```"]
    return "\n".join(lines)
