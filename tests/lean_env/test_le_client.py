"""The client on real processes: the replay peer (the real repl's recorded bytes), and small misbehaving peers
for the timeout, crash, out-of-memory and malformed-reply paths -- sync and async.  No mocks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
import psutil
import pytest

from lean_env.client import (
    AsyncReplClient,
    ProtocolError,
    ReplClient,
    ReplCrashed,
    ReplError,
    ReplOutOfMemory,
    ReplTimeout,
)
from lean_env.protocol import Command, CommandResponse, ErrorResponse, ProofStepResponse, parse_request, to_json
from lean_env.transcripts import load_transcript, replay_argv

PEER = [sys.executable, str(Path(__file__).with_name("misbehaving_repl.py"))]


def gone(pid: int) -> bool:
    """The process is neither running nor a zombie waiting to be reaped."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_DEAD
    except psutil.NoSuchProcess:
        return True


def replayable(paths):
    out = []
    for p in paths:
        t = load_transcript(p)
        if t.replies is not None and len(t.replies) == len(t.requests) and t.requests:
            out.append(t)
    return out


# ---------------------------------------------------------------------------------------------- happy paths


def test_sync_client_reproduces_every_recorded_reply(all_transcripts):
    transcripts = replayable(all_transcripts)
    assert len(transcripts) >= 40
    for t in transcripts:
        with ReplClient.spawn(replay_argv(t.in_path), timeout=30) as client:
            for req, rec in zip(t.requests, t.replies):
                reply = client.request(parse_request(req.obj))
                assert to_json(reply) == rec.obj, t.in_path
            pid = client.pid
        assert gone(pid)


def test_async_client_reproduces_every_recorded_reply_concurrently(all_transcripts):
    transcripts = replayable(all_transcripts)
    pids = []

    async def run_one(t, limiter):
        async with limiter:
            async with await AsyncReplClient.spawn(replay_argv(t.in_path), timeout=30) as client:
                pids.append(client.pid)
                for req, rec in zip(t.requests, t.replies):
                    reply = await client.request(parse_request(req.obj))
                    assert to_json(reply) == rec.obj, t.in_path

    async def main():
        limiter = anyio.CapacityLimiter(4)
        async with anyio.create_task_group() as tg:
            for t in transcripts:
                tg.start_soon(run_one, t, limiter)

    anyio.run(main)
    assert len(pids) == len(transcripts) and all(gone(p) for p in pids)


def test_helpers_build_the_right_requests(transcripts_dir):
    path = transcripts_dir / "pickle_environment"
    with ReplClient.spawn(replay_argv(path)) as c:
        assert c.command("def f := 42") == CommandResponse(env=0)
        assert c.pickle_to("test/a.olean", env=0).env == 0
        assert c.unpickle_env("test/a.olean").env == 1
        assert c.command("example : f = 42 := by rfl", env=1).env == 2
    path = transcripts_dir / "proof_step"
    with ReplClient.spawn(replay_argv(path)) as c:
        first = c.command("def f : Nat := by sorry")
        assert first.sorries[0].proof_state == 0
        step = c.tactic("apply Int.natAbs", 0)
        assert isinstance(step, ProofStepResponse) and step.goals == ("⊢ Int",)
    with ReplClient.spawn(replay_argv(transcripts_dir / "unknown_environment")) as c:
        with pytest.raises(ValueError, match="exactly one of env= or proof_state="):
            c.pickle_to("x.olean")
        assert c.command("def f : Nat := by sorry", env=5) == ErrorResponse(message="Unknown environment.")


def test_async_requests_from_many_tasks_are_answered_in_turn():
    async def main():
        async with await AsyncReplClient.spawn(PEER, timeout=30) as c:
            results = {}

            async def ask(i):
                results[i] = await c.command(f"echo {i}")

            async with anyio.create_task_group() as tg:
                for i in range(20):
                    tg.start_soon(ask, i)
            assert sorted(r.env for r in results.values()) == list(range(20))
            assert all(r.messages[0].data == f"echo {i}" for i, r in results.items())

    anyio.run(main)


def test_large_unicode_multiline_replies_and_chatty_stderr():
    with ReplClient.spawn(PEER, timeout=30) as c:
        reply = c.command("big 3000000")
        assert len(reply.goals[0]) > 2_900_000 and "ℕ ∧ ⊢" in reply.goals[0]
        assert c.command("stderr 512").messages[0].data == "stderr 512"  # 512 KiB: more than a pipe holds
        assert c.stderr_tail().endswith("e" * 100)

    async def main():
        async with await AsyncReplClient.spawn(PEER, timeout=30) as c:
            reply = await c.command("big 3000000")
            assert len(reply.goals[0]) > 2_900_000
            assert (await c.command("stderr 512")).env == 1

    anyio.run(main)


