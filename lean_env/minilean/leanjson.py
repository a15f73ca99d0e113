"""JSON text exactly as the Lean repl prints it (`Lean.Json.pretty`, line width 80).

Lean renders an object's fields in descending key order and lays the text out with a Wadler-style
pretty printer: every array/object is a group (flattened when it and the text after it up to the next
break fit in the line), `key: value` pairs are groups too, and nested brackets indent by their width.
"""

from __future__ import annotations

WIDTH = 80

# documents: ("text", s) | ("line",) | ("nest", n, doc) | ("group", doc) | ("cat", [docs])


def _escape(s: str) -> str:
    out = ['"']
    for c in s:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif ord(c) >= 0x20:
            out.append(c)
        else:
            out.append(f"\\u{ord(c):04x}")
    out.append('"')
    return "".join(out)


def _doc(v) -> tuple:
    if v is None:
        return ("text", "null")
    if v is True:
        return ("text", "true")
    if v is False:
        return ("text", "false")
    if isinstance(v, int):
        return ("text", str(v))
    if isinstance(v, float):
        return ("text", repr(v))
    if isinstance(v, str):
        return ("text", _escape(v))
    if isinstance(v, list):
        return _bracket("[", [_doc(x) for x in v], "]")
    if isinstance(v, dict):
        items = []
        for k in sorted(v, reverse=True):
            items.append(("group", ("cat", [("text", _escape(k) + ":"), ("line",), _doc(v[k])])))
        return _bracket("{", items, "}")
    raise TypeError(f"cannot render {type(v).__name__} as JSON")


def _bracket(left: str, items: list, right: str) -> tuple:
    parts: list = [("text", left)]
    for i, it in enumerate(items):
        if i:
            parts.append(("text", ","))
            parts.append(("line",))
        parts.append(it)
    parts.append(("text", right))
    return ("group", ("nest", len(left), ("cat", parts)))


def _fits(width: int, items: list) -> bool:
    """Whether the flat items (indent, flat?, doc) fit before the next line break in break mode."""
    stack = list(items)
    while stack:
        if width < 0:
            return False
        ind, flat, d = stack.pop()
        k = d[0]
        if k == "text":
            width -= len(d[1])
        elif k == "line":
            if flat:
                width -= 1
            else:
                return True
        elif k == "nest":
            stack.append((ind + d[1], flat, d[2]))
        elif k == "group":
            stack.append((ind, flat, d[1]))
        else:
            for x in reversed(d[1]):
                stack.append((ind, flat, x))
    return width >= 0


def dumps(value) -> str:
    """The repl's text for a JSON value (no trailing newline)."""
    out: list[str] = []
    col = 0
    stack = [(0, False, _doc(value))]
    while stack:
        ind, flat, d = stack.pop()
        k = d[0]
        if k == "text":
            out.append(d[1])
            col += len(d[1])
        elif k == "line":
            if flat:
                out.append(" ")
                col += 1
            else:
                out.append("\n" + " " * ind)
                col = ind
        elif k == "nest":
            stack.append((ind + d[1], flat, d[2]))
        elif k == "group":
            if flat:
                stack.append((ind, True, d[1]))
            else:
                fl = _fits(WIDTH - col, stack + [(ind, True, d[1])])
                stack.append((ind, fl, d[1]))
        else:
            for x in reversed(d[1]):
                stack.append((ind, flat, x))
    return "".join(out)
