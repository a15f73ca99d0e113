"""Recorded repl sessions: ``X.in`` (requests) and ``X.expected.out`` (the real repl's replies).

* ``load_transcript`` reads both files the way the repl reads its input: lines up to a blank line make one
  request, joined with their line ends trimmed (so a raw newline inside a string disappears, as in the repl);
  requests starting with ``#`` or ``--`` are comments and get no reply.
* ``check_transcripts`` runs the requests through a repl and compares each reply with the recording as JSON
  values (key order ignored), with a readable diff.  It runs in a temporary copy of the transcript directory,
  laid out as the repl's own test runner does (``<tmp>/test/`` is the copy, the repl runs in ``<tmp>``, so
  requests naming ``test/X.lean`` work); every top-level entry is also linked at ``<tmp>/<name>``.
* ``replay`` (``python -m lean_env.transcripts replay X``) is a process that answers requests with the
  recorded bytes -- a real peer for testing clients without Lean.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shutil
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence, TextIO

from lean_env.errors import ProtocolError, ReplError, TranscriptError
from lean_env.framing import split_frames

__all__ = [
    "RawRequest",
    "RecordedReply",
    "Transcript",
    "resolve_transcript",
    "split_requests",
    "load_transcript",
    "find_transcripts",
    "json_diff",
    "RequestResult",
    "TranscriptResult",
    "check_transcripts",
    "replay",
    "replay_argv",
    "main",
]

IN_SUFFIX = ".in"
OUT_SUFFIX = ".expected.out"
WORKDIR_NAME = "test"  # the repl's test runner keeps transcripts in test/ and runs from its parent
TRANSCRIPT_PLACEHOLDER = "{transcript}"  # in a repl argv: replaced by the checked transcript's X.in path


@dataclass(frozen=True)
class RawRequest:
    """One request of an ``.in`` file: its text as written, the text the repl parses, and where it is."""

    raw: bytes  # the lines as written, each with its line end
    query: str  # lines with line ends trimmed and joined, as the repl's getLines builds it
    line: int  # 1-based line of its first line in the file
    obj: Any  # the parsed JSON (dict); None when ``error`` is set
    error: str | None = None  # why the repl could not parse it (the repl would exit here)

    def wire(self) -> bytes:
        """The bytes to send: the lines as written and one blank line."""
        return self.raw + b"\n"


@dataclass(frozen=True)
class RecordedReply:
    """One reply of an ``.expected.out`` file: the exact bytes the repl wrote and the JSON value."""

    raw: bytes  # the frame text followed by the blank line, exactly as recorded
    obj: Any


@dataclass(frozen=True)
class Transcript:
    name: str
    in_path: Path
    expected_path: Path | None  # None when the recording has no replies file
    requests: tuple[RawRequest, ...]
    replies: tuple[RecordedReply, ...] | None  # None when there is no .expected.out

    @property
    def directory(self) -> Path:
        return self.in_path.parent


def resolve_transcript(spec: str | os.PathLike) -> tuple[Path, Path]:
    """``(X.in, X.expected.out)`` for ``X``, ``X.in`` or ``X.expected.out``; ``TranscriptError`` if no ``X.in``."""
    text = os.fspath(spec)
    for suffix in (OUT_SUFFIX, IN_SUFFIX):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
            break
    in_path = Path(text + IN_SUFFIX)
    if not in_path.is_file():
        raise TranscriptError(f"transcript {spec}: {in_path} does not exist (give X, X.in or X.expected.out)")
    return in_path, Path(text + OUT_SUFFIX)


def split_requests(data: bytes, *, source: str = "<input>") -> list[RawRequest]:
    """The requests of an ``.in`` file, read as the repl reads stdin (comments dropped, EOF ends the last)."""
    requests: list[RawRequest] = []
    lines = data.splitlines(keepends=True)
    chunk: list[bytes] = []
    first = 0
    for number, line in enumerate(lines + [b""], start=1):
        if line.strip():
            if not chunk:
                first = number
            chunk.append(line)
            continue
        if not chunk:
            continue
        raw = b"".join(chunk)
        if not raw.endswith(b"\n"):
            raw += b"\n"
        chunk = []
        try:
            query = "".join(piece.decode("utf-8").rstrip() for piece in raw.splitlines())
        except UnicodeDecodeError as e:
            raise TranscriptError(f"{source}:{first}: request is not UTF-8: {e}") from e
        if query.startswith("#") or query.startswith("--"):
            continue
        try:
            obj, error = json.loads(query), None
        except ValueError as e:
            obj, error = None, f"{source}:{first}: request is not valid JSON: {e}"
        requests.append(RawRequest(raw=raw, query=query, line=first, obj=obj, error=error))
    return requests


def _split_replies(data: bytes, *, source: str) -> list[RecordedReply]:
    frames, rest = split_frames(data)
    if rest.strip():
        frames.append(rest.rstrip(b"\r\n"))
    replies = []
    for index, frame in enumerate(frames):
        try:
            obj = json.loads(frame.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise TranscriptError(f"{source}: reply {index + 1} is not valid JSON: {e}") from e
        # the repl writes `IO.println json` and then "\n": the frame and a blank line
        replies.append(RecordedReply(raw=frame + b"\n\n", obj=obj))
    return replies


def load_transcript(spec: str | os.PathLike) -> Transcript:
    """Read ``X.in`` and, when present, ``X.expected.out``."""
    in_path, out_path = resolve_transcript(spec)
    requests = split_requests(in_path.read_bytes(), source=str(in_path))
    replies = None
    if out_path.is_file():
        replies = tuple(_split_replies(out_path.read_bytes(), source=str(out_path)))
    return Transcript(
        name=in_path.name[: -len(IN_SUFFIX)],
        in_path=in_path,
        expected_path=out_path if replies is not None else None,
        requests=tuple(requests),
        replies=replies,
    )


def find_transcripts(root: str | os.PathLike) -> list[Path]:
    """Every ``X.in`` under ``root`` (sorted in C order, as the repl's runner does), as paths."""
    return sorted(Path(root).rglob("*" + IN_SUFFIX), key=lambda p: os.fsencode(p))


# ------------------------------------------------------------------------------------------------ checking


def _pretty(obj: Any) -> list[str]:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=1).splitlines()


