"""Experiment configs: TOML files validated key by key against one schema (`schema()`).

`schema()` is the keys of `SCHEMA` plus the `[backend]` keys, which come from the backend registry
(`treesearch.backends.registry`): `kind` (one of `backend_names()`), the settings every kind takes
(`COMMON_SETTINGS`) and the settings of every known kind (criu's `freeze`, `clones`, `keep_warm`, and those
of kinds added through the entry-point group `cryo.backends`). A key of a kind other than the selected one is
accepted (validated against that kind's setting) and ignored, so one config runs on several kinds.

Every error names the file, the `[section] key`, the value found and the allowed values.  The same schema
renders the reference table in the README (`reference_markdown`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from lean_env.repl_cmd import MINILEAN_LIBRARY_STORAGES

__all__ = [
    "ConfigError",
    "Key",
    "SCHEMA",
    "schema",
    "backend_keys",
    "repl_argv",
    "EnvConfig",
    "BackendConfig",
    "SearchConfig",
    "PolicyConfig",
    "SuiteConfig",
    "RunConfig",
    "CompareConfig",
    "ExperimentConfig",
    "load_config",
    "parse_config",
    "parse_size",
    "reference_markdown",
]

REPLS = ("minilean", "lake")
ALGORITHMS = ("best-first", "uct", "puct", "bfs", "random")


class ConfigError(ValueError):
    """A config that cannot be used: the message names the file, the key, the value and what is allowed."""


_NOTHING = object()  # named sentinel: "this key has no default; absent means None"

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$")
_SIZE_UNITS = {
    None: 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}  # fmt: skip
_DOTTED_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*(:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*)?$")


def parse_size(value: int | str) -> int:
    """Bytes from an int or a string such as `"512MiB"`, `"2GB"`, `"1048576"`."""
    if isinstance(value, bool):
        raise ValueError("a size is a number of bytes or a string like \"2GiB\", not a boolean")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value
    m = _SIZE_RE.match(value)
    if not m:
        raise ValueError(f"{value!r} is not a size; write bytes (4294967296) or a string like \"4GiB\", \"512MB\"")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2)])


@dataclass(frozen=True)
class Key:
    """One config key: its TOML type, default, allowed values and meaning."""

    section: str
    name: str
    kind: str  # "str" | "int" | "float" | "bool" | "list[str]" | "size" | "policy" | "table"
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    kinds: tuple[str, ...] = ()  # [backend] only: the backend kinds that read this key (empty: every kind)

    def allowed(self) -> str:
        if self.choices:
            return " | ".join(f'"{c}"' for c in self.choices)
        if self.kind == "size":
            return 'bytes (int) or "N[B|KB|MB|GB|KiB|MiB|GiB]"'
        if self.kind == "policy":
            return 'builtin name or "package.module:Name"'
        if self.kind == "list[str]":
            return "array of strings"
        if self.kind == "table":
            return "a table (its keys are checked by the proposer)"
        bounds = []
        if self.minimum is not None:
            bounds.append(f">= {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum:g}")
        return f"{self.kind} " + " and ".join(bounds) if bounds else self.kind


SCHEMA: tuple[Key, ...] = (
    # [env] -- the repl processes
    Key("env", "repl", "str", "minilean",
        "Which repl runs the proofs: the embedded MiniLean prover, or `lake env repl` in a real Lean project.",
        choices=REPLS),
    Key("env", "command", "list[str]", [],
        "Explicit repl argv; overrides `repl` (empty: derived from `repl`, `imports` and `library_size`)."),
    Key("env", "cwd", "str", "",
        "Working directory of the repl (for `lake`, the Lean project). Relative to the config file; "
        "empty: the current directory."),
    Key("env", "imports", "list[str]", [],
        "Header imports sent before each theorem (e.g. [\"Mathlib\"]); the suite file's own imports are added."),
    Key("env", "library_size", "int", _NOTHING,
        "MiniLean only: lemmas that `import Mathlib` builds (absent: $CRYO_MINILEAN_LIBRARY_SIZE, else 3000). "
        "Makes the import cost what a real one does (1000: ~2 s, ~160 MB), so thaw and unpickle differ as "
        "they do with Mathlib.", minimum=0),
    Key("env", "library_storage", "str", _NOTHING,
        "MiniLean only: where the import keeps its premise index. `heap`: anonymous memory rebuilt by every "
        "import (the seed's 455 MB image). `mmap`: a cache file built once and mapped read-only, as Lean maps "
        "its .olean files; CRIU re-maps it instead of copying it, so images are ~25 MB and thaws ~0.05 s "
        "(absent: $CRYO_MINILEAN_LIBRARY_STORAGE, else heap).", choices=MINILEAN_LIBRARY_STORAGES),
    # [search]
    Key("search", "algorithm", "str", "best-first",
        "Selection rule of the search (a builtin selector of `policies`); [policy] selector replaces it.",
        choices=ALGORITHMS),
    Key("search", "max_expansions", "int", 64, "Expansions per theorem before giving up.", minimum=1),
    Key("search", "time_limit", "float", 60.0, "Wall-clock seconds per theorem before giving up.", minimum=0.001),
    Key("search", "tactic_timeout", "float", 20.0,
        "Seconds one tactic (or replay) may take before its process is killed and counted as a fault.",
        minimum=0.001),
    Key("search", "memory_limit", "size", 0,
        "Summed RSS of the repl processes that stops a theorem's search (0: no limit)."),
    Key("search", "tactics_per_expansion", "int", 8, "Tactics tried from one node per expansion.", minimum=1),
    Key("search", "max_in_flight", "int", 0, "Expansions running at once (0: as many as [backend] workers).",
        minimum=0),
    Key("search", "seed", "int", 0, "Seed of the search and policy random streams.", minimum=0),
    # [policy]
    Key("policy", "selector", "policy", "",
        "Selector replacing `[search] algorithm`: a builtin (uct, puct, best-first, bfs, random), "
        "\"package.module:Class\", or an entry point of group `cryo.policies` (empty: the algorithm's)."),
    Key("policy", "proposer", "policy", "",
        "Tactic proposer: `propositional` (goal-directed, the default when empty), `fixed`, "
        "\"package.module:Class\", or an entry point of group `cryo.policies`."),
    Key("policy", "value", "policy", "",
        "Value of a reached state backed up after each expansion: `goal-size`, `constant`, a dotted path or "
        "an entry point (empty: 1 / (1 + number of goals))."),
    Key("policy", "settings", "table", {},
        "Keyword arguments of the proposer, written as the sub-table `[policy.settings]` (for `openai`: "
        "`model`, `base_url`, `api_key_env`, `template`, `n`, `temperature`, `top_p`, `max_tokens`, `stop`, "
        "`seed`, `timeout`, `max_concurrency`, `extra_body`, ...; see docs/policies.md). The proposer checks "
        "them when the run's preflight builds it. An API key never goes here: name its environment variable "
        "with `api_key_env`."),
    Key("policy", "batch_size", "int", 1,
        "Proposal requests of concurrent expansions merged into one proposer call (a model server may serve "
        "them in one request); never more than [search] max_in_flight. 1: each request is sent at once.",
        minimum=1),
    Key("policy", "batch_wait", "float", 0.005,
        "Seconds a batch of proposal requests stays open for more after its first (with batch_size > 1).",
        minimum=0.0, maximum=10.0),
    # [suite]
    Key("suite", "paths", "list[str]", ["bundled:*.lean"],
        "Theorem files, directories or globs, relative to the config file; `bundled:GLOB` names the bundled "
        "suites in experiments/suites/."),
    Key("suite", "names", "list[str]", [], "Keep theorems whose name matches any of these fnmatch patterns "
        "(empty: all)."),
    Key("suite", "exclude", "list[str]", [], "Drop theorems whose name matches any of these patterns."),
    Key("suite", "max_difficulty", "int", _NOTHING, "Drop theorems graded above this (absent: keep all).",
        minimum=1),
    Key("suite", "limit", "int", _NOTHING, "Keep only the first N theorems after filtering (absent: all).",
        minimum=1),
    # [run]
    Key("run", "output", "str", "runs/{name}-{time}",
        "Output directory, relative to the current directory; `{name}` is the run name, `{time}` the UTC "
        "start time. Must not exist yet or be empty."),
    Key("run", "name", "str", "", "Run name (empty: the config file's stem)."),
    Key("run", "repeats", "int", 1, "Times each theorem is searched (rows carry the repeat index).", minimum=1),
    Key("run", "recheck", "bool", True, "Re-check every found proof in a fresh repl process."),
    # [compare]
    Key("compare", "backends", "list[str]", ["criu", "pickle"],
        "Backends `cryo compare` runs under equal budgets; each a `[backend] kind`."),
)  # fmt: skip
"""Every key but those of [backend], which come from the backend registry: see `schema()`."""

SECTIONS = ("env", "backend", "search", "policy", "suite", "run", "compare")
BACKEND_KIND_DOC = (
    "How a tree node keeps its state: a frozen CRIU image (`criu`), a repl pickle replayed into a fresh "
    "process (`pickle`), a pickle replayed into a pool of warm processes (`pickle-warm`), or the repl's own "
    "proof states inside one live process (`native`); or a kind added through the entry-point group "
    "`cryo.backends`."
)


def _registry() -> Any:
    from treesearch.backends import registry

    return registry


def _key_of(setting: Any, kinds: tuple[str, ...] = ()) -> Key:
    return Key("backend", setting.name, setting.kind, _NOTHING if setting.default is None else setting.default,
               setting.doc, choices=tuple(setting.choices), minimum=setting.minimum, maximum=setting.maximum,
               kinds=kinds)


def backend_keys(selected: str | None = None) -> tuple[Key, ...]:
    """The [backend] keys: `kind`, the registry's `COMMON_SETTINGS`, then every known kind's own settings.

    A setting name that several kinds declare is listed once; its schema is that of `selected` when `selected`
    declares it, else that of the first kind (in `backend_names()` order) that does, and `kinds` names them
    all."""
    reg = _registry()
    from treesearch.errors import BackendError

    try:
        names = reg.backend_names()
        kinds = {name: reg.backend_kind(name) for name in names}
    except BackendError as e:  # e.g. a package's cryo.backends entry point that does not load
        raise ConfigError(f"the backend registry cannot list the backend kinds: {e}") from e
    keys = [Key("backend", "kind", "str", "criu", BACKEND_KIND_DOC, choices=names)]
    keys += [_key_of(s) for s in reg.COMMON_SETTINGS]
    common = {s.name for s in reg.COMMON_SETTINGS} | {"kind"}
    own: dict[str, list[tuple[str, Any]]] = {}
    for name in names:
        for setting in kinds[name].settings:
            if setting.name in common:
                raise ConfigError(f"backend kind {name!r} declares the setting {setting.name!r}, which is a "
                                  "common [backend] key; rename it in that kind")
            own.setdefault(setting.name, []).append((name, setting))
    for key, declared in own.items():
        chosen = next((st for kind, st in declared if kind == selected), declared[0][1])
        keys.append(_key_of(chosen, tuple(kind for kind, _ in declared)))
    return tuple(keys)


def schema(selected: str | None = None) -> tuple[Key, ...]:
    """Every key of a config: `SCHEMA` and the registry's [backend] keys (see `backend_keys`)."""
    static = {sec: [k for k in SCHEMA if k.section == sec] for sec in SECTIONS}
    static["backend"] = list(backend_keys(selected))
    return tuple(k for sec in SECTIONS for k in static[sec])