# ----------------------------------------------------------------------------------------------- failures


def test_timeout_kills_the_process_and_names_the_request():
    c = ReplClient.spawn(PEER, timeout=30)
    with c:
        assert c.command("echo warm").env == 0
        with pytest.raises(ReplTimeout) as info:
            c.command("sleep 60", timeout=0.3)
        assert "sleep 60" in str(info.value) and info.value.timeout == 0.3
        assert gone(c.pid)
        with pytest.raises(ReplCrashed, match="unusable after an earlier failure"):
            c.command("echo again")


def test_async_timeout_kills_the_process():
    async def main():
        async with await AsyncReplClient.spawn(PEER, timeout=0.3) as c:
            with pytest.raises(ReplTimeout, match="sleep 60"):
                await c.command("sleep 60")
            assert gone(c.pid)

    anyio.run(main)


@pytest.mark.parametrize("use_async", [False, True])
def test_crash_reports_exit_code_and_stderr_tail(use_async):
    async def run_async():
        async with await AsyncReplClient.spawn(PEER) as c:
            await c.command("crash 3")

    if use_async:
        with pytest.raises(ReplCrashed) as info:
            anyio.run(run_async)
    else:
        with ReplClient.spawn(PEER) as c, pytest.raises(ReplCrashed) as info:
            c.command("crash 3")
    err = info.value
    assert err.returncode == 3 and "boom: crash 3" in err.stderr_tail
    assert "exit code 3" in str(err) and "boom: crash 3" in str(err) and "crash 3" in err.request
    assert gone(err.pid)


def test_eof_in_the_middle_of_a_reply_shows_the_partial_reply():
    with ReplClient.spawn(PEER) as c, pytest.raises(ReplCrashed) as info:
        c.command("die-mid-reply")
    assert info.value.returncode == 7
    assert '"messages": [' in str(info.value)


def test_a_process_that_closes_stdout_but_lingers_is_killed():
    with ReplClient.spawn(PEER) as c, pytest.raises(ReplCrashed) as info:
        c.command("close-stdout")
    assert info.value.returncode == -9 and "killed by SIGKILL" in str(info.value)
    assert gone(c.pid)


@pytest.mark.parametrize("use_async", [False, True])
def test_out_of_memory_is_an_error_not_a_hung_machine(use_async):
    limit = 120 * 2**20

    async def run_async():
        async with await AsyncReplClient.spawn(PEER, memory_limit=limit, timeout=60) as c:
            await c.command("alloc 100000")

    if use_async:
        with pytest.raises(ReplOutOfMemory) as info:
            anyio.run(run_async)
    else:
        with ReplClient.spawn(PEER, memory_limit=limit, timeout=60) as c, pytest.raises(ReplOutOfMemory) as info:
            c.command("alloc 100000")
    err = info.value
    assert err.rss > limit and err.limit == limit and isinstance(err, ReplCrashed)
    assert "memory cap" in str(err) and "alloc 100000" in str(err)
    assert err.rss < 2 * 2**30  # caught early, long before the 100 GB the peer asked for
    assert gone(err.pid)


def test_memory_under_the_cap_is_fine():
    with ReplClient.spawn(PEER, memory_limit=400 * 2**20) as c:
        assert c.command("alloc 50").env == 0


@pytest.mark.parametrize("cmd", ["garbage", "not-a-reply"])
@pytest.mark.parametrize("use_async", [False, True])
def test_malformed_reply_raises_protocol_error_with_raw_text(cmd, use_async):
    async def run_async():
        async with await AsyncReplClient.spawn(PEER) as c:
            try:
                await c.command(cmd)
            finally:
                pids.append(c.pid)

    pids: list[int] = []
    if use_async:
        with pytest.raises(ProtocolError) as info:
            anyio.run(run_async)
    else:
        with ReplClient.spawn(PEER) as c, pytest.raises(ProtocolError) as info:
            pids.append(c.pid)
            c.command(cmd)
    expected_raw = b"PANIC at the disco {not json" if cmd == "garbage" else b'{"hello": "world"}'
    assert info.value.raw == expected_raw
    assert expected_raw.decode() in str(info.value) or "not a repl reply" in str(info.value)
    assert all(gone(p) for p in pids)


