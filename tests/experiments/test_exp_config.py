"""Config validation: every bad key, type or value is named with its file and the allowed values."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.config import ConfigError, load_config, parse_config, parse_size, reference_markdown, schema

CONFIGS = Path(__file__).resolve().parents[2] / "experiments" / "configs"
DOC = Path(__file__).resolve().parents[2] / "README.md"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "exp.toml"
    p.write_text(text)
    return p


def error_of(tmp_path: Path, text: str) -> str:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    msg = str(ei.value)
    assert str(p) in msg, f"error does not name the file: {msg}"
    return msg


def test_defaults_fill_every_section():
    c = parse_config("")
    assert c.env.repl == "minilean"
    assert c.backend.kind == "criu" and c.backend.workers == 2 and c.backend.image_budget == 4 * 2**30
    assert c.search.algorithm == "best-first" and c.search.max_expansions == 64
    assert c.suite.paths == ("bundled:*.lean",) and c.suite.limit is None
    assert c.run.repeats == 1 and c.run.recheck is True
    assert c.compare.backends == ("criu", "pickle")


@pytest.mark.parametrize("name", ["default.toml", "demo.toml"])
def test_bundled_configs_load(name):
    c = load_config(CONFIGS / name)
    assert c.source == CONFIGS / name and c.text


def test_unknown_backend_names_key_and_allowed_values(tmp_path):
    msg = error_of(tmp_path, '[backend]\nkind = "criuu"\n')
    assert "[backend] kind" in msg and "'criuu'" in msg
    for allowed in ("criu", "pickle", "pickle-warm", "native"):
        assert f'"{allowed}"' in msg


def test_unknown_key_lists_allowed_keys(tmp_path):
    msg = error_of(tmp_path, "[search]\nmax_expansion = 3\n")
    assert "unknown key `max_expansion` in [search]" in msg and "max_expansions" in msg


def test_unknown_section_lists_sections(tmp_path):
    msg = error_of(tmp_path, "[serch]\nseed = 1\n")
    assert "[serch]" in msg and "[search]" in msg and "[backend]" in msg


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[search]\nseed = -1\n", "must be >= 0"),
        ("[search]\nseed = 1.5\n", "expected an integer"),
        ("[search]\nmax_expansions = \"10\"\n", "expected an integer"),
        ("[search]\ntime_limit = 0\n", "must be >= 0.001"),
        ("[backend]\nworkers = 0\n", "must be >= 1"),
        ("[backend]\nworkers = true\n", "expected an integer"),
        ("[backend]\nimage_budget = \"4 parsecs\"\n", "not a size"),
        ("[run]\nrecheck = \"yes\"\n", "expected true or false"),
        ("[suite]\nnames = \"basic_*\"\n", "expected an array of strings"),
        ("[policy]\nproposer = \"not a path!\"\n", "dotted path"),
        ("[compare]\nbackends = [\"criu\", \"frozen\"]\n", "'frozen'"),
        ("[env]\nrepl = \"lake\"\nlibrary_size = 5\n", "only applies to repl = \"minilean\""),
        ("[env]\nrepl = \"lake\"\nlibrary_storage = \"mmap\"\n", "library_storage = 'mmap' only applies"),
        ("[env]\nlibrary_storage = \"disk\"\n", "'disk'"),
        ("backend = 3\n", "must be a table"),
        ("[env]\nimports = [\"Mathlib Foo\"]\n", "one module name"),
        ("[run\n", "not valid TOML"),
    ],
)
def test_bad_values_are_named(tmp_path, text, fragment):
    msg = error_of(tmp_path, text)
    assert fragment in msg, msg


def test_missing_file_names_path_and_examples(tmp_path):
    with pytest.raises(ConfigError) as ei:
        load_config(tmp_path / "nope.toml")
    assert "nope.toml" in str(ei.value) and "default.toml" in str(ei.value)


def test_overrides_are_validated_like_the_file(tmp_path):
    p = write(tmp_path, '[backend]\nkind = "pickle"\n')
    c = load_config(p, overrides=["backend.kind=native", "search.seed=7", "suite.names=[\"eq_*\"]"])
    assert c.backend.kind == "native" and c.search.seed == 7 and c.suite.names == ("eq_*",)
    with pytest.raises(ConfigError, match=r"\[search\] seed"):
        load_config(p, overrides=["search.seed=-3"])
    with pytest.raises(ConfigError, match="SECTION.KEY=VALUE"):
        load_config(p, overrides=["seed=3"])


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    (tmp_path / "proj").mkdir()
    p = write(tmp_path, '[env]\ncwd = "proj"\n[suite]\npaths = ["mine.lean"]\n')
    c = load_config(p)
    assert c.env.cwd == tmp_path / "proj"
    assert c.suite.base_dir == tmp_path


def test_sizes():
    assert parse_size("4GiB") == 4 * 2**30
    assert parse_size("512MB") == 512 * 10**6
    assert parse_size(1024) == 1024
    with pytest.raises(ValueError):
        parse_size(-1)


def test_with_backend_keeps_everything_else():
    c = parse_config("[search]\nseed = 5\nmax_expansions = 9\n")
    d = c.with_backend("pickle")
    assert d.backend.kind == "pickle" and d.search == c.search and d.suite == c.suite
    with pytest.raises(ConfigError):
        c.with_backend("rsync")


def test_reference_doc_lists_every_key():
    ref = reference_markdown()
    doc = DOC.read_text()
    for key in schema():
        assert f"`{key.name}`" in ref
    for key in ("freeze", "clones", "keep_warm"):  # the criu kind's own settings, from its registry entry
        assert f"| `{key}` |" in ref
    assert ref in doc, "README.md is out of date: paste `python -m experiments.config` output into its Config reference"


def _made_settings(config):
    from experiments.runner import backend_settings
    from treesearch.backends import backend_kind

    return backend_kind(config.backend.kind).make(backend_settings(config)).settings()


def test_criu_clone_settings_reach_the_backend():
    c = parse_config('[backend]\nkind = "criu"\nclones = "per-tactic"\nkeep_warm = 3\nfreeze = "lazy"\n')
    settings = _made_settings(c)
    assert (settings["clones"], settings["keep_warm"], settings["freeze"]) == ("per-tactic", 3, "lazy")
    default = _made_settings(parse_config('[backend]\nkind = "criu"\n'))
    assert (default["clones"], default["keep_warm"]) == ("per-expansion", 0)
    with pytest.raises(ConfigError, match=r"clones.*per-expansion"):
        parse_config('[backend]\nclones = "per-node"\n')
    with pytest.raises(ConfigError, match="keep_warm"):
        parse_config("[backend]\nkeep_warm = -1\n")


def test_backend_keys_come_from_the_registry():
    from treesearch.backends import COMMON_SETTINGS, backend_kind, backend_names

    backend = [k for k in schema() if k.section == "backend"]
    assert backend[0].name == "kind" and backend[0].choices == backend_names()
    expected = ["kind", *(s.name for s in COMMON_SETTINGS)]
    for name in backend_names():
        expected += [s.name for s in backend_kind(name).settings if s.name not in expected]
    assert [k.name for k in backend] == expected
    criu = {s.name: s for s in backend_kind("criu").settings}
    for k in backend[1 + len(COMMON_SETTINGS):]:
        assert k.kinds == ("criu",) and k.choices == criu[k.name].choices and k.default == criu[k.name].default


def test_keys_of_another_kind_are_checked_and_ignored(tmp_path):
    """One config runs on several kinds: criu's keys do not reach a native backend, but are still validated."""
    c = parse_config('[backend]\nkind = "native"\nfreeze = "lazy"\nkeep_warm = 2\n')
    assert c.backend.settings() == {"workers": 2, "image_dir": "", "image_budget": 4 * 2**30}
    assert c.backend.ignored() == ["freeze", "keep_warm"]
    assert c.as_dict()["backend"]["ignored"] == ["freeze", "keep_warm"]
    assert _made_settings(c)["pool_size"] == 2
    criu = c.with_backend("criu")
    assert (criu.backend.option("freeze"), criu.backend.option("keep_warm"), criu.backend.option("clones")) == (
        "lazy", 2, "per-expansion")
    assert _made_settings(criu)["freeze"] == "lazy"
    msg = error_of(tmp_path, '[backend]\nkind = "native"\nfreeze = "sometimes"\n')
    assert "[backend] freeze = 'sometimes'" in msg and '"lazy"' in msg


def test_unknown_backend_key_lists_every_allowed_key(tmp_path):
    msg = error_of(tmp_path, '[backend]\nkind = "native"\nfreez = "lazy"\n')
    assert "unknown key `freez` in [backend]" in msg
    assert "allowed keys: kind, workers, image_dir, image_budget, freeze (criu), clones (criu), keep_warm (criu)" in msg


def test_library_storage_reaches_the_minilean_command_line():
    from experiments.config import repl_argv

    assert repl_argv(parse_config('[env]\nlibrary_storage = "mmap"\n'))[-2:] == ["--library-storage", "mmap"]
    assert "--library-storage" not in repl_argv(parse_config("[env]\n"))
