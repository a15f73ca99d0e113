"""Session-wide guarantees for every test package.

* Images go to a private root for this test session (``CRYO_IMAGE_ROOT``), on tmpfs.
* After the whole session, no process of ours is left and the image root is empty.  A leak fails the run.
  "Ours" means a descendant of pytest, or any process whose environment carries this session's marker
  ``CRYO_TEST_SESSION`` (set here, inherited by everything the tests start, and restored by CRIU with the
  rest of a frozen process) -- so concurrent test runs on one machine never count each other's processes.
* MiniLean's premise-index cache (library storage ``mmap``) is a private directory of this session
  (``CRYO_MINILEAN_CACHE``), removed at the end.
* ``criu`` fixture: the CRIU binary; *fails* (never skips) when CRIU is missing or broken.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

import psutil
import pytest

#: The real repl's recorded sessions, copied into the repository (see its PROVENANCE.md).
REPL_TRANSCRIPTS = Path(__file__).resolve().parent / "data" / "repl-transcripts"
SESSION_ENV = "CRYO_TEST_SESSION"


def _carries_marker(proc: psutil.Process, marker: str, started_after: float) -> bool:
    try:
        if proc.create_time() < started_after:
            return False
        return proc.environ().get(SESSION_ENV) == marker
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _leaked(marker: str, started_after: float) -> list[str]:
    me = psutil.Process()
    found: dict[int, psutil.Process] = {p.pid: p for p in me.children(recursive=True)}
    for proc in psutil.process_iter():
        if proc.pid != me.pid and _carries_marker(proc, marker, started_after):
            found.setdefault(proc.pid, proc)
    rows = []
    for pid, proc in sorted(found.items()):
        try:
            rows.append(f"pid {pid} ({proc.status()}): {' '.join(proc.cmdline())[:200]}")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return rows


def pytest_configure(config: pytest.Config) -> None:
    session = uuid.uuid4().hex
    # The session id, not the pid, names the root: pids repeat across pid namespaces.
    root = Path(os.environ.get("CRYO_TEST_IMAGE_ROOT", f"/dev/shm/cryo-test-{session[:12]}"))
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ["CRYO_IMAGE_ROOT"] = str(root)
    os.environ[SESSION_ENV] = session
    cache = Path(f"/tmp/cryo-test-minilean-cache-{session[:12]}")
    os.environ["CRYO_MINILEAN_CACHE"] = str(cache)
    config._cryo_minilean_cache = cache  # type: ignore[attr-defined]
    config._cryo_image_root = root  # type: ignore[attr-defined]
    config._cryo_started = time.time() - 1.0  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's image root even when no test ran (e.g. collection failed)."""
    for attr in ("_cryo_image_root", "_cryo_minilean_cache"):
        path = getattr(config, attr, None)
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def no_leaks_after_session(request: pytest.FixtureRequest):
    """Fail the session if any process or image directory of ours outlives the tests."""
    yield
    config = request.config
    started = config._cryo_started  # type: ignore[attr-defined]
    root: Path = config._cryo_image_root  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5.0
    marker = os.environ[SESSION_ENV]
    leaked = _leaked(marker, started)
    while leaked and time.monotonic() < deadline:
        time.sleep(0.1)
        leaked = _leaked(marker, started)
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
def repl_transcripts() -> Path:
    """``tests/data/repl-transcripts``: the real repl's recorded sessions, kept in the repository.
    Fails -- never skips -- when the directory is missing (a broken checkout)."""
    if not (REPL_TRANSCRIPTS / "proof_step.in").is_file():
        pytest.fail(f"{REPL_TRANSCRIPTS} is missing or incomplete: the checkout is broken", pytrace=False)
    return REPL_TRANSCRIPTS


@pytest.fixture(scope="session")
def shared_dir(repl_transcripts: Path) -> Path:
    """The directory that holds ``repl-transcripts`` (``tests/data``), for tests that still spell the path as
    ``shared_dir / "repl-transcripts"``; new tests use :func:`repl_transcripts`."""
    return repl_transcripts.parent