def json_diff(expected: Any, got: Any, *, context: int = 3) -> str:
    """A unified diff of two JSON values, keys sorted (empty when they are equal as JSON values)."""
    left, right = _pretty(expected), _pretty(got)
    if left == right:
        return ""
    lines = difflib.unified_diff(left, right, "expected", "got", n=context, lineterm="")
    return "\n".join(lines)


@dataclass
class RequestResult:
    index: int  # 0-based
    line: int
    request: str
    expected: Any = None  # None when the recording has no reply for it
    got: Any = None
    error: str | None = None  # transport failure or unparseable reply
    diff: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and self.expected is not None and not self.diff


@dataclass
class TranscriptResult:
    transcript: Transcript
    results: list[RequestResult] = field(default_factory=list)
    problem: str | None = None  # e.g. no .expected.out, reply count mismatch
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.problem is None and all(r.ok for r in self.results)

    def report(self, out: TextIO, *, verbose: bool = False) -> None:
        t = self.transcript
        status = "PASS" if self.ok else "FAIL"
        passed = sum(r.ok for r in self.results)
        out.write(f"{status} {t.in_path} ({passed}/{len(t.requests)} replies match, {self.seconds:.2f} s)\n")
        if self.problem:
            out.write(f"  {self.problem}\n")
        for r in self.results:
            if r.ok and not verbose:
                continue
            head = f"  request {r.index + 1} (line {r.line}): {r.request}"
            if r.ok:
                out.write(head + ": ok\n")
            elif r.error:
                out.write(head + "\n" + textwrap.indent(r.error, "    ") + "\n")
            elif r.expected is None:
                out.write(head + "\n    the recording has no reply for this request; got:\n")
                out.write("    " + json.dumps(r.got, ensure_ascii=False)[:2000] + "\n")
            else:
                out.write(head + "\n" + "\n".join("    " + line for line in r.diff.splitlines()) + "\n")