def test_a_command_that_cannot_start_says_so(tmp_path):
    with pytest.raises(ReplCrashed, match="could not start the repl"):
        ReplClient.spawn([str(tmp_path / "no-such-repl")])


def test_a_cancelled_request_owes_its_reply_and_the_next_request_drops_it():
    async def main():
        c = await AsyncReplClient.spawn(PEER, timeout=30)
        try:
            with anyio.move_on_after(0.1) as scope:
                await c.command("sleep 0.5")
            assert scope.cancelled_caught
            assert c.alive and c.owed == 1  # the request was on the wire: the process keeps running
            reply = await c.command("echo after")
            assert c.owed == 0
            # the peer's second answer (env 1), not the cancelled request's (env 0)
            assert reply.env == 1 and reply.messages[0].data == "echo after"
        finally:
            await c.aclose()

    anyio.run(main)


def test_an_owed_reply_that_never_comes_times_out_the_next_request_and_kills():
    async def main():
        c = await AsyncReplClient.spawn(PEER, timeout=30)
        try:
            with anyio.move_on_after(0.2):
                await c.command("sleep 60")
            assert c.owed == 1
            with pytest.raises(ReplTimeout):
                await c.command("echo", timeout=0.3)
            assert gone(c.pid) and not c.alive
        finally:
            await c.aclose()

    anyio.run(main)


def test_resync_drops_owed_replies_or_kills():
    async def main():
        c = await AsyncReplClient.spawn(PEER, timeout=30)
        d = await AsyncReplClient.spawn(PEER, timeout=30)
        try:
            for client, seconds in ((c, "0.3"), (d, "60")):
                with anyio.move_on_after(0.1):
                    await client.command(f"sleep {seconds}")
            assert await c.resync(5.0) is True and c.owed == 0
            assert (await c.command("echo")).env == 1
            assert await d.resync(0.3) is False
            assert gone(d.pid)
            with pytest.raises(ReplCrashed, match="unusable after an earlier failure .request timed out"):
                await d.command("echo")
        finally:
            await c.aclose()
            await d.aclose()

    anyio.run(main)


def test_aclose_is_shielded_from_cancellation():
    async def main():
        c = await AsyncReplClient.spawn(PEER, timeout=30)
        assert (await c.command("echo")).env == 0
        with anyio.CancelScope() as scope:
            scope.cancel()
            await c.aclose()  # runs to completion inside a cancelled scope
        return c.pid

    pid = anyio.run(main)
    assert gone(pid)


# ------------------------------------------------------------------------------------------------- attach


class FdProc:
    """A process exposed the way criu_backend.Proc is: int fds and pid/poll/wait/kill/close."""

    def __init__(self, argv):
        self._p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self._p.pid
        self.stdin, self.stdout, self.stderr = (self._p.stdin.fileno(), self._p.stdout.fileno(),
                                                self._p.stderr.fileno())

    def poll(self):
        return self._p.poll()

    def wait(self, timeout=None):
        return self._p.wait(timeout)

    def kill(self):
        self._p.kill()

    def close(self):
        self._p.kill()
        self._p.wait()
        for f in (self._p.stdin, self._p.stdout, self._p.stderr):
            f.close()


def test_attach_does_not_own_the_process_unless_told(transcripts_dir):
    proc = FdProc(replay_argv(transcripts_dir / "readme"))
    try:
        with ReplClient.attach(proc) as c:
            assert c.command("def f (x : Unit) : Nat := by sorry").env == 0
        assert proc.poll() is None  # still running: the client did not spawn it
        os.set_blocking(proc.stdout, True)
        with ReplClient.attach(proc, owned=True) as c:  # a second client continues the same session
            assert c.tactic("apply Int.natAbs", 0).proof_state == 1
        assert gone(proc.pid)
    finally:
        proc.close()


def test_attached_process_is_killed_on_timeout():
    proc = FdProc(PEER)
    try:

        async def main():
            c = AsyncReplClient.attach(proc, timeout=0.3)
            async with c:
                with pytest.raises(ReplTimeout):
                    await c.command("sleep 30")

        anyio.run(main)
        assert proc.poll() is not None and gone(proc.pid)
    finally:
        proc.close()


