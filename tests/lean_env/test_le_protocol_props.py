"""Property tests of the typed values: value -> JSON -> value is the identity; JSON -> value -> JSON too."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from lean_env.framing import decode_frame, encode_request
from lean_env.protocol import (
    SEVERITIES,
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

text = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("⊢∧→ℕ✝\n"), max_size=30)
nat = st.integers(0, 2**40)
opt_nat = st.none() | nat
scalar = st.none() | st.booleans() | st.integers(-1000, 1000) | text
json_value = st.recursive(scalar, lambda c: st.lists(c, max_size=3) | st.dictionaries(text, c, max_size=3),
                          max_leaves=8)


def extra_for(known: set[str]):
    keys = text.filter(lambda k: k not in known and not k[:1].isupper() and k not in {
        "env", "proofState", "message", "messages", "sorries", "tactics", "infotree", "goals", "traces",
        "proofStatus", "cmd", "path", "tactic", "pickleTo", "unpickleEnvFrom", "unpickleProofStateFrom"})
    return st.dictionaries(keys, json_value, max_size=2)


pos = st.builds(Pos, line=nat, column=nat, extra=extra_for({"line", "column"}))
message = st.builds(Message, severity=st.sampled_from(SEVERITIES), pos=pos, data=text, end_pos=st.none() | pos,
                    extra=extra_for({"severity", "pos", "endPos", "data"}))
sorry = st.builds(Sorry, goal=text, proof_state=opt_nat, pos=st.none() | pos, end_pos=st.none() | pos,
                  extra=extra_for({"goal", "proofState", "pos", "endPos"}))
tactic = st.builds(Tactic, tactic=text, goals=text, proof_state=opt_nat, pos=st.none() | pos,
                   end_pos=st.none() | pos, used_constants=st.lists(text, max_size=3).map(tuple),
                   extra=extra_for({"tactic", "goals", "proofState", "pos", "endPos", "usedConstants"}))
tup = lambda s: st.lists(s, max_size=3).map(tuple)  # noqa: E731
command_response = st.builds(CommandResponse, env=nat, messages=tup(message), sorries=tup(sorry),
                             tactics=tup(tactic), infotree=st.none() | st.lists(json_value, min_size=1, max_size=2),
                             extra=extra_for(set()))
proof_step_response = st.builds(ProofStepResponse, proof_state=nat, goals=tup(text), messages=tup(message),
                                sorries=tup(sorry), traces=tup(text), proof_status=st.none() | text,
                                extra=extra_for(set()))
error_response = st.builds(ErrorResponse, message=text, extra=extra_for(set()))
responses = command_response | proof_step_response | error_response

opt_bool = st.none() | st.booleans()
requests = (
    st.builds(Command, cmd=text, env=opt_nat, all_tactics=opt_bool, root_goals=opt_bool,
              infotree=st.none() | st.sampled_from(["full", "tactics", "original", "substantive"]))
    | st.builds(FileCommand, path=text, env=opt_nat, all_tactics=opt_bool)
    | st.builds(ProofStep, tactic=text, proof_state=nat)
    | st.builds(PickleEnvironment, pickle_to=text, env=nat)
    | st.builds(PickleProofState, pickle_to=text, proof_state=nat)
    | st.builds(UnpickleEnvironment, unpickle_env_from=text)
    | st.builds(UnpickleProofState, unpickle_proof_state_from=text, env=opt_nat)
)


@settings(max_examples=300)
@given(responses)
def test_reply_values_round_trip_through_json_text(value):
    wire = json.dumps(to_json(value), ensure_ascii=False)
    back = parse_response(json.loads(wire))
    assert back == value
    assert type(back) is type(value)
    assert to_json(back) == to_json(value)


@settings(max_examples=300)
@given(requests)
def test_request_values_round_trip_through_the_framing(value):
    data = encode_request(value)
    back = parse_request(decode_frame(data[:-2]))
    assert back == value and type(back) is type(value)


@settings(max_examples=200)
@given(responses, st.randoms(use_true_random=False))
def test_parsed_json_is_written_back_identically_whatever_its_key_order(value, rnd):
    obj = to_json(value)
    keys = list(obj)
    rnd.shuffle(keys)
    shuffled = {k: obj[k] for k in keys}
    out = to_json(parse_response(shuffled))
    assert out == shuffled and list(out) == keys
