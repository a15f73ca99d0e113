"""Goals as Lean prints them: typed values, a reader and a printer that round-trip.  Pure.

The layout is Lean 4's own goal printer (``Lean.Meta.ppGoal``), which the repl uses for ``goals``,
``sorries[].goal`` and the ``unsolved goals`` messages::

    case succ                      optional: `case TAG`
    x y : Nat                      hypotheses: `names : type` (names sharing one type are grouped) ...
    h : x < y                      ... a type too wide for a line continues on lines indented further
    n : Nat := 3                   a let-bound local: `name : type := value`
    ⊢ x + 1 < y + 1                the target: `⊢ type` (may continue on indented lines)

Several goals in one text (an ``unsolved goals`` message, a list printed at once) are separated by blank lines.

Texts are kept exactly as printed: :attr:`Hyp.type`, :attr:`Hyp.value` and :attr:`Goal.target` hold the term text
with Lean's own line breaks and indentation (a type that Lean moved to the next line, ``h :\\n  long type``,
starts with that newline), so ``format_goal(parse_goal(text)) == text`` for every goal Lean prints.
:func:`one_line` (and :meth:`Goal.one_line`) gives the layout-free form; :func:`lean_env.terms.parse_term` reads
a term text into a tree.

    >>> g = parse_goal("case left\\np q : Prop\\nh : p ∧ q\\nn : Nat := 3\\n⊢ q ∧ p")
    >>> g.case, g.hyps[0], g.hyps[2].value, g.target
    ('left', Hyp(names=('p', 'q'), type='Prop', value=None), '3', 'q ∧ p')
    >>> g.pretty() == "case left\\np q : Prop\\nh : p ∧ q\\nn : Nat := 3\\n⊢ q ∧ p"
    True

Errors are :class:`~lean_env.errors.GoalParseError` (``.text`` is the text, ``.reason`` says what is wrong).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator

from lean_env.errors import GoalParseError

__all__ = [
    "Hyp",
    "Goal",
    "GoalParseError",
    "parse_goal",
    "parse_goals",
    "format_goal",
    "format_goals",
    "one_line",
    "TURNSTILE",
]

TURNSTILE = "⊢"
_CASE = re.compile(r"case (\S+)")
_SPACES = re.compile(r"\s+")
_NAME = re.compile(r"(?:«[^»\n]*»|[^\s«])+")
#: Keywords whose own `:=` can occur inside a printed type (``let x := 1; x = 1``).
_BINDS_ASSIGN = frozenset({"let", "have", "set", "let_fun"})
_OPEN = {"(": ")", "[": "]", "{": "}", "⟨": "⟩", "⦃": "⦄", "«": "»"}


def one_line(text: str) -> str:
    """``text`` with Lean's line breaks and indentation undone: every whitespace run becomes one space."""
    return _SPACES.sub(" ", text).strip()


def _check_text(what: str, text: str) -> None:
    if not text.strip():
        raise ValueError(f"{what} must not be blank")
    if text[:1].isspace() and text[:1] != "\n":
        raise ValueError(f"{what} must start with the term or a line break, not a space: {text!r}")
    if text != text.rstrip():
        raise ValueError(f"{what} must not end in whitespace: {text!r}")
    for line in text.split("\n")[1:]:
        if not line[:1].isspace():
            raise ValueError(f"{what}: a continuation line must be indented: {text!r}")


@dataclasses.dataclass(frozen=True, slots=True)
class Hyp:
    """One hypothesis line: ``names : type`` or ``name : type := value`` (a let-bound local).

    ``type`` and ``value`` are the texts as printed (see the module docstring for line breaks)."""

    names: tuple[str, ...]
    type: str
    value: str | None = None

    def __post_init__(self) -> None:
        if not self.names:
            raise ValueError("Hyp needs at least one name")
        for name in self.names:
            if _NAME.fullmatch(name) is None or name.startswith((":", TURNSTILE)):
                raise ValueError(f"Hyp: bad hypothesis name {name!r}")
        _check_text(f"type of {' '.join(self.names)}", self.type)
        if self.value is not None:
            if len(self.names) != 1:
                raise ValueError(f"Hyp: a let-bound value needs exactly one name, got {self.names}")
            _check_text(f"value of {self.names[0]}", self.value)

    @property
    def inaccessible(self) -> tuple[bool, ...]:
        """Per name: True for a name Lean made inaccessible (``h✝``), which tactics cannot refer to."""
        return tuple("✝" in n for n in self.names)

    def pretty(self) -> str:
        """The hypothesis as Lean prints it."""
        text = " ".join(self.names) + " :" + _glue(self.type)
        if self.value is not None:
            text += " :=" + _glue(self.value)
        return text


