"""Typed values for every request and reply of the Lean repl (leanprover-community/repl). Pure: no I/O.

Field names are snake_case; on the wire they are camelCase (``proofState``, ``endPos``, ``allTactics``...).
Every value is a frozen dataclass whose fields are declared once, with their wire conversion (``_wire``): the
table that parses and writes JSON is derived from the dataclass fields (``_wire_type``).  Two bookkeeping fields:

* ``extra``: JSON fields this module does not know, kept verbatim and written back.
* ``source_keys``: for a value parsed from JSON, the keys of the source object in their order (``None`` for a
  value built in Python).  Serialising writes a field if it was in the source or differs from the value its
  absence parses to, and writes keys in the source order -- so ``to_json(parse_response(obj)) == obj``, key
  order included.  A value built in Python is written the way the repl writes it: lists the repl omits when empty
  are omitted when empty, and reply keys come in the repl's order (descending code-point order).

``parse_request`` dispatches like the repl's ``parse`` (proof step, pickle env, unpickle env, pickle proof
state, unpickle proof state, command, file); ``parse_response`` tells a proof-step reply (``proofState``), an
error (``message``) and a command reply (``env``) apart.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Callable, ClassVar, Mapping, Union

from lean_env.errors import ProtocolError

__all__ = [
    "Pos",
    "Message",
    "Sorry",
    "Tactic",
    "Command",
    "FileCommand",
    "ProofStep",
    "PickleEnvironment",
    "PickleProofState",
    "UnpickleEnvironment",
    "UnpickleProofState",
    "Request",
    "CommandResponse",
    "ProofStepResponse",
    "ErrorResponse",
    "Response",
    "SEVERITIES",
    "PROOF_COMPLETED",
    "parse_request",
    "parse_response",
    "to_json",
]

SEVERITIES = ("trace", "info", "warning", "error")
PROOF_COMPLETED = "Completed"

Json = Any
_Parse = Callable[[Json, str], Any]
_Dump = Callable[[Any], Json]


# ----------------------------------------------------------------------------------------------- field kinds


def _type_name(value: Json) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _bad(where: str, expected: str, value: Json) -> ProtocolError:
    shown = repr(value)
    if len(shown) > 120:
        shown = shown[:117] + "..."
    return ProtocolError(f"{where}: expected {expected}, got {_type_name(value)} {shown}", raw=None)


def _p_int(value: Json, where: str) -> int:
    if type(value) is not int:
        raise _bad(where, "an integer", value)
    return value


def _p_str(value: Json, where: str) -> str:
    if type(value) is not str:
        raise _bad(where, "a string", value)
    return value


def _p_bool(value: Json, where: str) -> bool:
    if type(value) is not bool:
        raise _bad(where, "a boolean", value)
    return value


def _p_any(value: Json, where: str) -> Json:
    return value


def _optional(parse: _Parse) -> _Parse:
    def parse_optional(value: Json, where: str) -> Any:
        return None if value is None else parse(value, where)

    return parse_optional


def _list_of(parse: _Parse) -> _Parse:
    def parse_list(value: Json, where: str) -> tuple:
        if type(value) is not list:
            raise _bad(where, "an array", value)
        return tuple(parse(item, f"{where}[{i}]") for i, item in enumerate(value))

    return parse_list


def _d_same(value: Any) -> Json:
    return value


def _d_list(dump: _Dump) -> _Dump:
    def dump_list(value: tuple) -> list:
        return [dump(item) for item in value]

    return dump_list


def _d_value(value: Any) -> Json:
    return None if value is None else value.to_json()


@dataclass(frozen=True, slots=True)
class _Field:
    key: str  # camelCase wire name
    attr: str  # snake_case attribute
    parse: _Parse
    dump: _Dump
    required: bool = False  # absent in the source -> ProtocolError (the dataclass field has no default)
    always: bool = False  # written even when at its default (value built in Python)
    default: Any = None  # what absence parses to (the dataclass field's default)


def _camel(attr: str) -> str:
    head, *rest = attr.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _wire(parse: _Parse, dump: _Dump = _d_same, *, key: str | None = None, always: bool = False, **field_kw: Any):
    """A dataclass field that is also a wire field: ``parse``/``dump`` convert it, ``key`` is its JSON name
    (default: the attribute in camelCase), ``always`` writes it even at its default; ``field_kw`` go to
    ``dataclasses.field`` (a field without ``default`` is required on the wire)."""
    return field(metadata={"wire": (key, parse, dump, always)}, **field_kw)


# -------------------------------------------------------------------------------------------- the mechanism


class _Wire:
    """Mixin: parse from / write to a JSON object following ``_SPEC``."""

    __slots__ = ()
    _SPEC: ClassVar[tuple[_Field, ...]] = ()
    _KNOWN: ClassVar[frozenset[str]] = frozenset()
    _LEAN_ORDER: ClassVar[bool] = False  # built values: keys in descending order, as the repl writes replies
    _WHAT: ClassVar[str] = "value"

    @classmethod
    def from_json(cls, obj: Json, where: str | None = None):
        """Parse one JSON object; raise ``ProtocolError`` naming the field path when it does not fit."""
        where = where or cls._WHAT
        if type(obj) is not dict:
            raise _bad(where, "a JSON object", obj)
        kwargs: dict[str, Any] = {}
        for f in cls._SPEC:
            if f.key in obj:
                kwargs[f.attr] = f.parse(obj[f.key], f"{where}.{f.key}")
            elif f.required:
                raise ProtocolError(f"{where}: missing field {f.key!r} (has {sorted(obj)})", raw=None)
        known = cls._KNOWN
        extra = {k: v for k, v in obj.items() if k not in known}
        return cls(**kwargs, extra=extra, source_keys=tuple(obj))

    def to_json(self) -> dict[str, Json]:
        """The JSON object for this value (see the module docstring for which keys are written)."""
        keys: tuple[str, ...] | None = self.source_keys  # type: ignore[attr-defined]
        out: dict[str, Json] = {}
        for f in self._SPEC:
            value = getattr(self, f.attr)
            at_default = value == f.default
            if keys is not None:
                emit = not at_default or f.key in keys
            else:
                emit = f.always or not at_default
            if emit:
                out[f.key] = f.dump(value)
        for k, v in self.extra.items():  # type: ignore[attr-defined]
            out.setdefault(k, v)
        if keys is not None:
            if list(out) != list(keys):
                ordered = {k: out[k] for k in keys if k in out}
                ordered.update((k, v) for k, v in out.items() if k not in ordered)
                out = ordered
        elif self._LEAN_ORDER:
            out = {k: out[k] for k in sorted(out, reverse=True)}
        return out


def _wire_type(cls):
    """Class decorator (outside ``@dataclass``): the wire table of ``cls``, derived from its ``_wire`` fields in
    declaration order, so each field is declared once."""
    spec = []
    for f in fields(cls):
        if "wire" not in f.metadata:
            continue  # `extra`, `source_keys`
        key, parse, dump, always = f.metadata["wire"]
        required = f.default is MISSING and f.default_factory is MISSING
        default = None if f.default is MISSING else f.default
        spec.append(_Field(key or _camel(f.name), f.name, parse, dump, required, always, default))
    cls._SPEC = tuple(spec)
    cls._KNOWN = frozenset(f.key for f in spec)
    return cls


_EXTRA = dict(default_factory=dict, hash=False)
_SOURCE = dict(default=None, compare=False, repr=False, hash=False)


# ---------------------------------------------------------------------------------------------- reply parts


@_wire_type
@dataclass(frozen=True, slots=True)
class Pos(_Wire):
    """A position: 1-based line, 0-based column (in code points)."""

    line: int = _wire(_p_int)
    column: int = _wire(_p_int)
    extra: dict[str, Json] = field(**_EXTRA)
    source_keys: tuple[str, ...] | None = field(**_SOURCE)
    _LEAN_ORDER: ClassVar[bool] = True
    _WHAT: ClassVar[str] = "pos"


_p_pos: _Parse = Pos.from_json


@_wire_type
@dataclass(frozen=True, slots=True)
class Message(_Wire):
    """A Lean message: ``severity`` is one of ``SEVERITIES``; ``end_pos`` may be absent."""

    severity: str = _wire(_p_str)
    pos: Pos = _wire(_p_pos, _d_value)
    data: str = _wire(_p_str)
    end_pos: Pos | None = _wire(_optional(_p_pos), _d_value, default=None)
    extra: dict[str, Json] = field(**_EXTRA)
    source_keys: tuple[str, ...] | None = field(**_SOURCE)
    _LEAN_ORDER: ClassVar[bool] = True
    _WHAT: ClassVar[str] = "message"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


@_wire_type
@dataclass(frozen=True, slots=True)
class Sorry(_Wire):
    """A ``sorry`` (or a root goal): its goal text and the proof state recorded there."""

    goal: str = _wire(_p_str)
    proof_state: int | None = _wire(_optional(_p_int), always=True, default=None)
    pos: Pos | None = _wire(_optional(_p_pos), _d_value, default=None)
    end_pos: Pos | None = _wire(_optional(_p_pos), _d_value, default=None)
    extra: dict[str, Json] = field(**_EXTRA)
    source_keys: tuple[str, ...] | None = field(**_SOURCE)
    _LEAN_ORDER: ClassVar[bool] = True
    _WHAT: ClassVar[str] = "sorry"


@_wire_type
@dataclass(frozen=True, slots=True)
class Tactic(_Wire):
    """One tactic of a command (``allTactics``): its text, goals before it, and the proof state there."""

    tactic: str = _wire(_p_str)
    goals: str = _wire(_p_str)
    proof_state: int | None = _wire(_optional(_p_int), always=True, default=None)
    pos: Pos | None = _wire(_optional(_p_pos), _d_value, default=None)
    end_pos: Pos | None = _wire(_optional(_p_pos), _d_value, default=None)
    used_constants: tuple[str, ...] = _wire(_list_of(_p_str), _d_list(_d_same), always=True, default=())
    extra: dict[str, Json] = field(**_EXTRA)
    source_keys: tuple[str, ...] | None = field(**_SOURCE)
    _LEAN_ORDER: ClassVar[bool] = True
    _WHAT: ClassVar[str] = "tactic"


_p_messages = _list_of(Message.from_json)
_p_sorries = _list_of(Sorry.from_json)
_p_tactics = _list_of(Tactic.from_json)
_d_values = _d_list(_d_value)


# ------------------------------------------------------------------------------------------------- replies


@_wire_type
@dataclass(frozen=True, slots=True)
class CommandResponse(_Wire):
    """Reply to a command, a file, an environment pickle or unpickle: the new ``env`` and what Lean said.

    ``infotree`` is kept as the raw JSON the repl sent (a list of nodes) or ``None``.
    """

    env: int | None = _wire(_optional(_p_int), default=None)
    messages: tuple[Message, ...] = _wire(_p_messages, _d_values, default=())
    sorries: tuple[Sorry, ...] = _wire(_p_sorries, _d_values, default=())
    tactics: tuple[Tactic, ...] = _wire(_p_tactics, _d_values, default=())
    infotree: Json = _wire(_p_any, default=None, hash=False)
    extra: dict[str, Json] = field(**_EXTRA)
    source_keys: tuple[str, ...] | None = field(**_SOURCE)
    _LEAN_ORDER: ClassVar[bool] = True
    _WHAT: ClassVar[str] = "command reply"

    @property
    def errors(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.severity == "error")


@_wire_type
@dataclass(frozen=True, slots=True)
class ProofStepResponse(_Wire):
    """Reply to a tactic (and to a proof-state pickle or unpickle): the new proof state and its goals.

    ``proof_status`` is the repl's verdict string ("Completed", "Incomplete: open goals remain",
    "Incomplete: contains sorry", "Incomplete: contains metavariable(s)", "Error: ..."), or ``None`` from
    repl versions that do not send one.
    """

    proof_state: int = _wire(_p_int)
    goals: tuple[str, ...] = _wire(_list_of(_p_str), _d_list(_d_same), always=True, default=())
    messages: tuple[Message, ...] = _wire(_p_messages, _d_values, default=())
    sorries: tuple[Sorry, ...] = _wire(_p_sorries, _d_values, default=())
    traces: tuple[str, ...] = _wire(_list_of(_p_str), _d_list(_d_same), default=())
    proof_status: str | None = _wire(_optional(_p_str), default=None)
    extra: dict[str, Json] = field(**_EXTRA)
    source_keys: tuple[str, ...] | None = field(**_SOURCE)
    _LEAN_ORDER: ClassVar[bool] = True
    _WHAT: ClassVar[str] = "proof-step reply"

    @property
    def errors(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.severity == "error")


@_wire_type
@dataclass(frozen=True, slots=True)
class ErrorResponse(_Wire):
    """An error the repl reports as a value (``{"message": ...}``): unknown env/proof state, Lean error."""

    message: str = _wire(_p_str)
    extra: dict[str, Json] = field(**_EXTRA)
    source_keys: tuple[str, ...] | None = field(**_SOURCE)
    _LEAN_ORDER: ClassVar[bool] = True
    _WHAT: ClassVar[str] = "error reply"


Response = Union[CommandResponse, ProofStepResponse, ErrorResponse]


# ------------------------------------------------------------------------------------------------ requests


@_wire_type
@dataclass(frozen=True, slots=True)
class Command(_Wire):
    """``{"cmd": ...}``: run Lean commands, in environment ``env`` or (``None``) a fresh one."""

    cmd: str = _wire(_p_str)
    env: int | None = _wire(_optional(_p_int), default=None)
    all_tactics: bool | None = _wire(_optional(_p_bool), default=None)
    root_goals: bool | None = _wire(_optional(_p_bool), default=None)
    infotree: str | None = _wire(_optional(_p_str), default=None)
    extra: dict[str, Json] = field(**_EXTRA)
    source_keys: tuple[str, ...] | None = field(**_SOURCE)
    _WHAT: ClassVar[str] = "command request"


@_wire_type
@dataclass(frozen=True, slots=True)
class FileCommand(_Wire):
    """``{"path": ...}``: run a Lean file (path relative to the repl's working directory)."""

    path: str = _wire(_p_str)
    env: int | None = _wire(_optional(_p_int), default=None)
    all_tactics: bool | None = _wire(_optional(_p_bool), default=None)
    root_goals: bool | None = _wire(_optional(_p_bool), default=None)
    infotree: str | None = _wire(_optional(_p_str), default=None)
    extra: dict[str, Json] = field(**_EXTRA)
    source_keys: tuple[str, ...] | None = field(**_SOURCE)
    _WHAT: ClassVar[str] = "file request"


@_wire_type
@dataclass(frozen=True, slots=True)
class ProofStep(_Wire):
    """``{"tactic": ..., "proofState": n}``: run one tactic (script) in proof state ``n``."""

    tactic: str = _wire(_p_str)
    proof_state: int = _wire(_p_int)
    extra: dict[str, Json] = field(**_EXTRA)
    source_keys: tuple[str, ...] | None = field(**_SOURCE)
    _WHAT: ClassVar[str] = "tactic request"


@_wire_type
@dataclass(frozen=True, slots=True)
class PickleEnvironment(_Wire):
    """``{"pickleTo": path, "env": n}``: write environment ``n`` to an .olean file."""

    pickle_to: str = _wire(_p_str)
    env: int = _wire(_p_int)
    extra: dict[str, Json] = field(**_EXTRA)
    source_keys: tuple[str, ...] | None = field(**_SOURCE)
    _WHAT: ClassVar[str] = "pickle request"


@_wire_type
@dataclass(frozen=True, slots=True)
class PickleProofState(_Wire):
    """``{"pickleTo": path, "proofState": n}``: write proof state ``n`` to an .olean file."""

    pickle_to: str = _wire(_p_str)
    proof_state: int = _wire(_p_int)
    extra: dict[str, Json] = field(**_EXTRA)
    source_keys: tuple[str, ...] | None = field(**_SOURCE)
    _WHAT: ClassVar[str] = "pickle request"


@_wire_type
@dataclass(frozen=True, slots=True)
class UnpickleEnvironment(_Wire):
    """``{"unpickleEnvFrom": path}``: load a pickled environment; the reply names the new ``env``."""

    unpickle_env_from: str = _wire(_p_str)
    extra: dict[str, Json] = field(**_EXTRA)
    source_keys: tuple[str, ...] | None = field(**_SOURCE)
    _WHAT: ClassVar[str] = "unpickle request"


@_wire_type
@dataclass(frozen=True, slots=True)
class UnpickleProofState(_Wire):
    """``{"unpickleProofStateFrom": path, "env": n?}``: load a pickled proof state (optionally over env ``n``)."""

    unpickle_proof_state_from: str = _wire(_p_str)
    env: int | None = _wire(_optional(_p_int), default=None)
    extra: dict[str, Json] = field(**_EXTRA)
    source_keys: tuple[str, ...] | None = field(**_SOURCE)
    _WHAT: ClassVar[str] = "unpickle request"


Request = Union[
    Command, FileCommand, ProofStep, PickleEnvironment, PickleProofState, UnpickleEnvironment, UnpickleProofState
]


# --------------------------------------------------------------------------------------------- entry points


def parse_request(obj: Json) -> Request:
    """The typed request for one JSON object, dispatched in the repl's order; ``ProtocolError`` if none fits."""
    if type(obj) is not dict:
        raise _bad("request", "a JSON object", obj)
    if "tactic" in obj and "proofState" in obj:
        return ProofStep.from_json(obj)
    if "pickleTo" in obj:
        if "env" in obj and "proofState" not in obj:
            return PickleEnvironment.from_json(obj)
        if "proofState" in obj:
            return PickleProofState.from_json(obj)
        raise ProtocolError(f"request: 'pickleTo' needs 'env' or 'proofState' (has {sorted(obj)})", raw=None)
    if "unpickleEnvFrom" in obj:
        return UnpickleEnvironment.from_json(obj)
    if "unpickleProofStateFrom" in obj:
        return UnpickleProofState.from_json(obj)
    if "cmd" in obj:
        return Command.from_json(obj)
    if "path" in obj:
        return FileCommand.from_json(obj)
    raise ProtocolError(
        f"request: not a repl request (keys {sorted(obj)}); expected one of cmd, path, tactic+proofState, "
        "pickleTo, unpickleEnvFrom, unpickleProofStateFrom",
        raw=None,
    )


_COMMAND_KEYS = frozenset(("env", "messages", "sorries", "tactics", "infotree"))


def parse_response(obj: Json) -> Response:
    """The typed reply for one JSON object; ``ProtocolError`` (naming the field) if it fits no reply shape."""
    if type(obj) is not dict:
        raise _bad("reply", "a JSON object", obj)
    if "proofState" in obj:
        return ProofStepResponse.from_json(obj)
    if "message" in obj and "env" not in obj:
        return ErrorResponse.from_json(obj)
    if not _COMMAND_KEYS.isdisjoint(obj):
        return CommandResponse.from_json(obj)
    raise ProtocolError(
        f"reply: not a repl reply (keys {sorted(obj)}); expected 'env', 'proofState' or 'message'", raw=None
    )


def to_json(value: Request | Response | Mapping[str, Json]) -> dict[str, Json]:
    """The JSON object of a typed value (a mapping is returned as a plain dict)."""
    if isinstance(value, _Wire):
        return value.to_json()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"to_json: expected a lean_env.protocol value or a mapping, got {type(value).__name__}")