def _short(text: str, limit: int = 160) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _prepare_workdir(transcripts: Sequence[Transcript], root: Path) -> Path:
    """Copy each transcript directory to ``root/test`` (once) and link its entries at ``root``; return ``root``."""
    dirs = {t.directory.resolve() for t in transcripts}
    if len(dirs) != 1:
        raise TranscriptError(
            "transcripts checked together must come from one directory (they share a working copy); got "
            + ", ".join(sorted(map(str, dirs)))
        )
    (source,) = dirs
    target = root / WORKDIR_NAME
    shutil.copytree(source, target, symlinks=True)
    for dirpath, _dirnames, filenames in os.walk(target):
        os.chmod(dirpath, 0o755)  # the source may be read-only; pickleTo writes here
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, 0o644)
    for entry in target.iterdir():
        link = root / entry.name
        if not link.exists():
            link.symlink_to(Path(WORKDIR_NAME) / entry.name)
    return root


def check_transcripts(
    specs: Sequence[str | os.PathLike],
    *,
    argv: Sequence[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
    memory_limit: int | None = None,
    keep_workdir: bool = False,
    log: TextIO | None = None,
) -> list[TranscriptResult]:
    """Run each transcript's requests through a fresh repl (``argv``; default: the embedded prover) and compare.

    All transcripts share one temporary working copy and run in the given order (so one may unpickle what an
    earlier one pickled).  ``{transcript}`` in an argument of ``argv`` is replaced by the transcript's own
    ``X.in`` path (e.g. to check each transcript against its replay).  A transport failure ends that
    transcript and is reported, not raised.
    """
    from lean_env.client import ReplClient
    from lean_env.repl_cmd import minilean_argv

    argv = list(argv) if argv else minilean_argv()
    transcripts = [load_transcript(s) for s in specs]
    if not transcripts:
        return []
    results: list[TranscriptResult] = []
    tmp = Path(tempfile.mkdtemp(prefix="cryo-transcript-"))
    try:
        workdir = _prepare_workdir(transcripts, tmp)
        for t in transcripts:
            result = TranscriptResult(transcript=t)
            results.append(result)
            started = time.monotonic()
            if t.replies is None:
                result.problem = f"no recorded replies: {t.in_path.with_name(t.name + OUT_SUFFIX)} does not exist"
            elif len(t.replies) != len(t.requests):
                result.problem = f"the recording has {len(t.replies)} replies for {len(t.requests)} requests"
            bad = next((r for r in t.requests if r.error), None)
            if bad is not None:
                result.problem = f"{bad.error} (the repl exits on such a request)"
            try:
                this_argv = [a.replace(TRANSCRIPT_PLACEHOLDER, str(t.in_path)) for a in argv]
                with ReplClient.spawn(this_argv, cwd=workdir, env=env, timeout=timeout, memory_limit=memory_limit) as c:
                    for index, req in enumerate(t.requests):
                        if req.error:
                            break
                        rr = RequestResult(index=index, line=req.line, request=_short(req.query))
                        result.results.append(rr)
                        if t.replies is not None and index < len(t.replies):
                            rr.expected = t.replies[index].obj
                        try:
                            raw = c.request_raw(req.wire(), timeout=timeout, label=req.query)
                            rr.got = json.loads(raw.decode("utf-8"))
                        except (ProtocolError, ValueError, UnicodeDecodeError) as e:
                            rr.error = f"{type(e).__name__}: {e}"
                            break
                        except ReplError as e:
                            rr.error = f"{type(e).__name__}: {e}"
                            break
                        if rr.expected is not None:
                            rr.diff = json_diff(rr.expected, rr.got)
            except ReplError as e:
                result.problem = f"could not run the repl {this_argv}: {e}"
            result.seconds = time.monotonic() - started
            if log is not None:
                result.report(log)
    finally:
        if keep_workdir:
            if log is not None:
                log.write(f"working copy kept at {tmp}\n")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return results


# ------------------------------------------------------------------------------------------------ replaying


def replay_argv(spec: str | os.PathLike, *, any_order: bool = False, python: str | None = None) -> list[str]:
    """The command line of a replay peer for transcript ``spec``."""
    argv = [python or sys.executable, "-m", "lean_env.transcripts", "replay", os.fspath(spec)]
    if any_order:
        argv.append("--any-order")
    return argv


def _read_query(stdin) -> tuple[str, bytes] | None:
    """One request as the repl reads it (lines up to a blank one, trimmed and joined); ``None`` at EOF."""
    parts: list[str] = []
    raw = bytearray()
    while True:
        line = stdin.readline()
        raw += line
        if not line.strip():
            if not parts and not line:
                return None
            if not parts:
                # the repl would try to parse the lone blank line; treat it as a separator
                if not line:
                    return None
                continue
            return "".join(parts), bytes(raw)
        parts.append(line.decode("utf-8", errors="replace").rstrip())


def replay(spec: str | os.PathLike, *, any_order: bool = False, stdin=None, stdout=None, stderr=None) -> int:
    """Answer requests from ``stdin`` with the recorded replies of ``spec``; return the exit status.

    Strict by default: request ``i`` must equal (as a JSON value) the recorded request ``i``.  With
    ``any_order`` a request gets the reply of the first unused recorded request equal to it.  A request the
    recording cannot answer ends the process with status 2 and says why on stderr; invalid JSON ends it with
    status 1, as in the repl.
    """
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    stderr = stderr or sys.stderr
    t = load_transcript(spec)
    if t.replies is None:
        stderr.write(f"replay: {t.in_path}: no {OUT_SUFFIX} file to replay\n")
        return 2
    pairs = [(r.obj, rep) for r, rep in zip((q for q in t.requests if q.error is None), t.replies)]
    used = [False] * len(pairs)
    position = 0
    while True:
        got = _read_query(stdin)
        if got is None:
            return 0
        query, _raw = got
        if query.startswith("#") or query.startswith("--"):
            continue
        try:
            obj = json.loads(query)
        except ValueError as e:
            stderr.write(f"uncaught exception: {json.dumps({'message': 'Could not parse JSON:' + chr(10) + str(e)})}\n")
            return 1
        if any_order:
            index = next((i for i, (o, _) in enumerate(pairs) if not used[i] and o == obj), None)
        else:
            index = position if position < len(pairs) and pairs[position][0] == obj else None
        if index is None:
            if not any_order and position < len(pairs):
                expected = json.dumps(pairs[position][0], ensure_ascii=False)
                why = f"request {position + 1} of the recording is {expected}"
            else:
                why = "the recording has no unused request equal to it"
            stderr.write(f"replay {t.in_path}: cannot answer {json.dumps(obj, ensure_ascii=False)}: {why}\n")
            stderr.flush()
            return 2
        used[index] = True
        position = index + 1
        stdout.write(pairs[index][1].raw)
        stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lean_env.transcripts", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("replay", help="answer repl requests on stdin from a recorded transcript")
    p.add_argument("transcript", help="X, X.in or X.expected.out")
    p.add_argument("--any-order", action="store_true", help="match requests to recorded ones in any order")
    args = parser.parse_args(argv)
    try:
        return replay(args.transcript, any_order=args.any_order)
    except TranscriptError as e:
        print(f"replay: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
