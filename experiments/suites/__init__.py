"""Theorem suites: `.lean` files of `theorem name ... := by sorry` blocks, parsed into `Theorem` values.

A suite file holds only `import` lines, comments and theorem blocks.  A block starts at a line beginning with
`theorem ` and ends at the first line ending with `:= by sorry`.  A `-- difficulty: N` comment directly above a
block grades it (1 = one tactic .. 5 = deep).  The bundled suites live beside this module; name them in a path
spec as `bundled:GLOB` (for example `bundled:*.lean`).
"""

from __future__ import annotations

import fnmatch
import glob
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

__all__ = ["BUNDLED_DIR", "BUNDLED_PREFIX", "SuiteError", "Theorem", "load_suite", "parse_suite_text", "resolve_paths"]

BUNDLED_DIR = Path(__file__).resolve().parent
BUNDLED_PREFIX = "bundled:"
SORRY_END = ":= by sorry"

_NAME_RE = re.compile(r"^theorem\s+([^\s(:{\[]+)")
_DIFFICULTY_RE = re.compile(r"^--\s*difficulty:\s*(\d+)\s*$")
_IMPORT_RE = re.compile(r"^import\s+(.+)$")


class SuiteError(ValueError):
    """A suite file or path spec that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Theorem:
    """One theorem of a suite.

    `source` is the block exactly as written (from `theorem` to `:= by sorry`); `imports` are the header
    modules of its file; `line` is the 1-based line of `theorem` in `file`; `difficulty` is the graded tag or
    None when the file gives none.
    """

    name: str
    source: str
    imports: tuple[str, ...]
    file: Path
    line: int
    difficulty: int | None = None

    @property
    def statement(self) -> str:
        """The source without the trailing `by sorry`, ending in `:=`."""
        return self.source[: -len(" by sorry")].rstrip()


def parse_suite_text(text: str, *, file: Path) -> list[Theorem]:
    """Parse one suite file's text into theorems, in file order."""
    theorems: list[Theorem] = []
    imports: list[str] = []
    lines = text.splitlines()
    difficulty: int | None = None
    i = 0
    in_block_comment = False
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        lineno = i + 1
        i += 1
        if in_block_comment:
            if "-/" in stripped:
                in_block_comment = False
            continue
        if not stripped:
            difficulty = None
            continue
        if stripped.startswith("/-"):
            in_block_comment = "-/" not in stripped[2:]
            continue
        if stripped.startswith("--"):
            m = _DIFFICULTY_RE.match(stripped)
            if m:
                difficulty = int(m.group(1))
            continue
        m = _IMPORT_RE.match(stripped)
        if m:
            if theorems:
                raise SuiteError(f"{file}:{lineno}: `import` after the first theorem; Lean requires imports first")
            imports.extend(m.group(1).split())
            continue
        if not raw.startswith("theorem "):
            raise SuiteError(
                f"{file}:{lineno}: unexpected line {stripped[:60]!r}; a suite file holds only `import` lines, "
                f"comments and `theorem NAME ... {SORRY_END}` blocks starting at column 0"
            )
        name_match = _NAME_RE.match(raw)
        if name_match is None:
            raise SuiteError(f"{file}:{lineno}: cannot read the theorem name in {stripped[:60]!r}")
        block = [raw.rstrip()]
        while not block[-1].endswith(SORRY_END):
            if i >= len(lines) or not lines[i].strip() or lines[i].startswith("theorem "):
                raise SuiteError(
                    f"{file}:{lineno}: theorem {name_match.group(1)!r} does not end with `{SORRY_END}` "
                    f"before the next blank line; write each theorem as `theorem NAME ... {SORRY_END}`"
                )
            block.append(lines[i].rstrip())
            i += 1
        theorems.append(
            Theorem(
                name=name_match.group(1),
                source="\n".join(block),
                imports=tuple(imports),
                file=file,
                line=lineno,
                difficulty=difficulty,
            )
        )
        difficulty = None
    return theorems


def resolve_paths(specs: Sequence[str | Path], *, base_dir: Path | None = None) -> list[Path]:
    """Expand path specs (files, globs, `bundled:GLOB`) to existing `.lean` files, sorted within each spec.

    Relative specs resolve against `base_dir` (default: the current directory).  An empty `specs` means every
    bundled suite.  A spec that matches nothing is an error.
    """
    if not specs:
        specs = [BUNDLED_PREFIX + "*.lean"]
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    out: list[Path] = []
    seen: set[Path] = set()
    for spec in specs:
        spec_s = str(spec)
        if spec_s.startswith(BUNDLED_PREFIX):
            pattern = str(BUNDLED_DIR / spec_s[len(BUNDLED_PREFIX) :])
        else:
            p = Path(spec_s).expanduser()
            pattern = str(p if p.is_absolute() else base / p)
        if glob.has_magic(pattern):
            matches = sorted(Path(m) for m in glob.glob(pattern, recursive=True))
        else:
            matches = [Path(pattern)] if Path(pattern).exists() else []
        expanded: list[Path] = []
        for m in matches:
            if m.is_dir():
                expanded.extend(sorted(m.glob("*.lean")))
            else:
                expanded.append(m)
        if not expanded:
            bundled = ", ".join(sorted(p.name for p in BUNDLED_DIR.glob("*.lean")))
            raise SuiteError(
                f"suite path {spec_s!r} matches no .lean file (looked for {pattern}); "
                f"give a file, a directory, a glob, or `{BUNDLED_PREFIX}GLOB` for the bundled suites ({bundled})"
            )
        for m in expanded:
            r = m.resolve()
            if r not in seen:
                seen.add(r)
                out.append(r)
    return out


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pat) for pat in patterns)


def load_suite(
    paths: Sequence[str | Path] = (),
    names: Sequence[str] = (),
    *,
    exclude: Sequence[str] = (),
    max_difficulty: int | None = None,
    limit: int | None = None,
    base_dir: Path | None = None,
) -> list[Theorem]:
    """Load theorems from suite files.

    `paths`: files, directories, globs or `bundled:GLOB` (empty: all bundled suites).  `names`: fnmatch patterns;
    a theorem is kept when any matches (empty: keep all).  `exclude`: fnmatch patterns that drop a theorem.
    `max_difficulty` drops graded theorems above it; `limit` keeps the first N after filtering.  Theorem names
    must be unique across the loaded files.
    """
    files = resolve_paths(paths, base_dir=base_dir)
    theorems: list[Theorem] = []
    where: dict[str, Theorem] = {}
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise SuiteError(f"cannot read suite file {f}: {e}") from e
        for thm in parse_suite_text(text, file=f):
            prev = where.get(thm.name)
            if prev is not None:
                raise SuiteError(
                    f"theorem name {thm.name!r} appears twice: {prev.file}:{prev.line} and {thm.file}:{thm.line}; "
                    "names must be unique across a suite"
                )
            where[thm.name] = thm
            theorems.append(thm)
    kept = [
        t
        for t in theorems
        if (not names or _matches(t.name, names))
        and not _matches(t.name, exclude)
        and (max_difficulty is None or t.difficulty is None or t.difficulty <= max_difficulty)
    ]
    if limit is not None:
        kept = kept[:limit]
    return kept