def _by_section(keys: Sequence[Key]) -> dict[str, dict[str, Key]]:
    return {s: {k.name: k for k in keys if k.section == s} for s in SECTIONS}


@dataclass(frozen=True)
class EnvConfig:
    repl: str
    command: tuple[str, ...]
    cwd: Path | None
    imports: tuple[str, ...]
    library_size: int | None
    library_storage: str | None = None


@dataclass(frozen=True)
class BackendConfig:
    """`[backend]`: the kind, the keys common to every kind, and `options`, every kind-specific key given (of any
    kind, validated, in file order); `settings()` is what the selected kind's `make` reads."""

    kind: str
    workers: int
    image_dir: Path | None
    image_budget: int
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str) -> Any:
        """The value of the selected kind's setting `name`: as given, else its default."""
        given = dict(self.options)
        if name in given:
            return given[name]
        for setting in _registry().backend_kind(self.kind).settings:
            if setting.name == name:
                return setting.default
        raise ConfigError(f"backend kind {self.kind!r} has no setting {name!r}")

    def own(self) -> dict[str, Any]:
        """The selected kind's own settings: the values given, else their defaults."""
        given = dict(self.options)
        return {s.name: given.get(s.name, s.default) for s in _registry().backend_kind(self.kind).settings}

    def ignored(self) -> list[str]:
        """Keys given for other kinds, which this kind ignores."""
        own = {s.name for s in _registry().backend_kind(self.kind).settings}
        return [name for name, _ in self.options if name not in own]

    def settings(self) -> dict[str, Any]:
        """The [backend] keys the selected kind reads (common ones and its own), for `BackendKind.make`,
        `run_context` and `preflight` (the runner adds `argv` and `tactic_timeout`)."""
        return {"workers": self.workers, "image_dir": str(self.image_dir) if self.image_dir else "",
                "image_budget": self.image_budget, **self.own()}


