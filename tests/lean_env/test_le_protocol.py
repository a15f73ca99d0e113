"""Typed repl values: lossless round trips over every recorded transcript, field typing, clear errors."""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass, replace

import pytest

from lean_env.errors import ProtocolError
from lean_env.protocol import (
    Command,
    CommandResponse,
    ErrorResponse,
    FileCommand,
    Message,
    PickleEnvironment,
    PickleProofState,
    Pos,
    ProofStep,
    ProofStepResponse,
    Sorry,
    Tactic,
    UnpickleEnvironment,
    UnpickleProofState,
    parse_request,
    parse_response,
    to_json,
)
from lean_env.transcripts import load_transcript


def _forget_source(value):
    """The same value as if built in Python (no recorded source keys), recursively."""
    if isinstance(value, tuple):
        return tuple(_forget_source(v) for v in value)
    if is_dataclass(value):
        changes = {f.name: _forget_source(getattr(value, f.name)) for f in fields(value) if f.name != "source_keys"}
        return replace(value, **changes, source_keys=None)
    return value


def test_every_recorded_reply_round_trips(all_transcripts):
    count = 0
    kinds = set()
    for path in all_transcripts:
        t = load_transcript(path)
        for reply in t.replies or ():
            value = parse_response(reply.obj)
            kinds.add(type(value).__name__)
            back = to_json(value)
            assert back == reply.obj, f"{path}: {reply.obj} -> {back}"
            assert list(back) == list(reply.obj), f"{path}: key order changed"
            assert json.dumps(back, ensure_ascii=False) == json.dumps(reply.obj, ensure_ascii=False)
            count += 1
    assert count >= 130
    assert kinds == {"CommandResponse", "ProofStepResponse", "ErrorResponse"}


def test_every_recorded_request_round_trips(all_transcripts):
    kinds = set()
    for path in all_transcripts:
        for req in load_transcript(path).requests:
            assert req.error is None, req.error
            value = parse_request(req.obj)
            kinds.add(type(value).__name__)
            assert to_json(value) == req.obj
            assert list(to_json(value)) == list(req.obj)
    assert kinds == {"Command", "FileCommand", "ProofStep", "PickleEnvironment", "UnpickleEnvironment",
                     "UnpickleProofState"}


def test_replies_built_in_python_are_written_like_the_repl(all_transcripts):
    """Without source keys the writer follows the repl's own rules: same value and the repl's key order."""
    for path in all_transcripts:
        for reply in load_transcript(path).replies or ():
            built = _forget_source(parse_response(reply.obj))
            out = to_json(built)
            assert out == reply.obj, f"{path}: {reply.obj} -> {out}"
            assert json.dumps(out, ensure_ascii=False) == json.dumps(reply.obj, ensure_ascii=False), path


def test_typed_fields_of_a_command_reply(transcripts_dir):
    t = load_transcript(transcripts_dir / "proof_step")
    first = parse_response(t.replies[0].obj)
    assert isinstance(first, CommandResponse)
    assert first.env == 0
    assert first.sorries == (Sorry(goal="⊢ Nat", proof_state=0, pos=Pos(1, 18), end_pos=Pos(1, 23)),)
    assert first.messages[0] == Message(severity="warning", pos=Pos(1, 4), end_pos=Pos(1, 5),
                                        data="declaration uses `sorry`")
    assert first.errors == ()
    last = parse_response(t.replies[-1].obj)
    assert last == ProofStepResponse(proof_state=3, goals=(), proof_status="Completed")


def test_tactics_infotree_traces_and_errors(transcripts_dir):
    tactics = parse_response(load_transcript(transcripts_dir / "all_tactics").replies[0].obj)
    assert [t.tactic for t in tactics.tactics] == ["have t := 37", "exact t"]
    assert tactics.tactics[0].used_constants == ("instOfNatNat", "Nat", "OfNat.ofNat")
    assert isinstance(tactics.tactics[1], Tactic) and tactics.tactics[1].goals == "t : Nat\n⊢ Nat"

    info = parse_response(load_transcript(transcripts_dir / "infotree").replies[0].obj)
    assert info.infotree[0]["kind"] == "TacticInfo"

    ng = load_transcript(transcripts_dir / "name_generator").replies
    traced = parse_response(ng[4].obj)
    assert traced.traces and traced.traces[0].startswith("[Meta.Tactic.simp.rewrite]")
    in_step = parse_response(ng[1].obj)
    assert in_step.sorries == (Sorry(goal="x : Int\nh0 : x > 0\n⊢ x > 0", proof_state=1),)

    err = parse_response(load_transcript(transcripts_dir / "unknown_proof_state").replies[1].obj)
    assert err == ErrorResponse(message="Unknown proof state.")


