"""`cryo doctor`: is this machine ready to freeze and thaw processes?  Each check says what is wrong and the fix."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from criu_backend import _sys
from criu_backend.install import CriuInstallError, criu_check, find_criu
from criu_backend.store import BUDGET_ENV, ROOT_ENV, image_root

OK = "ok"
WARN = "warn"
FAIL = "FAIL"
INFO = "info"
MIN_FREE_BYTES = 1 << 30


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK | WARN | FAIL | INFO
    detail: str
    fix: str = ""


def _check_kernel() -> list[Check]:
    checks = [Check("kernel", INFO, f"{platform.system()} {platform.release()} ({platform.machine()})")]
    if platform.system() != "Linux":
        return [Check("kernel", FAIL, f"{platform.system()} is not Linux", "CRIU needs Linux")]
    if Path("/proc/sys/kernel/ns_last_pid").exists() and Path("/proc/self/map_files").exists():
        checks.append(Check("checkpoint/restore", OK, "CONFIG_CHECKPOINT_RESTORE present (ns_last_pid, map_files)"))
    else:
        checks.append(Check("checkpoint/restore", FAIL, "/proc/sys/kernel/ns_last_pid or /proc/self/map_files missing",
                            "use a kernel built with CONFIG_CHECKPOINT_RESTORE=y"))
    if Path("/proc/self/ns/pid").exists():
        checks.append(Check("pid namespaces", OK, "/proc/self/ns/pid present"))
    else:
        checks.append(Check("pid namespaces", FAIL, "no /proc/self/ns/pid", "use a kernel with CONFIG_PID_NS=y"))
    if Path("/proc/sys/vm/unprivileged_userfaultfd").exists() or Path("/dev/userfaultfd").exists():
        checks.append(Check("userfaultfd", OK, "available (lazy restore possible)"))
    else:
        checks.append(Check("userfaultfd", WARN, "not available: no lazy restore",
                            "use a kernel with CONFIG_USERFAULTFD=y (only needed for lazy thaws)"))
    if Path("/sys/kernel/mm/ksm/run").exists():
        run = Path("/sys/kernel/mm/ksm/run").read_text().strip()
        checks.append(Check("KSM", INFO, f"present (run={run}); clones can share identical pages"))
    return checks


def _check_tools() -> list[Check]:
    checks = []
    for tool, why in (("unshare", "spawn runs targets in their own pid namespace"), ("bash", "spawn's stderr hand-over"),
                      ("setsid", "spawn detaches targets from the terminal")):
        path = shutil.which(tool)
        checks.append(Check(tool, OK, path) if path else
                      Check(tool, FAIL, f"{tool} not on PATH ({why})", f"install it (Debian: util-linux / {tool})"))
    return checks


def _check_privileges() -> list[Check]:
    if _sys.can_checkpoint():
        who = "root" if os.geteuid() == 0 else f"uid {os.geteuid()} with the needed capabilities"
        return [Check("privileges", OK, who)]
    return [Check("privileges", FAIL, f"uid {os.geteuid()} lacks CAP_SYS_ADMIN/CAP_CHECKPOINT_RESTORE + CAP_SYS_PTRACE",
                  "run cryo as root (sudo), or grant those capabilities")]


def _check_pidns_spawn() -> list[Check]:
    if not shutil.which("unshare") or not _sys.can_checkpoint():
        return []
    out = subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True, text=True, timeout=30)
    if out.returncode == 0:
        return [Check("unshare --pid", OK, "a new pid namespace can be created")]
    return [Check("unshare --pid", FAIL, f"failed: {out.stderr.strip()[-300:]}",
                  "allow pid namespaces (e.g. run the container privileged / with CAP_SYS_ADMIN)")]


def _check_criu() -> list[Check]:
    try:
        binary = find_criu(require=True)
    except CriuInstallError as e:
        return [Check("criu", FAIL, str(e), "run `make setup` (python -m criu_backend.install) or set CRYO_CRIU")]
    checks = [Check("criu", OK, f"criu {binary.version} at {' '.join(binary.argv)} ({binary.source})")]
    if not _sys.can_checkpoint():
        return checks
    ok, text = criu_check(binary)
    if ok:
        checks.append(Check("criu check", OK, "Looks good"))
    else:
        checks.append(Check("criu check", FAIL, text[-800:], "read criu's complaint above; usually a kernel option"))
    return checks


def _check_image_root() -> list[Check]:
    root = image_root()
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        return [Check("image root", FAIL, f"{root} cannot be created or written ({probe} is not writable)",
                      f"set ${ROOT_ENV} to a writable directory (tmpfs preferred)")]
    st = os.statvfs(probe)
    free = st.f_bavail * st.f_frsize
    checks = []
    mount_type = _mount_type(probe)
    budget = os.environ.get(BUDGET_ENV, "half the filesystem")
    detail = f"{root} on {mount_type}, {free / 2**30:.1f} GiB free, budget {budget} (${BUDGET_ENV})"
    if free < MIN_FREE_BYTES:
        checks.append(Check("image root", FAIL, detail + ": less than 1 GiB free",
                            f"free space or set ${ROOT_ENV} to a larger filesystem"))
    elif mount_type != "tmpfs":
        checks.append(Check("image root", WARN, detail + ": not tmpfs, freezes and thaws pay disk I/O",
                            f"set ${ROOT_ENV}=/dev/shm/cryo"))
    else:
        checks.append(Check("image root", OK, detail))
    return checks


def _mount_type(path: Path) -> str:
    best, kind = "", "?"
    real = str(path.resolve())
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and (real == parts[1] or real.startswith(parts[1].rstrip("/") + "/")):
                if len(parts[1]) >= len(best):
                    best, kind = parts[1], parts[2]
    return kind


def _notes() -> list[Check]:
    return [Check("libuv / lake", INFO,
                  "libuv processes (lake, Lean's repl under `lake env`) are freezable only with UV_USE_IO_URING=0; "
                  "criu_backend.spawn sets it, processes you start yourself need it in their environment")]


def run_checks() -> list[Check]:
    """Every check, in display order."""
    return [*_check_kernel(), *_check_privileges(), *_check_tools(), *_check_pidns_spawn(), *_check_criu(),
            *_check_image_root(), *_notes()]


def format_checks(checks: list[Check]) -> str:
    lines = []
    for c in checks:
        lines.append(f"[{c.status:>4}] {c.name}: {c.detail}")
        if c.fix and c.status in (FAIL, WARN):
            lines.append(f"       fix: {c.fix}")
    failed = sum(c.status == FAIL for c in checks)
    lines.append("all good: cryo can freeze and thaw here" if not failed else f"{failed} problem(s) must be fixed")
    return "\n".join(lines)


def broken(checks: list[Check]) -> bool:
    return any(c.status == FAIL for c in checks)
