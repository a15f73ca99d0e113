"""Blank-line framing of the repl's byte streams, exactly as the repl reads and writes them. No process I/O.

* A request is one JSON object on one line followed by a blank line.  The repl reads lines until a blank one
  and joins them with their line ends trimmed, so a raw newline inside a request string would vanish; the
  encoder writes compact JSON (newlines escaped, unicode kept as UTF-8).
* A reply is a JSON object over one or more lines, ended by a blank line (``IO.println json`` then ``"\\n"``).

``FrameDecoder`` collects reply frames from arbitrary chunks (partial reads, huge replies, multi-byte UTF-8
split across reads); each byte is scanned once.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any, Mapping

from lean_env.errors import ProtocolError

__all__ = ["encode_request", "encode_json", "FrameDecoder", "decode_frame", "split_frames", "MAX_RAW_SHOWN"]

MAX_RAW_SHOWN = 2000  # characters of offending text quoted in an error message


def encode_json(obj: Mapping[str, Any]) -> bytes:
    """One JSON object as one line of UTF-8 (no trailing newline)."""
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": ")).encode("utf-8")


def encode_request(request: Any) -> bytes:
    """The bytes that send one request: a JSON line and a blank line.

    ``request`` is a ``lean_env.protocol`` request value or a JSON object (mapping).
    """
    obj = request.to_json() if hasattr(request, "to_json") else request
    if not isinstance(obj, Mapping):
        raise TypeError(f"encode_request: expected a request value or a JSON object, got {type(request).__name__}")
    return encode_json(obj) + b"\n\n"


def _shown(raw: bytes | str) -> str:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if len(text) > MAX_RAW_SHOWN:
        return text[: MAX_RAW_SHOWN // 2] + f"\n... [{len(text) - MAX_RAW_SHOWN} characters left out] ...\n" + text[
            -MAX_RAW_SHOWN // 2 :
        ]
    return text


def decode_frame(raw: bytes | str, *, request: str | None = None) -> dict[str, Any]:
    """Parse one frame's text as a JSON object; ``ProtocolError`` carrying the raw text otherwise."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        obj = json.loads(text)
    except (UnicodeDecodeError, ValueError) as e:
        after = f" (reply to {request})" if request else ""
        raise ProtocolError(
            f"repl sent a reply that is not valid JSON{after}: {e}\n--- raw reply ---\n{_shown(raw)}",
            raw=raw,
            request=request,
        ) from e
    if type(obj) is not dict:
        after = f" (reply to {request})" if request else ""
        raise ProtocolError(
            f"repl sent JSON that is not an object{after}\n--- raw reply ---\n{_shown(raw)}", raw=raw, request=request
        )
    return obj


def _is_blank(line: bytes) -> bool:
    return not line.strip()


class FrameDecoder:
    """Accumulates bytes and hands out complete frames (their text, without the terminating blank line).

    Blank lines before a frame are skipped.  ``pending()`` is the text of an unfinished frame (e.g. what a
    crashed process left behind).  Each byte is searched for a line end once, however the data is chunked.
    """

    __slots__ = ("_buf", "_line", "_scan", "_in_frame", "_frames")

    def __init__(self) -> None:
        self._buf = bytearray()  # from the start of the current frame (or of the current line between frames)
        self._line = 0  # start of the current, unfinished line in _buf
        self._scan = 0  # bytes of _buf before this were already searched for b"\n"
        self._in_frame = False  # a non-blank line of the current frame has been seen
        self._frames: deque[bytes] = deque()

    def feed(self, data: bytes) -> None:
        """Add bytes; complete frames become available from ``pop()``."""
        if not data:
            return
        buf = self._buf
        buf += data
        line, scan = self._line, self._scan
        while (nl := buf.find(b"\n", scan)) >= 0:
            if _is_blank(buf[line:nl]):
                if self._in_frame:
                    self._frames.append(bytes(buf[:line]).rstrip(b"\r\n"))
                    self._in_frame = False
                del buf[: nl + 1]  # the frame (if any) and the blank line
                line = scan = 0
                continue
            if not self._in_frame:
                if line:
                    del buf[:line]  # blank lines before the frame
                    nl -= line
                self._in_frame = True
            line = scan = nl + 1
        self._line, self._scan = line, len(buf)

    def pop(self) -> bytes | None:
        """The oldest complete frame, or ``None``."""
        return self._frames.popleft() if self._frames else None

    def __len__(self) -> int:
        return len(self._frames)

    def pending(self) -> bytes:
        """Bytes received that do not (yet) form a complete frame."""
        return bytes(self._buf)

    def has_partial(self) -> bool:
        return self._in_frame or bool(self._buf.strip())


def split_frames(data: bytes) -> tuple[list[bytes], bytes]:
    """All complete frames of ``data`` and the unterminated rest (the rest is ``b""`` when none)."""
    dec = FrameDecoder()
    dec.feed(data)
    frames = []
    while (frame := dec.pop()) is not None:
        frames.append(frame)
    return frames, dec.pending()
