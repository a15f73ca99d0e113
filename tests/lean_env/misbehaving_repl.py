"""A tiny real repl-protocol peer for client tests. Reads requests as the repl does and answers by `cmd`:

    "echo ..."      -> {"env": n, "messages": [{... "data": <the cmd> ...}]}   (n counts requests)
    "sleep S"       -> sleeps S seconds, then answers like echo
    "crash C"       -> writes "boom: crash C" to stderr and exits with status C
    "die-mid-reply" -> writes half a reply and exits with status 7
    "garbage"       -> answers with a frame that is not JSON
    "not-a-reply"   -> answers with valid JSON that is no repl reply
    "alloc MB"      -> allocates MB MiB (touching every page) in 10 MiB steps, then answers
    "big N"         -> answers with a goal of N characters (unicode), over several lines
    "stderr N"      -> writes N KiB to stderr, then answers
    "close-stdout"  -> closes stdout and keeps running
"""

import json
import os
import sys
import time

out = sys.stdout.buffer
n = 0
hoard = []


def answer(obj, pretty=False):
    text = json.dumps(obj, ensure_ascii=False, indent=1 if pretty else None)
    out.write(text.encode() + b"\n\n")
    out.flush()


def echo(cmd):
    global n
    answer({"env": n, "messages": [{"severity": "info", "pos": {"line": 1, "column": 0},
                                    "endPos": {"line": 1, "column": 1}, "data": cmd}]})
    n += 1


for_lines = []
while True:
    line = sys.stdin.buffer.readline()
    if line.strip():
        for_lines.append(line.decode().rstrip())
        continue
    if not for_lines:
        if not line:
            break
        continue
    query, for_lines = "".join(for_lines), []
    cmd = json.loads(query).get("cmd", "")
    word, _, arg = cmd.partition(" ")
    if word == "sleep":
        time.sleep(float(arg))
        echo(cmd)
    elif word == "crash":
        sys.stderr.write(f"boom: {cmd}\n")
        sys.stderr.flush()
        os._exit(int(arg))
    elif word == "die-mid-reply":
        out.write(b'{"env": 0,\n "messages": [')
        out.flush()
        os._exit(7)
    elif word == "garbage":
        out.write(b"PANIC at the disco {not json\n\n")
        out.flush()
    elif word == "not-a-reply":
        answer({"hello": "world"})
    elif word == "alloc":
        for _ in range(int(arg) // 10):
            hoard.append(bytearray(10 * 2**20))  # zero-filled: every page touched
            time.sleep(0.005)
        echo(cmd)
    elif word == "big":
        answer({"proofState": n, "goals": ["h : " + "ℕ ∧ ⊢ " * (int(arg) // 6)], "proofStatus": "x"}, pretty=True)
        n += 1
    elif word == "stderr":
        sys.stderr.write("e" * 1024 * int(arg))
        sys.stderr.flush()
        echo(cmd)
    elif word == "close-stdout":
        os.close(1)
        time.sleep(60)
    else:
        echo(cmd)