@dataclass(frozen=True)
class SearchConfig:
    algorithm: str
    max_expansions: int
    time_limit: float
    tactic_timeout: float
    memory_limit: int
    tactics_per_expansion: int
    max_in_flight: int
    seed: int


@dataclass(frozen=True)
class PolicyConfig:
    """`[policy]`: the policies by spec, the proposer's keyword arguments (`[policy.settings]`) and the
    proposal batching window."""

    selector: str
    proposer: str
    value: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int = 1
    batch_wait: float = 0.005


@dataclass(frozen=True)
class SuiteConfig:
    paths: tuple[str, ...]
    names: tuple[str, ...]
    exclude: tuple[str, ...]
    max_difficulty: int | None
    limit: int | None
    base_dir: Path


@dataclass(frozen=True)
class RunConfig:
    output: str
    name: str
    repeats: int
    recheck: bool


@dataclass(frozen=True)
class CompareConfig:
    backends: tuple[str, ...]


@dataclass(frozen=True)
class ExperimentConfig:
    """A validated experiment.  `source` is the file it came from, `text` its TOML text (copied into runs)."""

    env: EnvConfig
    backend: BackendConfig
    search: SearchConfig
    policy: PolicyConfig
    suite: SuiteConfig
    run: RunConfig
    compare: CompareConfig
    source: Path | None = None
    text: str = ""
    overrides: tuple[tuple[str, Any], ...] = field(default=())

    def with_backend(self, kind: str) -> "ExperimentConfig":
        """The same experiment on another backend (kind-specific keys given for any kind go along)."""
        names = _registry().backend_names()
        if kind not in names:
            raise ConfigError(f"unknown backend {kind!r}; allowed: {', '.join(names)}")
        return replace(self, backend=replace(self.backend, kind=kind))

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """The effective values, section -> key -> TOML-compatible value (None for an absent optional); [backend]
        holds the selected kind's keys (and `ignored`: keys given for other kinds)."""
        out: dict[str, dict[str, Any]] = {}
        for section in SECTIONS:
            obj = getattr(self, section)
            row: dict[str, Any] = {}
            if section == "backend":
                row = {"kind": self.backend.kind, "workers": self.backend.workers,
                       "image_dir": str(self.backend.image_dir) if self.backend.image_dir else "",
                       "image_budget": self.backend.image_budget, **self.backend.own()}
                if self.backend.ignored():
                    row["ignored"] = self.backend.ignored()
                out[section] = row
                continue
            for k in SCHEMA:
                if k.section != section:
                    continue
                v = getattr(obj, k.name)
                if isinstance(v, Path):
                    v = str(v)
                elif isinstance(v, tuple):
                    v = list(v)
                elif isinstance(v, Mapping):
                    v = dict(v)
                row[k.name] = v
            out[section] = row
        return out


