"""Helpers for MiniLean tests: a real MiniLean process spoken to over the repl protocol."""

from __future__ import annotations

import json
import subprocess
import sys

SMALL_LIBRARY = 40


class Repl:
    """A MiniLean process spoken to with blank-line framed JSON."""

    def __init__(self, cwd, library_size: int = SMALL_LIBRARY) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "lean_env.minilean", "--library-size", str(library_size)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=cwd, encoding="utf-8")

    def send(self, req: dict) -> dict:
        self.proc.stdin.write(json.dumps(req, ensure_ascii=False) + "\n\n")
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self.proc.stdout.readline()
            if line == "":
                raise RuntimeError("minilean exited: " + self.proc.stderr.read())
            if line.strip() == "":
                if lines:
                    break
                continue
            lines.append(line)
        return json.loads("".join(lines))

    def cmd(self, text: str, env: int | None = None, **kw) -> dict:
        req = {"cmd": text, **kw}
        if env is not None:
            req["env"] = env
        return self.send(req)

    def tac(self, text: str, ps: int) -> dict:
        return self.send({"tactic": text, "proofState": ps})

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