@dataclasses.dataclass(frozen=True, slots=True)
class Goal:
    """One goal: the ``case`` tag (or None), hypotheses in context order, and the target (the text after ``⊢``)."""

    case: str | None
    hyps: tuple[Hyp, ...]
    target: str

    def __post_init__(self) -> None:
        if self.case is not None and not _CASE.fullmatch(f"case {self.case}"):
            raise ValueError(f"Goal: bad case tag {self.case!r}")
        _check_text("target", self.target)

    def names(self) -> tuple[str, ...]:
        """Every hypothesis name, in context order (a later name may shadow an earlier one)."""
        return tuple(n for h in self.hyps for n in h.names)

    def hyp(self, name: str) -> Hyp | None:
        """The hypothesis that ``name`` refers to (the last one so named), or None."""
        for h in reversed(self.hyps):
            if name in h.names:
                return h
        return None

    def one_line(self) -> Goal:
        """The same goal with every text on one line (:func:`one_line`)."""
        return Goal(
            self.case,
            tuple(Hyp(h.names, one_line(h.type), None if h.value is None else one_line(h.value)) for h in self.hyps),
            one_line(self.target),
        )

    def pretty(self) -> str:
        """The goal as Lean prints it (``format_goal(self)``)."""
        lines = [] if self.case is None else [f"case {self.case}"]
        lines += [h.pretty() for h in self.hyps]
        lines.append(f"{TURNSTILE}{_glue(self.target)}")
        return "\n".join(lines)


def _glue(text: str) -> str:
    """The separator Lean puts after ``:``/``:=``/``⊢``: a space, or nothing when the text starts on a new line."""
    return text if text.startswith("\n") else " " + text


def format_goal(goal: Goal) -> str:
    """``goal`` as Lean prints it; ``parse_goal(format_goal(g)) == g``."""
    return goal.pretty()


def format_goals(goals: Iterable[Goal]) -> str:
    """Several goals as Lean prints them together: separated by blank lines."""
    return "\n\n".join(g.pretty() for g in goals)


# ------------------------------------------------------------------------------------------------ reading


def _entries(text: str, lines: list[str]) -> Iterator[str]:
    """Logical entries: a line at column 0 and the indented lines that continue it (newlines kept)."""
    entry: str | None = None
    for line in lines:
        if line[:1].isspace():
            if entry is None:
                raise GoalParseError(f"an indented line with nothing to continue: {line!r}", text=text)
            entry += "\n" + line
        else:
            if entry is not None:
                yield entry
            entry = line
    if entry is not None:
        yield entry


def _term_after(sep: str, rest: str, text: str, entry: str) -> str:
    """The term text after a separator (``:``, ``:=``, ``⊢``): one space, or a line break kept in the text."""
    if rest.startswith(" ") and rest[1:2] not in ("", " ", "\n"):
        term = rest[1:]
    elif rest.startswith("\n"):
        term = rest
    else:
        raise GoalParseError(f"expected one space or a line break after {sep!r} in {entry!r}", text=text)
    if term != term.rstrip():
        raise GoalParseError(f"trailing whitespace in {entry!r}", text=text)
    return term


def _split_names(head: str, text: str, entry: str) -> tuple[str, ...]:
    """``h₁ h₂ «a b»`` -> names (single spaces between them, as Lean prints)."""
    names = tuple(_NAME.findall(head))
    if not names or " ".join(names) != head:
        raise GoalParseError(f"not a hypothesis line (expected `names : type`): {entry!r}", text=text)
    return names


