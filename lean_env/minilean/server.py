"""The repl loop: blank-line framed JSON requests on stdin, JSON replies (each followed by a blank line)."""

from __future__ import annotations

import json
import os
import pickle
import sys
import traceback

from . import leanjson
from .errors import MiniLeanError
from .expr import bump_ids, subterms
from .frontend import CommandRunner, ProofState, StepFailed, proof_status, run_tactic
from .kernel import Env
from .library import Loader

PICKLE_MAGIC = "minilean-pickle-1"


class ReplServer:
    """The id stores and request dispatch; ids count from 0 and are never reused."""

    def __init__(self, loader: Loader) -> None:
        self.loader = loader
        self.envs: list[Env] = []
        self.states: list[ProofState] = []

    def record_env(self, env: Env) -> int:
        self.envs.append(env)
        return len(self.envs) - 1

    def record_state(self, st: ProofState) -> int:
        self.states.append(st)
        return len(self.states) - 1

    # -- dispatch in the repl's order of attempts
    def handle(self, req: dict) -> dict:
        if _has(req, ("proofState", int), ("tactic", str)):
            return self.proof_step(req)
        if _has(req, ("env", int), ("pickleTo", str)):
            return self.pickle_env(req)
        if _has(req, ("unpickleEnvFrom", str)):
            return self.unpickle_env(req)
        if _has(req, ("proofState", int), ("pickleTo", str)):
            return self.pickle_state(req)
        if _has(req, ("unpickleProofStateFrom", str)):
            return self.unpickle_state(req)
        if _has(req, ("cmd", str)):
            return self.command(req["cmd"], req.get("env"), req)
        if _has(req, ("path", str)):
            try:
                with open(req["path"], encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                return {"message": f"no such file or directory (error code: 2)\n  file: {req['path']}"
                        if isinstance(e, FileNotFoundError) else str(e)}
            return self.command(text, req.get("env"), req)
        raise BadRequest("Could not parse as a valid JSON command:\nno request field matched")

    def command(self, text: str, env_id, req: dict) -> dict:
        env = None
        if env_id is not None:
            if not isinstance(env_id, int) or not 0 <= env_id < len(self.envs):
                return {"message": "Unknown environment."}
            env = self.envs[env_id]
        res = CommandRunner(text, env, self.loader, root_goals=req.get("rootGoals") is True,
                            all_tactics=req.get("allTactics") is True).run()
        out: dict = {}
        sorries = []
        for goal, rng, st in res.sorries:
            sid = self.record_state(st)
            entry = {"proofState": sid, "goal": goal}
            if rng is not None and rng[0] is not None:
                src = __import__("lean_env.minilean.syntax", fromlist=["Source"]).Source(text)
                l1, c1 = src.pos(rng[0])
                l2, c2 = src.pos(rng[1])
                entry["pos"] = {"line": l1, "column": c1}
                entry["endPos"] = {"line": l2, "column": c2}
            sorries.append(entry)
        tactics = []
        for entry, st in res.tactics:
            tactics.append({**entry, "proofState": self.record_state(st)})
        if sorries:
            out["sorries"] = sorries
        if tactics:
            out["tactics"] = tactics
        if res.messages:
            out["messages"] = res.messages
        out["env"] = self.record_env(res.env)
        return out

    def proof_step(self, req: dict) -> dict:
        i = req["proofState"]
        if not 0 <= i < len(self.states):
            return {"message": "Unknown proof state."}
        try:
            new, msgs, sorries = run_tactic(self.states[i], req["tactic"])
        except StepFailed as e:
            return {"message": str(e)}
        return self.step_response(new, msgs, sorries)

    def step_response(self, new: ProofState, msgs, sorries) -> dict:
        out: dict = {}
        ss = []
        for goal, st in sorries:
            ss.append({"proofState": self.record_state(st), "goal": goal})
        if ss:
            out["sorries"] = ss
        out["proofStatus"] = proof_status(new)
        out["proofState"] = self.record_state(new)
        if msgs:
            out["messages"] = msgs
        out["goals"] = new.goal_texts()
        return out

    # -- pickling: a real file holding the imports and the declarations made on top of them
    def pickle_env(self, req: dict) -> dict:
        i = req["env"]
        if not 0 <= i < len(self.envs):
            return {"message": "Unknown environment."}
        env = self.envs[i]
        _write(req["pickleTo"], {"kind": "env", "imports": list(env.imports), "local": env.local,
                                 "options": _picklable_options(env.options)})
        return {"env": i}

    def unpickle_env(self, req: dict) -> dict:
        data = _read(req["unpickleEnvFrom"], "env")
        base = self.loader(data["imports"])
        env = Env(base.base, dict(data["local"]), tuple(data["imports"]), {**base.options, **data["options"]})
        return {"env": self.record_env(env)}

    def pickle_state(self, req: dict) -> dict:
        i = req["proofState"]
        if not 0 <= i < len(self.states):
            return {"message": "Unknown proof State."}
        st = self.states[i]
        _write(req["pickleTo"], {"kind": "state", "imports": list(st.env.imports), "local": st.env.local,
                                 "options": _picklable_options(st.env.options),
                                 "mctx": st.mctx, "goals": st.goals, "roots": st.roots, "aux": st.aux_fids})
        return self.step_response(st, [], [])

    def unpickle_state(self, req: dict) -> dict:
        env_id = req.get("env")
        if env_id is not None and not (isinstance(env_id, int) and 0 <= env_id < len(self.envs)):
            return {"message": "Unknown environment."}
        data = _read(req["unpickleProofStateFrom"], "state")
        if env_id is not None:
            env0 = self.envs[env_id]
            env = Env(env0.base, {**env0.local, **data["local"]}, env0.imports)
        else:
            base = self.loader(data["imports"])
            env = Env(base.base, dict(data["local"]), tuple(data["imports"]), {**base.options, **data["options"]})
        st = ProofState(env, data["mctx"], list(data["goals"]), list(data["roots"]), data["aux"])
        return self.step_response(st, [], [])


def _picklable_options(options: dict) -> dict:
    """Scope data (namespace, opens, variables); the premise index is rebuilt by the import, not stored."""
    return {k: v for k, v in options.items() if k != "premise_index"}


class BadRequest(MiniLeanError):
    """A request the repl cannot parse; the real repl exits on these."""


def _has(req: dict, *fields) -> bool:
    return all(isinstance(req.get(k), t) and not isinstance(req.get(k), bool) for k, t in fields)


def _write(path: str, data: dict) -> None:
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        pickle.dump((PICKLE_MAGIC, data), f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def _read(path: str, kind: str) -> dict:
    try:
        with open(path, "rb") as f:
            magic, data = pickle.load(f)
    except FileNotFoundError as e:
        raise PickleFailed(f"no such file or directory (error code: 2)\n  file: {path}") from e
    except (OSError, pickle.UnpicklingError, ValueError, EOFError) as e:
        raise PickleFailed(f"failed to read pickle file {path}: {e}") from e
    if magic != PICKLE_MAGIC or data.get("kind") != kind:
        raise PickleFailed(f"{path} is not a MiniLean {kind} pickle")
    # ids stored in the file must stay unique in this process
    top = 0
    objs = list(data.get("local", {}).values())
    for c in objs:
        for e in (c.type, c.value):
            if e is not None:
                for x in subterms(e):
                    if hasattr(x, "id"):
                        top = max(top, x.id)
    for fid, _, ty, _ in data.get("options", {}).get("variables", ()):
        top = max([top, fid, *[x.id for x in subterms(ty) if hasattr(x, "id")]])
    if "mctx" in data:
        top = max([top, *data["mctx"].decls.keys(), *[d.fid for m in data["mctx"].decls.values()
                                                       for d in m.lctx.decls]])
    bump_ids(top)
    return data


class PickleFailed(MiniLeanError):
    pass


def read_request(stream) -> str | None:
    """Lines until a blank one, each stripped of its line end and concatenated (as the repl's getLines)."""
    parts = []
    while True:
        line = stream.readline()
        if line == "":
            return "".join(parts) if parts else None
        if line.strip() == "":
            if parts:
                return "".join(parts)
            return line
        parts.append(line.rstrip())


def serve(loader: Loader, stdin=None, stdout=None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    server = ReplServer(loader)
    while True:
        query = read_request(stdin)
        if query is None:
            return 0
        if query.startswith("#") or query.startswith("--"):
            continue
        try:
            req = json.loads(query)
        except json.JSONDecodeError as e:
            sys.stderr.write(f"uncaught exception: {json.dumps({'message': 'Could not parse JSON:' + chr(10) + str(e)})}\n")
            return 1
        try:
            if not isinstance(req, dict):
                raise BadRequest("Could not parse as a valid JSON command:\nexpected an object")
            reply = server.handle(req)
        except BadRequest as e:
            sys.stderr.write(f"uncaught exception: {json.dumps({'message': str(e)}, ensure_ascii=False)}\n")
            return 1
        except PickleFailed as e:
            reply = {"message": str(e)}
        except (RecursionError, MiniLeanError, ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
            # a defect in MiniLean: answer like a failing Lean request, keep serving, and leave a trace
            traceback.print_exc(file=sys.stderr)
            reply = {"message": f"Lean error:\nMiniLean internal error ({type(e).__name__}): {e}"}
        stdout.write(leanjson.dumps(reply) + "\n\n")
        stdout.flush()
