"""Find a working CRIU >= 4, or install one, idempotently.

Resolution order for the criu binary (first that exists wins):

1. ``$CRYO_CRIU`` -- an explicit path (a binary or a wrapper script).
2. ``[criu] binary`` in ``$CRYO_CONFIG`` (default ``~/.config/cryo/config.toml``).
3. The private install made by this module: ``$CRYO_HOME/criu/bin/criu`` (``CRYO_HOME`` defaults to
   ``/var/lib/cryo``).
4. ``criu`` on ``$PATH``, if its version is >= 4.

Installing (``python -m criu_backend.install``):

* Debian 13 (trixie) and later ship criu 4.x: ``apt-get install criu``.
* Debian 12 (bookworm) ships criu 3.17, which fails on recent kernels ("vdso: Unexpected rt vDSO area
  bounds").  We never upgrade the system libc; instead we point a *private* apt configuration (own
  sources list, state and cache dirs, the same mirror as the system's) at trixie, download criu and the
  closure of its run-time dependencies, ``dpkg -x`` them into ``$CRYO_HOME/criu/root`` and write a wrapper
  ``$CRYO_HOME/criu/bin/criu`` that runs that criu through trixie's own ``ld-linux`` with
  ``--library-path``.

Either way the installed criu must answer ``criu check`` with "Looks good", else installation fails.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from criu_backend.errors import CriuError

MIN_MAJOR = 4
TRIXIE = "trixie"
DEFAULT_MIRROR = "http://deb.debian.org/debian"


class CriuInstallError(CriuError):
    """Installing or locating criu failed; the message says what to do."""


@dataclass(frozen=True)
class CriuBinary:
    """A criu that can be run: ``argv`` is the command prefix (a wrapper script or the binary)."""

    argv: tuple[str, ...]
    version: str
    source: str  # which rule of the resolution order found it

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def cryo_home() -> Path:
    return Path(os.environ.get("CRYO_HOME", "/var/lib/cryo"))


def private_wrapper() -> Path:
    return cryo_home() / "criu" / "bin" / "criu"


def config_path() -> Path:
    return Path(os.environ.get("CRYO_CONFIG", Path.home() / ".config" / "cryo" / "config.toml"))


def _configured_binary() -> str | None:
    path = config_path()
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise CriuInstallError(f"{path}: invalid TOML ({e}); fix or remove the file") from e
    value = data.get("criu", {}).get("binary")
    if value is not None and not isinstance(value, str):
        raise CriuInstallError(f"{path}: [criu] binary must be a string path, got {value!r}")
    return value


def criu_version(argv: tuple[str, ...]) -> str:
    """Return the ``X.Y[.Z]`` version printed by ``criu --version``."""
    try:
        out = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CriuInstallError(f"cannot run {' '.join(argv)}: {e}") from e
    match = re.search(r"Version:\s*([0-9]+(?:\.[0-9]+)*)", out.stdout + out.stderr)
    if out.returncode != 0 or match is None:
        raise CriuInstallError(
            f"{' '.join(argv)} --version failed (exit {out.returncode}): {(out.stdout + out.stderr).strip()[-500:]}"
        )
    return match.group(1)


def find_criu(*, require: bool = True) -> CriuBinary | None:
    """Locate a criu >= 4 following the documented resolution order.

    With ``require=True`` a missing or too-old criu raises :class:`CriuInstallError` naming the fix.
    """
    candidates: list[tuple[str, str]] = []
    if env := os.environ.get("CRYO_CRIU"):
        candidates.append(("$CRYO_CRIU", env))
    if conf := _configured_binary():
        candidates.append((f"[criu] binary in {config_path()}", conf))
    candidates.append(("private install", str(private_wrapper())))
    if on_path := shutil.which("criu"):
        candidates.append(("$PATH", on_path))
    too_old: list[str] = []
    for source, path in candidates:
        if not Path(path).exists():
            if source.startswith("$CRYO") or source.startswith("[criu]"):
                raise CriuInstallError(f"{source} points to {path}, which does not exist")
            continue
        version = criu_version((path,))
        binary = CriuBinary((path,), version, source)
        if binary.major >= MIN_MAJOR:
            return binary
        too_old.append(f"{path} ({source}) is criu {version}")
        if source.startswith("$CRYO") or source.startswith("[criu]"):
            raise CriuInstallError(f"{too_old[-1]}; cryo needs criu >= {MIN_MAJOR}")
    if not require:
        return None
    detail = "; ".join(too_old) if too_old else "no criu found"
    raise CriuInstallError(
        f"{detail}. cryo needs criu >= {MIN_MAJOR}: run `make setup` (or `python -m criu_backend.install`), "
        "or set CRYO_CRIU to a working criu"
    )


def criu_check(binary: CriuBinary) -> tuple[bool, str]:
    """Run ``criu check``; return (looks_good, combined output)."""
    out = subprocess.run([*binary.argv, "check"], capture_output=True, text=True, timeout=120)
    text = (out.stdout + out.stderr).strip()
    return out.returncode == 0 and "Looks good" in text, text


def _os_release() -> dict[str, str]:
    fields: dict[str, str] = {}
    path = Path("/etc/os-release")
    if path.is_file():
        for line in path.read_text().splitlines():
            if "=" in line:
                key, _, value = line.partition("=")
                fields[key] = value.strip().strip('"')
    return fields


def system_mirror() -> str:
    """The Debian mirror the system's apt uses (deb822 or one-line format); deb.debian.org otherwise."""
    texts: list[str] = []
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if path.is_file() and path.suffix in {".list", ".sources", ""}:
            texts.append(path.read_text(errors="replace"))
    for text in texts:
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("#"):
                continue
            m = re.match(r"URIs:\s*(\S+)", line) or re.match(r"deb\s+(?:\[[^\]]*\]\s+)?(\S+)", line)
            if m and m.group(1).rstrip("/").endswith("/debian"):
                return m.group(1).rstrip("/")
    return DEFAULT_MIRROR


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        raise CriuInstallError(
            f"`{' '.join(cmd)}` failed (exit {out.returncode}):\n{(out.stdout + out.stderr).strip()[-2000:]}"
        )
    return out