def test_unknown_fields_are_kept_at_every_level():
    obj = {"env": 3, "future": {"a": [1, 2]},
           "messages": [{"severity": "info", "pos": {"line": 1, "column": 0, "offset": 7}, "data": "x", "id": 9}]}
    value = parse_response(obj)
    assert value.extra == {"future": {"a": [1, 2]}}
    assert value.messages[0].extra == {"id": 9}
    assert value.messages[0].pos.extra == {"offset": 7}
    assert value.messages[0].end_pos is None
    assert to_json(value) == obj
    req = {"cmd": "def x := 1", "gc": True}
    assert parse_request(req).extra == {"gc": True}
    assert to_json(parse_request(req)) == req


def test_explicit_empty_and_null_fields_survive():
    obj = {"proofState": 4, "goals": [], "messages": [], "sorries": [{"goal": "⊢ True", "proofState": None}]}
    value = parse_response(obj)
    assert value.messages == () and value.sorries[0].proof_state is None
    assert to_json(value) == obj
    # a field changed after parsing is written even where the source had none
    changed = replace(value, traces=("t",))
    assert to_json(changed)["traces"] == ["t"]


def test_built_requests_serialise_with_wire_names():
    assert to_json(Command(cmd="def f := 1", env=2, all_tactics=True)) == {"cmd": "def f := 1", "env": 2,
                                                                          "allTactics": True}
    assert to_json(Command(cmd="x", root_goals=True, infotree="full")) == {"cmd": "x", "rootGoals": True,
                                                                          "infotree": "full"}
    assert to_json(FileCommand(path="a.lean")) == {"path": "a.lean"}
    assert to_json(ProofStep(tactic="rfl", proof_state=0)) == {"tactic": "rfl", "proofState": 0}
    assert to_json(PickleEnvironment(pickle_to="a.olean", env=1)) == {"pickleTo": "a.olean", "env": 1}
    assert to_json(PickleProofState(pickle_to="p.olean", proof_state=5)) == {"pickleTo": "p.olean", "proofState": 5}
    assert to_json(UnpickleEnvironment(unpickle_env_from="a.olean")) == {"unpickleEnvFrom": "a.olean"}
    assert to_json(UnpickleProofState(unpickle_proof_state_from="p.olean", env=0)) == {
        "unpickleProofStateFrom": "p.olean", "env": 0}
    assert parse_request({"pickleTo": "p.olean", "proofState": 5}) == PickleProofState("p.olean", 5)


def test_a_built_command_reply_omits_empty_lists_like_the_repl():
    assert to_json(CommandResponse(env=0)) == {"env": 0}
    assert to_json(ProofStepResponse(proof_state=1, goals=(), proof_status="Completed")) == {
        "proofStatus": "Completed", "proofState": 1, "goals": []}


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        ({"env": "0"}, "command reply.env: expected an integer, got string '0'"),
        ({"proofState": True, "goals": []}, "proof-step reply.proofState: expected an integer, got boolean"),
        ({"env": 0, "messages": [{"severity": "error", "pos": {"line": 1}, "data": "x"}]},
         "command reply.messages[0].pos: missing field 'column'"),
        ({"proofState": 1, "goals": "⊢ p"}, "proof-step reply.goals: expected an array"),
        ({"hello": 1}, "not a repl reply (keys ['hello'])"),
        ([1, 2], "reply: expected a JSON object, got array"),
    ],
)
def test_malformed_replies_say_where(obj, fragment):
    with pytest.raises(ProtocolError) as info:
        parse_response(obj)
    assert fragment in str(info.value)


def test_malformed_requests_say_what_is_expected():
    with pytest.raises(ProtocolError, match="not a repl request"):
        parse_request({"tactics": "rfl"})
    with pytest.raises(ProtocolError, match="'pickleTo' needs 'env' or 'proofState'"):
        parse_request({"pickleTo": "a.olean"})
    with pytest.raises(ProtocolError, match=r"tactic request.proofState: expected an integer"):
        parse_request({"tactic": "rfl", "proofState": "0"})
    with pytest.raises(TypeError, match="to_json: expected"):
        to_json(3)  # type: ignore[arg-type]


def test_wire_tables_are_derived_from_the_dataclass_fields():
    """Each wire type declares its fields once: the JSON table is the dataclass's own fields, camelCase keys."""
    import dataclasses

    from lean_env import protocol

    types = [protocol.Pos, protocol.Message, protocol.Sorry, protocol.Tactic, protocol.CommandResponse,
             protocol.ProofStepResponse, protocol.ErrorResponse, protocol.Command, protocol.FileCommand,
             protocol.ProofStep, protocol.PickleEnvironment, protocol.PickleProofState,
             protocol.UnpickleEnvironment, protocol.UnpickleProofState]
    for cls in types:
        declared = [f for f in dataclasses.fields(cls) if f.name not in ("extra", "source_keys")]
        assert [w.attr for w in cls._SPEC] == [f.name for f in declared]
        for w, f in zip(cls._SPEC, declared):
            assert w.required == (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        assert cls._KNOWN == {w.key for w in cls._SPEC}
    keys = {w.attr: w.key for w in protocol.UnpickleProofState._SPEC + protocol.Tactic._SPEC}
    assert keys["unpickle_proof_state_from"] == "unpickleProofStateFrom"
    assert keys["used_constants"] == "usedConstants" and keys["end_pos"] == "endPos"