def _where(source: str, section: str, name: str) -> str:
    return f"{source}: [{section}] {name}"


def _check_value(key: Key, value: Any, where: str) -> Any:
    """Validate one value against its key; return the normalised value."""

    def bad(problem: str) -> ConfigError:
        return ConfigError(f"{where} = {value!r}: {problem}; allowed: {key.allowed()}")

    kind = key.kind
    if kind in ("str", "policy"):
        if not isinstance(value, str):
            raise bad(f"expected a string, got {type(value).__name__}")
        if key.choices and value not in key.choices:
            raise bad("not one of the allowed values")
        if kind == "policy" and value and not _DOTTED_RE.match(value.replace("-", "_")):
            raise bad("not a builtin name or a dotted path such as \"my_pkg.policies:MyProposer\"")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad(f"expected true or false, got {type(value).__name__}")
        return value
    if kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind == "int" and isinstance(value, float)):
            raise bad(f"expected {'an integer' if kind == 'int' else 'a number'}, got {type(value).__name__}")
        if key.minimum is not None and value < key.minimum:
            raise bad(f"must be >= {key.minimum:g}")
        if key.maximum is not None and value > key.maximum:
            raise bad(f"must be <= {key.maximum:g}")
        return float(value) if kind == "float" else int(value)
    if kind == "list[str]":
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise bad("expected an array of strings")
        return tuple(value)
    if kind == "size":
        try:
            return parse_size(value)
        except (TypeError, ValueError) as e:
            raise bad(str(e)) from e
    if kind == "table":
        if not isinstance(value, dict):
            raise bad(f"expected a table (write it as [{key.section}.{key.name}]), got {type(value).__name__}")
        for secret in ("api_key",):
            if secret in value:
                raise ConfigError(f"{where}: an API key never goes in a config (found `{secret}`); export it in "
                                  "the environment and name the variable with api_key_env = \"MY_API_KEY\"")
        return dict(value)
    raise ConfigError(f"internal: key {key.section}.{key.name} has unknown kind {kind!r}")


