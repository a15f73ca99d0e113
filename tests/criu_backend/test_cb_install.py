"""find_criu resolution order ($CRYO_CRIU, then the config file, then the private install, then $PATH) and its
error texts, against the real criu and small real scripts standing in for other versions."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from criu_backend import CriuInstallError, find_criu
from criu_backend.errors import CriuError


def _fake_criu(path: Path, version: str) -> Path:
    path.write_text(f"#!/bin/sh\necho 'Version: {version}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv("CRYO_CRIU", raising=False)
    monkeypatch.setenv("CRYO_CONFIG", str(tmp_path / "no-config.toml"))
    return monkeypatch


def test_default_finds_a_criu_4(criu, clean_env):
    found = find_criu()
    assert found.major >= 4
    assert found.source in {"private install", "$PATH"}


def test_env_var_wins_over_config(criu, clean_env, tmp_path):
    conf = tmp_path / "config.toml"
    conf.write_text(f'[criu]\nbinary = "{_fake_criu(tmp_path / "old", "4.0")}"\n')
    clean_env.setenv("CRYO_CONFIG", str(conf))
    clean_env.setenv("CRYO_CRIU", criu.argv[0])
    found = find_criu()
    assert found.source == "$CRYO_CRIU" and found.argv == criu.argv and found.version == criu.version


def test_config_file_is_used_when_no_env(criu, clean_env, tmp_path):
    fake = _fake_criu(tmp_path / "criu-4.2", "4.2")
    conf = tmp_path / "config.toml"
    conf.write_text(f'[criu]\nbinary = "{fake}"\n')
    clean_env.setenv("CRYO_CONFIG", str(conf))
    found = find_criu()
    assert found.version == "4.2" and found.source.startswith("[criu] binary in")


def test_env_pointing_nowhere_is_an_error(clean_env, tmp_path):
    clean_env.setenv("CRYO_CRIU", str(tmp_path / "missing-criu"))
    with pytest.raises(CriuInstallError, match=r"\$CRYO_CRIU points to .*missing-criu, which does not exist"):
        find_criu()


def test_too_old_criu_names_the_minimum(clean_env, tmp_path):
    clean_env.setenv("CRYO_CRIU", str(_fake_criu(tmp_path / "criu3", "3.17")))
    with pytest.raises(CriuInstallError, match=r"is criu 3\.17; cryo needs criu >= 4"):
        find_criu()


def test_bad_config_file_errors(clean_env, tmp_path):
    conf = tmp_path / "config.toml"
    clean_env.setenv("CRYO_CONFIG", str(conf))
    conf.write_text("[criu\nbinary=")
    with pytest.raises(CriuInstallError, match="invalid TOML"):
        find_criu()
    conf.write_text("[criu]\nbinary = 4\n")
    with pytest.raises(CriuInstallError, match="must be a string path"):
        find_criu()


def test_nothing_found_says_how_to_install(clean_env, tmp_path):
    clean_env.setenv("CRYO_HOME", str(tmp_path / "home"))
    clean_env.setenv("PATH", str(tmp_path))  # no criu here
    assert find_criu(require=False) is None
    with pytest.raises(CriuInstallError, match=r"no criu found\. cryo needs criu >= 4: run `make setup`"):
        find_criu()


def test_unrunnable_binary_is_reported(clean_env, tmp_path):
    broken = tmp_path / "criu"
    broken.write_text("#!/bin/sh\necho broken >&2\nexit 2\n")
    broken.chmod(0o755)
    clean_env.setenv("CRYO_CRIU", str(broken))
    with pytest.raises(CriuInstallError, match=r"--version failed \(exit 2\): broken"):
        find_criu()


def test_install_error_is_in_the_family():
    assert issubclass(CriuInstallError, CriuError)
