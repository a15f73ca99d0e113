"""Session-wide guarantees for every test package.

* Images go to a private root for this test session (``CRYO_IMAGE_ROOT``), on tmpfs.
* After the whole session, no process of ours is left (children of pytest, and any minilean / criu /
  ``unshare --pid`` process started during the session) and the image root is empty.  A leak fails the run.
* ``criu`` fixture: the CRIU binary; *fails* (never skips) when CRIU is missing or broken.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import psutil
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
_OUR_MARKERS = ("lean_env.minilean", "criu_backend", "unshare --pid", "/criu/bin/criu", "criu restore", "criu dump")


def _our_process(proc: psutil.Process, started_after: float) -> bool:
    try:
        if proc.create_time() < started_after:
            return False
        cmdline = " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return any(marker in cmdline for marker in _OUR_MARKERS)


def _leaked(started_after: float) -> list[str]:
    me = psutil.Process()
    found: dict[int, psutil.Process] = {p.pid: p for p in me.children(recursive=True)}
    for proc in psutil.process_iter():
        if proc.pid != me.pid and _our_process(proc, started_after):
            found.setdefault(proc.pid, proc)
    rows = []
    for pid, proc in sorted(found.items()):
        try:
            rows.append(f"pid {pid} ({proc.status()}): {' '.join(proc.cmdline())[:200]}")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return rows


def pytest_configure(config: pytest.Config) -> None:
    root = Path(os.environ.get("CRYO_TEST_IMAGE_ROOT", f"/dev/shm/cryo-test-{os.getpid()}"))
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ["CRYO_IMAGE_ROOT"] = str(root)
    config._cryo_image_root = root  # type: ignore[attr-defined]
    config._cryo_started = time.time() - 1.0  # type: ignore[attr-defined]


@pytest.fixture(scope="session", autouse=True)
def no_leaks_after_session(request: pytest.FixtureRequest):
    """Fail the session if any process or image directory of ours outlives the tests."""
    yield
    config = request.config
    started = config._cryo_started  # type: ignore[attr-defined]
    root: Path = config._cryo_image_root  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5.0
    leaked = _leaked(started)
    while leaked and time.monotonic() < deadline:
        time.sleep(0.1)
        leaked = _leaked(started)
    left = sorted(str(p) for p in root.iterdir()) if root.exists() else []
    # Clean up so one leaky run does not poison the next, then report.
    for row in leaked:
        pid = int(row.split()[1])
        try:
            psutil.Process(pid).kill()
        except psutil.NoSuchProcess:
            pass
    shutil.rmtree(root, ignore_errors=True)
    problems = []
    if leaked:
        problems.append("processes left running after the test session:\n  " + "\n  ".join(leaked))
    if left:
        problems.append(f"image directories left under {root}:\n  " + "\n  ".join(left))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def criu():
    """The CRIU binary. Fails -- never skips -- when CRIU is missing or ``criu check`` does not pass."""
    from criu_backend.install import CriuInstallError, criu_check, find_criu

    try:
        binary = find_criu(require=True)
    except CriuInstallError as e:
        pytest.fail(f"CRIU is required for this test and is not usable: {e}", pytrace=False)
    ok, text = criu_check(binary)
    if not ok:
        pytest.fail(f"`criu check` failed with {binary.argv}: {text[-1000:]}", pytrace=False)
    return binary


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout. Fails -- never skips -- when it is missing."""
    if not (SHARED / "repl-transcripts").is_dir():
        pytest.fail(f"{SHARED / 'repl-transcripts'} is missing; CI must provide ../shared", pytrace=False)
    return SHARED