def install_private_trixie(prefix: Path | None = None, mirror: str | None = None) -> Path:
    """Unpack trixie's criu and its library closure into ``prefix`` and write the loader wrapper.

    Uses a private apt configuration so the system's apt state is never touched.
    Returns the wrapper path.
    """
    prefix = prefix or (cryo_home() / "criu")
    mirror = mirror or system_mirror()
    arch = _run(["dpkg", "--print-architecture"]).stdout.strip()
    multiarch = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}.get(arch)
    loader_name = {"amd64": "ld-linux-x86-64.so.2", "arm64": "ld-linux-aarch64.so.1"}.get(arch)
    if multiarch is None or loader_name is None:
        raise CriuInstallError(f"private criu install supports amd64 and arm64, not {arch}")
    with tempfile.TemporaryDirectory(prefix="cryo-apt-") as tmp:
        work = Path(tmp)
        for sub in ("etc/sources.list.d", "state/lists/partial", "cache/archives/partial", "debs"):
            (work / sub).mkdir(parents=True)
        (work / "etc/sources.list").write_text(f"deb {mirror} {TRIXIE} main\n")
        (work / "state/status").write_text("")
        conf = work / "apt.conf"
        conf.write_text(
            "\n".join(
                [
                    f'Dir::Etc::SourceList "{work}/etc/sources.list";',
                    f'Dir::Etc::SourceParts "{work}/etc/sources.list.d";',
                    f'Dir::State "{work}/state";',
                    f'Dir::State::status "{work}/state/status";',
                    f'Dir::Cache "{work}/cache";',
                    f'APT::Architecture "{arch}";',
                    'APT::Sandbox::User "root";',
                    "",
                ]
            )
        )
        env = {**os.environ, "APT_CONFIG": str(conf)}
        _run(["apt-get", "-o", "Debug::NoLocking=1", "update"], env=env, timeout=600)
        deps = _run(
            ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
             "--no-breaks", "--no-replaces", "--no-enhances", "criu"],
            env=env,
        ).stdout
        packages = sorted({line.strip() for line in deps.splitlines() if re.match(r"^[a-z0-9]", line)})
        if "criu" not in packages:
            raise CriuInstallError(f"trixie at {mirror} has no criu package")
        _run(["apt-get", "-o", "Debug::NoLocking=1", "download", *packages], env=env, cwd=work / "debs",
             timeout=600)
        staging = Path(tempfile.mkdtemp(prefix=".criu-staging-", dir=prefix.parent if prefix.parent.exists()
                                        else _mkdirs(prefix.parent)))
        try:
            root = staging / "root"
            root.mkdir()
            for deb in sorted((work / "debs").glob("*.deb")):
                _run(["dpkg", "-x", str(deb), str(root)])
            libdirs = [root / "usr/lib" / multiarch, root / "lib" / multiarch]
            loader = next((d / loader_name for d in libdirs if (d / loader_name).exists()), None)
            if loader is None:
                raise CriuInstallError(f"trixie libc6 did not provide {loader_name}")
            final_root = prefix / "root"
            libpath = ":".join(str(final_root / d.relative_to(root)) for d in libdirs if d.exists())
            final_loader = final_root / loader.relative_to(root)
            (staging / "bin").mkdir()
            wrapper = staging / "bin" / "criu"
            wrapper.write_text(
                "#!/bin/sh\n"
                "# criu 4 from Debian trixie, run through trixie's own loader; the system libc is untouched.\n"
                f'exec "{final_loader}" --library-path "{libpath}" "{final_root}/usr/sbin/criu" "$@"\n'
            )
            wrapper.chmod(0o755)
            if prefix.exists():
                shutil.rmtree(prefix)
            staging.rename(prefix)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
    return prefix / "bin" / "criu"


