"""Load a policy by builtin name, by dotted path ``pkg.mod:Class``, or by entry point (group ``cryo.policies``).

``load_policy(kind, spec, **kwargs)``: ``kind`` is ``"proposer"``, ``"selector"`` or ``"value"``.  ``spec``
is looked up in this order:

1. a builtin name of that kind (:data:`BUILTINS`);
2. ``"pkg.mod:Attr"`` (``Attr`` may be dotted, ``Outer.Inner``), imported with :mod:`importlib`;
3. an entry point named ``spec`` in the group ``cryo.policies`` (``[project.entry-points."cryo.policies"]``).

The object found is called with ``**kwargs`` when it is a class or other callable without the kind's
method, and the result must provide the kind's method (``propose``/``select``/``value``).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from policies.errors import PolicyLoadError
from policies.firstorder import FirstOrderProposer
from policies.openai_compat import OpenAIProposer
from policies.proposers import FixedTactics, PropositionalProposer
from policies.selection import PUCT, UCT, BestFirst, BreadthFirst, RandomSelection
from policies.values import ConstantValue, GoalSizeValue

__all__ = ["ENTRY_POINT_GROUP", "KINDS", "BUILTINS", "load_policy"]

#: Entry-point group searched for user policies.
ENTRY_POINT_GROUP = "cryo.policies"

#: kind -> the method an object of that kind provides.
KINDS: Mapping[str, str] = {"proposer": "propose", "selector": "select", "value": "value"}

#: kind -> builtin name -> factory.
BUILTINS: Mapping[str, Mapping[str, Callable[..., Any]]] = {
    "proposer": {"fixed": FixedTactics, "propositional": PropositionalProposer, "first-order": FirstOrderProposer,
                 "openai": OpenAIProposer},
    "selector": {
        "uct": UCT,
        "puct": PUCT,
        "best-first": BestFirst,
        "bfs": BreadthFirst,
        "breadth-first": BreadthFirst,
        "random": RandomSelection,
    },
    "value": {"constant": ConstantValue, "goal-size": GoalSizeValue},
}


#: kind -> other methods that also make an object of that kind (an async proposer may have only
#: ``propose_many``; see :mod:`policies.seam`).
_ALSO: Mapping[str, tuple[str, ...]] = {"proposer": ("propose_many",)}


def _has_method(obj: Any, kind: str) -> bool:
    return any(callable(getattr(obj, m, None)) for m in (KINDS[kind], *_ALSO.get(kind, ())))


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _allowed(kind: str) -> str:
    names = ", ".join(repr(n) for n in BUILTINS[kind])
    eps = ", ".join(repr(ep.name) for ep in _entry_points())
    return (f"a builtin {kind} ({names}), a dotted path 'package.module:Class', or an entry point in group "
            f"{ENTRY_POINT_GROUP!r} ({eps or 'none installed'})")


def _import_dotted(spec: str, kind: str) -> Any:
    module_name, _, attr_path = spec.partition(":")
    if not module_name or not attr_path:
        raise PolicyLoadError(f"{kind} spec {spec!r}: a dotted path needs the form 'package.module:Class'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise PolicyLoadError(f"{kind} spec {spec!r}: cannot import module {module_name!r}: {e}") from e
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as e:
            raise PolicyLoadError(
                f"{kind} spec {spec!r}: module {module_name!r} has no attribute {attr_path!r} (missing {part!r})"
            ) from e
    return obj


def _instantiate(obj: Any, kind: str, spec: str, kwargs: Mapping[str, Any]) -> Any:
    method = KINDS[kind]
    needs_call = inspect.isclass(obj) or not _has_method(obj, kind)
    if needs_call:
        if not callable(obj):
            raise PolicyLoadError(f"{kind} spec {spec!r} names {obj!r}, which is neither callable nor has .{method}()")
        try:
            obj = obj(**kwargs)
        except TypeError as e:
            raise PolicyLoadError(f"{kind} spec {spec!r}: cannot build it with options {dict(kwargs)}: {e}") from e
    elif kwargs:
        raise PolicyLoadError(f"{kind} spec {spec!r} names a ready object; options {dict(kwargs)} cannot be applied")
    if not _has_method(obj, kind):
        raise PolicyLoadError(
            f"{kind} spec {spec!r} gave {obj!r}, which has no .{method}() method; a {kind} must define {method}()"
        )
    return obj


def load_policy(kind: str, spec: str, **kwargs: Any) -> Any:
    """The policy object of ``kind`` named by ``spec``, built with ``kwargs`` (see the module docstring).

    Raises :class:`PolicyLoadError` naming the spec and the allowed values when nothing matches.
    """
    if kind not in KINDS:
        raise PolicyLoadError(f"unknown policy kind {kind!r}; use one of {sorted(KINDS)}")
    if not isinstance(spec, str) or not spec.strip():
        raise PolicyLoadError(f"{kind} spec must be a non-empty string, got {spec!r}; use {_allowed(kind)}")
    spec = spec.strip()
    builtin = BUILTINS[kind].get(spec)
    if builtin is not None:
        return _instantiate(builtin, kind, spec, kwargs)
    if ":" in spec:
        return _instantiate(_import_dotted(spec, kind), kind, spec, kwargs)
    matches = [ep for ep in _entry_points() if ep.name == spec]
    if not matches:
        raise PolicyLoadError(f"unknown {kind} {spec!r}; use {_allowed(kind)}")
    try:
        obj = matches[0].load()
    except Exception as e:  # an entry point's import can fail in any way; report which one
        raise PolicyLoadError(f"{kind} {spec!r}: entry point {matches[0].value!r} failed to load: {e}") from e
    return _instantiate(obj, kind, spec, kwargs)
