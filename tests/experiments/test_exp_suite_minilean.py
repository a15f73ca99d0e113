"""Every bundled theorem is accepted by MiniLean exactly as stated: it elaborates with one `sorry` warning."""

from __future__ import annotations

from experiments.suites import load_suite


def test_every_suite_theorem_elaborates_with_one_sorry():
    from lean_env.client import ReplClient
    from lean_env.protocol import Command, CommandResponse
    from lean_env.repl_cmd import minilean_argv

    problems = []
    thms = load_suite()
    with ReplClient.spawn(minilean_argv(), timeout=60) as client:
        for t in thms:
            resp = client.request(Command(cmd=t.source))
            if not isinstance(resp, CommandResponse):
                problems.append(f"{t.name}: {resp}")
                continue
            errors = [m.data for m in resp.messages if m.severity == "error"]
            warnings = [m.data for m in resp.messages if m.severity == "warning"]
            if errors or len(resp.sorries) != 1 or warnings != ["declaration uses `sorry`"]:
                problems.append(f"{t.name}: errors {errors}, warnings {warnings}, sorries {len(resp.sorries)}")
    assert not problems, "\n".join(problems)
    assert len(thms) >= 100
