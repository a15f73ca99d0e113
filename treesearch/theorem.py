"""A theorem to prove: header imports plus ``theorem name binders : statement := by sorry``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from treesearch.errors import TheoremError

_BY_SORRY = re.compile(r":=\s*by\s+sorry\s*$")
_NAME = re.compile(r"^\s*(?:theorem|lemma|example)\b\s*([^\s(\[{:]*)")


@dataclass(frozen=True)
class Theorem:
    """One search target.

    ``source`` is Lean text ending in ``:= by sorry``; ``imports`` are module names for the header
    (``import A`` lines are sent as their own command before the theorem, as the seed does).
    """

    source: str
    imports: tuple[str, ...] = field(default=())
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not _BY_SORRY.search(self.source):
            raise TheoremError(
                f"theorem source must end in ':= by sorry', got {str(self.source)[-80:]!r}; "
                "write the statement as `theorem name binders : statement := by sorry`"
            )
        object.__setattr__(self, "imports", tuple(self.imports))
        for module in self.imports:
            if not module or any(ch.isspace() for ch in module):
                raise TheoremError(f"bad import module name {module!r} in theorem {self.source[:60]!r}")
        if not self.name:
            m = _NAME.match(self.source)
            object.__setattr__(self, "name", (m.group(1) if m and m.group(1) else "anonymous"))

    @classmethod
    def parse(cls, text: str, *, name: str = "") -> "Theorem":
        """Split leading ``import`` lines from a Lean snippet; the rest is the theorem source."""
        imports: list[str] = []
        lines = text.strip().splitlines()
        while lines and (lines[0].startswith("import ") or not lines[0].strip()):
            line = lines.pop(0)
            imports.extend(line.split()[1:])
        return cls(source="\n".join(lines), imports=tuple(imports), name=name)

    @property
    def header(self) -> str:
        """The ``import`` lines, or the empty string."""
        return "\n".join(f"import {m}" for m in self.imports)

    def with_proof(self, tactics: Sequence[str]) -> str:
        """The theorem text with ``by sorry`` replaced by ``by`` and the tactic script, two-space indented."""
        if not tactics:
            raise TheoremError(f"an empty tactic script cannot prove {self.name}")
        body: list[str] = []
        for tac in tactics:
            for line in tac.splitlines() or [""]:
                body.append("  " + line)
        return _BY_SORRY.sub(lambda _m: ":= by\n" + "\n".join(body), self.source)

    def to_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "imports": list(self.imports)}

    @classmethod
    def from_dict(cls, data: dict) -> "Theorem":
        return cls(source=data["source"], imports=tuple(data.get("imports", ())), name=data.get("name", ""))