def _colon(entry: str) -> int:
    """Where the ``:`` after a hypothesis's names is: the first `` :`` outside «» followed by a space, a line
    break or the end; -1 when there is none."""
    i, depth = 0, False
    while i < len(entry):
        ch = entry[i]
        if ch == "«":
            depth = True
        elif ch == "»":
            depth = False
        elif ch == "\n" and not depth:
            return -1
        elif not depth and entry.startswith(" :", i) and entry[i + 2 : i + 3] in ("", " ", "\n"):
            return i
        i += 1
    return -1


def _assign(type_and_value: str) -> int:
    """Where a let-bound local's `` :=`` is: the first at bracket depth 0 that no ``let``/``have`` inside the type
    claims; -1 when there is none."""
    depth: list[str] = []
    pending = 0
    i, n = 0, len(type_and_value)
    while i < n:
        ch = type_and_value[i]
        if ch in _OPEN:
            depth.append(_OPEN[ch])
        elif depth and ch == depth[-1]:
            depth.pop()
        elif not depth:
            if type_and_value.startswith(" :=", i) and type_and_value[i + 3 : i + 4] in ("", " ", "\n"):
                if pending == 0:
                    return i
                pending -= 1
            elif (ch.isalpha() or ch == "_") and (i == 0 or not (type_and_value[i - 1].isalnum()
                                                               or type_and_value[i - 1] in "_.'")):
                j = i
                while j < n and (type_and_value[j].isalnum() or type_and_value[j] in "_'"):
                    j += 1
                if type_and_value[i:j] in _BINDS_ASSIGN:
                    pending += 1
                i = j
                continue
        i += 1
    return -1


def _hyp(entry: str, text: str) -> Hyp:
    at = _colon(entry)
    if at < 0:
        raise GoalParseError(f"not a hypothesis line (expected `names : type`): {entry!r}", text=text)
    names = _split_names(entry[:at], text, entry)
    rest = _term_after(":", entry[at + 2 :], text, entry)
    value = None
    if len(names) == 1:
        eq = _assign(rest)
        if eq >= 0:
            value = _term_after(":=", rest[eq + 3 :], text, entry)
            rest = rest[:eq]
    if not rest.strip():
        raise GoalParseError(f"hypothesis without a type: {entry!r}", text=text)
    try:
        return Hyp(names, rest, value)
    except ValueError as e:
        raise GoalParseError(str(e), text=text) from None


def parse_goal(text: str) -> Goal:
    """Read ONE goal (see the module docstring for the layout).  Blank lines before and after are ignored; a
    blank line between entries means several goals (:func:`parse_goals`)."""
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise GoalParseError("empty goal text", text=text)
    if any(not line.strip() for line in lines):
        raise GoalParseError("a blank line inside one goal (several goals? use parse_goals)", text=text)
    entries = list(_entries(text, lines))
    case = None
    m = _CASE.fullmatch(entries[0])
    if m is not None:
        case = m.group(1)
        entries = entries[1:]
    if not entries or not entries[-1].startswith(TURNSTILE):
        raise GoalParseError(f"no `{TURNSTILE}` target as the last entry of the goal", text=text)
    *hyp_entries, last = entries
    for entry in hyp_entries:
        if entry.startswith(TURNSTILE):
            raise GoalParseError(f"a second `{TURNSTILE}` line in one goal (goals are separated by blank lines)",
                                 text=text)
    target = _term_after(TURNSTILE, last[len(TURNSTILE) :], text, last)
    return Goal(case, tuple(_hyp(e, text) for e in hyp_entries), target)


def parse_goals(text: str) -> tuple[Goal, ...]:
    """Read every goal of a text where goals are separated by blank lines (``()`` for a blank text)."""
    goals: list[Goal] = []
    block: list[str] = []
    for line in text.split("\n") + [""]:
        if line.strip():
            block.append(line)
        elif block:
            try:
                goals.append(parse_goal("\n".join(block)))
            except GoalParseError as e:
                raise GoalParseError(f"goal {len(goals) + 1}: {e.reason}", text=text) from None
            block = []
    return tuple(goals)