def _mkdirs(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def ensure_criu(*, quiet: bool = False) -> CriuBinary:
    """Find a criu >= 4 that passes ``criu check``, installing one if needed.  Idempotent."""
    say = (lambda *_: None) if quiet else (lambda msg: print(f"[cryo setup] {msg}", flush=True))
    binary = find_criu(require=False)
    if binary is None:
        release = _os_release()
        version_id = int(release.get("VERSION_ID", "0").split(".")[0] or 0)
        if release.get("ID") != "debian":
            raise CriuInstallError(
                f"no criu >= {MIN_MAJOR} found and automatic install supports Debian only "
                f"(this is {release.get('PRETTY_NAME', 'unknown')}); install criu >= 4 and set CRYO_CRIU"
            )
        if os.geteuid() != 0:
            raise CriuInstallError("installing criu needs root; rerun `make setup` as root")
        if version_id >= 13:
            say("installing criu from Debian's own archive (apt-get install criu)")
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            _run(["apt-get", "update"], env=env, timeout=900)
            _run(["apt-get", "install", "-y", "--no-install-recommends", "criu"], env=env, timeout=900)
        else:
            say(f"Debian {version_id}: unpacking trixie's criu into {cryo_home() / 'criu'} (private root)")
            install_private_trixie()
        binary = find_criu(require=False)
        if binary is None:
            raise CriuInstallError(f"criu was installed but no criu >= {MIN_MAJOR} can be found afterwards")
    ok, text = criu_check(binary)
    if not ok:
        raise CriuInstallError(
            f"`criu check` with {' '.join(binary.argv)} (criu {binary.version}) did not say 'Looks good':\n"
            f"{text[-2000:]}\nRun `cryo doctor` for the kernel and permission checks."
        )
    say(f"criu {binary.version} at {' '.join(binary.argv)} ({binary.source}): criu check looks good")
    return binary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m criu_backend.install", description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        ensure_criu(quiet=args.quiet)
    except CriuInstallError as e:
        print(f"cryo setup: CRIU is not usable: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