def test_attach_to_a_criu_backend_proc(transcripts_dir):
    """The pipes of a process started by criu_backend (unshare --pid): the client only sees its fds."""
    import criu_backend

    with criu_backend.spawn(replay_argv(transcripts_dir / "proof_branching2")) as proc:
        with ReplClient.attach(proc) as c:
            first = c.command("example (p q : Prop) : p ∧ q → q ∧ p := by sorry")
            assert first.sorries[0].proof_state == 0
            assert c.tactic("intro h", 0).goals == ("p q : Prop\nh : p ∧ q\n⊢ q ∧ p",)
        assert proc.poll() is None
    assert gone(proc.pid)


def test_spawned_requests_fail_cleanly_after_close():
    c = ReplClient.spawn(PEER)
    c.close()
    c.close()  # idempotent
    with pytest.raises(ReplError, match="client is closed"):
        c.request(Command(cmd="echo"))


def test_clients_on_a_frozen_and_thawed_repl_continue_its_session(criu, transcripts_dir):
    """Freeze a repl peer mid-session with CRIU; a client on the thawed copy continues where it stood."""
    import criu_backend

    path = transcripts_dir / "proof_branching2"
    recorded = load_transcript(path)
    with criu_backend.ImageStore() as store, criu_backend.spawn(replay_argv(path)) as orig:
        with ReplClient.attach(orig) as c:
            for req in recorded.requests[:3]:
                c.request(parse_request(req.obj))
        image = criu_backend.freeze(orig, store)

        async def continue_on(proc):
            async with AsyncReplClient.attach(proc, timeout=30) as ac:
                return [to_json(await ac.request(parse_request(r.obj))) for r in recorded.requests[3:]]

        with criu_backend.thaw(image) as clone:
            assert anyio.run(continue_on, clone) == [r.obj for r in recorded.replies[3:]]
        assert anyio.run(continue_on, orig) == [r.obj for r in recorded.replies[3:]]


def test_a_request_the_repl_cannot_parse_ends_it_like_the_real_repl(transcripts_dir):
    """The repl throws on unparseable input and exits; the replay peer does the same, and the client says so."""
    with ReplClient.spawn(replay_argv(transcripts_dir / "readme")) as c, pytest.raises(ReplCrashed) as info:
        c.request_raw(b"{not json\n\n")
    assert info.value.returncode == 1 and "Could not parse JSON" in info.value.stderr_tail


def test_memory_of_descendants_counts_and_they_die_too(script):
    """Like `lake env repl`: the repl proper is a child of the spawned process; its memory counts, and the
    kill reaches it."""
    argv = script("""
        import subprocess, sys
        sys.stdin.readline()
        child = subprocess.Popen([sys.executable, "-c",
            "import time\\nh = []\\nwhile True:\\n    h.append(bytearray(10 * 2**20)); time.sleep(0.005)"])
        print(child.pid, file=sys.stderr, flush=True)
        child.wait()
    """)
    with ReplClient.spawn(argv, memory_limit=150 * 2**20, timeout=60) as c, pytest.raises(ReplOutOfMemory) as info:
        c.command("anything")
    child_pid = int(info.value.stderr_tail.split()[0])
    assert gone(info.value.pid)
    # the orphaned grandchild is dead: reaping it is init's job (ours when the tests run as PID 1 of a namespace)
    try:
        os.waitpid(child_pid, 0)
    except ChildProcessError:
        pass
    deadline = time.monotonic() + 5  # SIGKILL is sent; a process holding memory takes a moment to go
    while time.monotonic() < deadline:
        try:
            if psutil.Process(child_pid).status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.01)
    else:
        pytest.fail(f"grandchild {child_pid} still running 5 s after the kill")


def test_requests_larger_than_a_pipe_buffer_are_written_in_pieces():
    text = "echo " + "∧ h" * 700_000  # about 3 MB of UTF-8 -- far more than a 64 KiB pipe buffer
    with ReplClient.spawn(PEER, timeout=60) as c:
        assert c.command(text).messages[0].data == text

    async def main():
        async with await AsyncReplClient.spawn(PEER, timeout=60) as ac:
            return (await ac.command(text)).messages[0].data

    assert anyio.run(main) == text


def test_sync_and_async_clients_share_one_set_of_request_helpers():
    """The helpers are written once (lean_env.client._Requests); only `request` differs between the clients."""
    from lean_env.client import AsyncReplClient

    for name in ("command", "file", "tactic", "pickle_to", "unpickle_env", "unpickle_proof_state"):
        assert getattr(ReplClient, name) is getattr(AsyncReplClient, name)
    assert ReplClient.request is not AsyncReplClient.request
