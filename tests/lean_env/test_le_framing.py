"""Blank-line framing: property tests over random JSON, random chunking and unicode; the repl's own bytes."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lean_env.errors import ProtocolError
from lean_env.framing import FrameDecoder, decode_frame, encode_request, split_frames
from lean_env.protocol import Command, ProofStep

LEAN_CHARS = "⊢∧∨→↔∀∃ℕℤℝαβγ✝¬≠≤≥₀₁₂ \n\t\"\\{}[]:,"
text = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(LEAN_CHARS), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)
json_objects = st.dictionaries(text, json_values, max_size=6)


def lean_pretty(obj) -> bytes:
    """A multi-line rendering like the repl's (indented, one key per line), then the blank line."""
    return json.dumps(obj, ensure_ascii=False, indent=1).encode("utf-8") + b"\n\n"


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points + [len(data)]:
        pieces.append(data[last:p])
        last = p
    return pieces


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(json_objects, min_size=1, max_size=5), st.lists(st.integers(0, 10**6), max_size=12),
       st.booleans())
def test_frames_survive_any_chunking(objs, cuts, pretty):
    stream = b"".join(lean_pretty(o) if pretty else encode_request(o) for o in objs)
    dec = FrameDecoder()
    got = []
    for piece in chunked(stream, cuts):
        dec.feed(piece)
        while (frame := dec.pop()) is not None:
            got.append(decode_frame(frame))
    assert got == objs
    assert not dec.has_partial()


@settings(max_examples=150)
@given(json_objects)
def test_an_encoded_request_is_one_line_and_a_blank_line(obj):
    data = encode_request(obj)
    assert data.endswith(b"\n\n")
    body = data[:-2]
    assert b"\n" not in body and b"\r" not in body  # the repl joins lines without newlines
    assert json.loads(body.decode("utf-8")) == obj


def test_requests_keep_unicode_as_utf8():
    data = encode_request(ProofStep(tactic="exact ⟨h.2, h.1⟩ -- ⊢ q ∧ p", proof_state=3))
    assert "⊢ q ∧ p".encode() in data
    assert encode_request(Command(cmd="theorem t : ∀ n : ℕ, n = n := by\n  intro n\n  rfl")).count(b"\n") == 2


def test_a_multibyte_character_split_across_reads():
    reply = '{"goals": ["n✝ : ℕ\\n⊢ n✝ + 1 = 0"], "proofState": 1}\n\n'.encode()
    cut = reply.index("✝".encode()) + 1  # inside the 3-byte sequence
    dec = FrameDecoder()
    dec.feed(reply[:cut])
    assert dec.pop() is None and dec.has_partial()
    dec.feed(reply[cut:])
    assert decode_frame(dec.pop())["goals"] == ["n✝ : ℕ\n⊢ n✝ + 1 = 0"]


def test_a_large_reply_fed_byte_by_byte_and_in_one_piece():
    obj = {"goals": ["h : " + "a ∧ " * 50_000 + "b\n⊢ c"] * 4, "proofState": 7}
    data = lean_pretty(obj)
    assert len(data) > 1_000_000
    dec = FrameDecoder()
    dec.feed(data)
    assert decode_frame(dec.pop()) == obj
    dec = FrameDecoder()
    small = data[:20_000] + b"\n\n"
    for i in range(len(small)):
        dec.feed(small[i : i + 1])
    assert dec.pop() == small[:-2]


def test_leading_blank_lines_and_crlf_are_tolerated():
    frames, rest = split_frames(b"\n\n \n{\"env\": 0}\r\n\r\n{\"env\":\n 1}\n\n{\"env\"")
    assert [json.loads(f) for f in frames] == [{"env": 0}, {"env": 1}]
    assert rest == b'{"env"'


def test_the_recorded_output_files_split_into_their_replies(all_transcripts):
    for path in all_transcripts:
        out = path.with_name(path.name[: -len(".in")] + ".expected.out")
        if not out.exists():
            continue
        data = out.read_bytes()
        frames, rest = split_frames(data)
        assert rest == b""
        assert b"".join(f + b"\n\n" for f in frames) == data  # nothing lost, nothing added
        for f in frames:
            assert isinstance(decode_frame(f), dict)


def test_invalid_json_raises_a_protocol_error_with_the_raw_text():
    with pytest.raises(ProtocolError) as info:
        decode_frame(b"uncaught exception: oops {", request='{"cmd": "x"}')
    assert info.value.raw == b"uncaught exception: oops {"
    assert "not valid JSON" in str(info.value) and "uncaught exception: oops {" in str(info.value)
    with pytest.raises(ProtocolError, match="not an object"):
        decode_frame(b"[1, 2]")
    with pytest.raises(ProtocolError):
        decode_frame(b"\xff\xfe{}")