def _parse_override(spec: str) -> tuple[str, str, Any]:
    """`section.key=VALUE` -> (section, key, value); VALUE is read as TOML, else taken as a string."""
    if "=" not in spec or "." not in spec.split("=", 1)[0]:
        raise ConfigError(f"override {spec!r}: write it as SECTION.KEY=VALUE, e.g. backend.kind=pickle")
    lhs, rhs = spec.split("=", 1)
    section, name = lhs.strip().split(".", 1)
    try:
        value = tomllib.loads(f"v = {rhs}")["v"]
    except tomllib.TOMLDecodeError:
        value = rhs
    return section, name, value


def parse_config(
    text: str,
    *,
    source: str | Path = "<config>",
    base_dir: Path | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
) -> ExperimentConfig:
    """Validate TOML text into an `ExperimentConfig`.

    `overrides` are `"section.key=VALUE"` strings (or a mapping `"section.key" -> value`) applied on top of the
    file, validated the same way.
    """
    src = str(source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{src}: not valid TOML: {e}") from e
    data = {s: dict(v) if isinstance(v, dict) else v for s, v in data.items()}
    ov_items: list[tuple[str, str, Any]] = []
    if isinstance(overrides, Mapping):
        for lhs, value in overrides.items():
            section, _, name = lhs.partition(".")
            ov_items.append((section, name, value))
    else:
        ov_items = [_parse_override(o) for o in overrides]
    for section, name, value in ov_items:
        table = data.setdefault(section, {})
        if not isinstance(table, dict):
            continue
        head, dot, rest = name.partition(".")
        if dot and isinstance(table.get(head, {}), dict):  # `policy.settings.model=...`: one key of a sub-table
            table[head] = {**table.get(head, {}), rest: value}
        else:
            table[name] = value

    selected = data.get("backend", {}).get("kind") if isinstance(data.get("backend"), dict) else None
    by_section = _by_section(schema(selected if isinstance(selected, str) else None))
    values: dict[str, dict[str, Any]] = {}
    for section, table in data.items():
        if section not in by_section:
            raise ConfigError(
                f"{src}: unknown section [{section}]; allowed sections: "
                + ", ".join(f"[{s}]" for s in SECTIONS)
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{src}: `{section}` must be a table written [{section}], got {type(table).__name__}")
        for name, value in table.items():
            key = by_section[section].get(name)
            if key is None:
                raise ConfigError(
                    f"{src}: unknown key `{name}` in [{section}]; allowed keys: "
                    + ", ".join(k.name + (f" ({'/'.join(k.kinds)})" if k.kinds else "")
                                for k in by_section[section].values())
                )
            values.setdefault(section, {})[name] = _check_value(key, value, _where(src, section, name))

    def get(section: str, name: str) -> Any:
        key = by_section[section][name]
        if name in values.get(section, {}):
            return values[section][name]
        if key.default is _NOTHING:
            return None
        return _check_value(key, key.default, f"default of [{section}] {name}")

    base = Path(base_dir) if base_dir is not None else (Path(src).resolve().parent if src != "<config>" else Path.cwd())

    kinds = by_section["backend"]["kind"].choices
    for b in get("compare", "backends"):
        if b not in kinds:
            raise ConfigError(f"{src}: [compare] backends contains {b!r}; allowed: {', '.join(kinds)}")
    if not get("compare", "backends"):
        raise ConfigError(f"{src}: [compare] backends is empty; name at least one of {', '.join(kinds)}")
    for minilean_only in ("library_size", "library_storage"):
        if get("env", "repl") == "lake" and get("env", minilean_only) is not None:
            raise ConfigError(
                f"{src}: [env] {minilean_only} = {get('env', minilean_only)!r} only applies to repl = "
                "\"minilean\"; remove it or set repl = \"minilean\""
            )
    for module in get("env", "imports"):
        if not module or any(ch.isspace() for ch in module):
            raise ConfigError(f"{src}: [env] imports contains {module!r}; each entry is one module name such as "
                              "\"Mathlib\" (no spaces)")
    if not get("suite", "paths"):
        raise ConfigError(f"{src}: [suite] paths is empty; name at least one file or glob, e.g. [\"bundled:*.lean\"]")

    cwd_s = get("env", "cwd")
    cwd = Path(cwd_s).expanduser() if cwd_s else None
    if cwd is not None and not cwd.is_absolute():
        cwd = base / cwd
    if cwd is not None and not cwd.is_dir():
        raise ConfigError(f"{src}: [env] cwd = {cwd_s!r}: {cwd} is not a directory; give the repl's working "
                          "directory (for `lake`, the Lean project), relative to the config file")
    image_dir_s = get("backend", "image_dir")
    name = get("run", "name") or (Path(src).stem if src != "<config>" else "run")
    return ExperimentConfig(
        env=EnvConfig(
            repl=get("env", "repl"),
            command=get("env", "command"),
            cwd=cwd,
            imports=get("env", "imports"),
            library_size=get("env", "library_size"),
            library_storage=get("env", "library_storage"),
        ),
        backend=BackendConfig(
            kind=get("backend", "kind"),
            workers=get("backend", "workers"),
            image_dir=Path(image_dir_s).expanduser() if image_dir_s else None,
            image_budget=get("backend", "image_budget"),
            options=tuple((name, value) for name, value in values.get("backend", {}).items()
                          if name not in _COMMON_BACKEND_KEYS),
        ),
        search=SearchConfig(**{k: get("search", k) for k in by_section["search"]}),
        policy=PolicyConfig(**{k: get("policy", k) for k in by_section["policy"]}),
        suite=SuiteConfig(
            paths=get("suite", "paths"),
            names=get("suite", "names"),
            exclude=get("suite", "exclude"),
            max_difficulty=get("suite", "max_difficulty"),
            limit=get("suite", "limit"),
            base_dir=base,
        ),
        run=RunConfig(output=get("run", "output"), name=name, repeats=get("run", "repeats"),
                      recheck=get("run", "recheck")),
        compare=CompareConfig(backends=get("compare", "backends")),
        source=Path(src) if src != "<config>" else None,
        text=text,
        overrides=tuple((f"{s}.{n}", v) for s, n, v in ov_items),
    )


def load_config(path: str | Path, *, overrides: Sequence[str] | Mapping[str, Any] = ()) -> ExperimentConfig:
    """Read and validate a TOML experiment config file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"config file {p} does not exist; bundled examples: {_bundled_configs()}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {p}: {e}") from e
    return parse_config(text, source=p, base_dir=p.resolve().parent, overrides=overrides)


_COMMON_BACKEND_KEYS = ("kind", "workers", "image_dir", "image_budget")


def repl_argv(config: ExperimentConfig) -> list[str]:
    """The repl argv of the experiment: `[env] command`, else MiniLean or `lake env repl`."""
    env = config.env
    from lean_env.repl_cmd import lake_repl_argv, minilean_argv

    if not env.command and env.repl == "lake":
        return list(lake_repl_argv(project=env.cwd))  # `lake -d PROJECT env repl` runs from any directory
    if env.command:
        argv = list(env.command)
    else:
        argv = list(minilean_argv(library_size=env.library_size, imports=tuple(env.imports),
                                  library_storage=env.library_storage))
    if env.cwd is not None:
        # The backends start processes in the current directory; coreutils `env --chdir` moves the repl.
        argv = ["env", f"--chdir={env.cwd}", *argv]
    return argv


def _bundled_configs() -> str:
    d = Path(__file__).resolve().parent / "configs"
    return ", ".join(str(p) for p in sorted(d.glob("*.toml"))) or "(none)"


def _fmt_default(key: Key) -> str:
    if key.default is _NOTHING:
        return "(absent)"
    if isinstance(key.default, dict):
        return "`{}`"
    if isinstance(key.default, bool):
        return "`true`" if key.default else "`false`"
    if isinstance(key.default, (list, tuple)):
        return "`[" + ", ".join(f'"{x}"' for x in key.default) + "]`"
    if isinstance(key.default, str):
        return f'`"{key.default}"`'
    return f"`{key.default}`"


def _doc(key: Key) -> str:
    """A key's meaning; a key only some backend kinds read says which, unless its text does already."""
    if not key.kinds:
        return key.doc
    prefix = f"{' / '.join(key.kinds)} only"
    return key.doc if key.doc.startswith(prefix) else f"{prefix}: {key.doc}"


def reference_markdown() -> str:
    """The config reference as Markdown tables, one per section (generated from `schema()`)."""
    out: list[str] = []
    by_section = _by_section(schema())
    for section in SECTIONS:
        out.append(f"### [{section}]\n")
        out.append("| key | type | default | allowed | meaning |")
        out.append("|---|---|---|---|---|")
        for k in by_section[section].values():
            doc = _doc(k).replace("|", "\\|")
            allowed = k.allowed().replace("|", "\\|")
            out.append(f"| `{k.name}` | {k.kind} | {_fmt_default(k)} | {allowed} | {doc} |")
        out.append("")
    return "\n".join(out)



if __name__ == "__main__":
    print(reference_markdown())
