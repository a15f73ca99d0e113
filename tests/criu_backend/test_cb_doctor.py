"""cryo doctor's checks on this machine, and how problems are reported."""

from __future__ import annotations

from criu_backend.doctor import FAIL, OK, WARN, Check, broken, format_checks, run_checks


def test_this_machine_is_ready(criu):
    checks = run_checks()
    names = {c.name: c for c in checks}
    assert not broken(checks), format_checks(checks)
    for name in ("checkpoint/restore", "pid namespaces", "userfaultfd", "privileges", "criu", "criu check",
                 "unshare --pid", "image root"):
        assert names[name].status in (OK, WARN), names[name]
    assert criu.version in names["criu"].detail


def test_problems_are_printed_with_their_fix_and_fail_the_run():
    checks = [Check("criu", FAIL, "no criu found", "run `make setup`"), Check("image root", WARN, "not tmpfs", "x"),
              Check("kernel", OK, "Linux")]
    text = format_checks(checks)
    assert "[FAIL] criu: no criu found\n       fix: run `make setup`" in text
    assert "1 problem(s) must be fixed" in text
    assert broken(checks) and not broken(checks[1:])
