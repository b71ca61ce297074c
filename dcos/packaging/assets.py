"""Wheel sets: the Python code a package brings to the agents, as one tar of wheels.

A set is `wheels/<set>.txt` in a source repository: pip requirement lines (downloaded from the
package index as binary wheels, with their dependencies, for the interpreter that runs the
build: the one the agents run tasks with), and lines `src/<project>` naming our own projects
under the repository (built with `pip wheel --no-deps --no-build-isolation`; list their
dependencies in the set as requirement lines). The build writes `assets/<set>.tar` holding
`<set>/<wheel files>`; a stamp (sha256 of the requirement file, the local projects' sources and
the interpreter) makes a rebuild with nothing changed skip pip entirely (offline, fast).

Called by: `dcos.packaging.validate` (`read_wheel_sets`: the sets and their problems) and
`dcos.packaging.build` (`build_wheel_set` for each set).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

WHEELS_DIR = "wheels"
SOURCES_DIR = "src"
ASSETS_DIR = "assets"
STAMPS_DIR = ".stamps"
SET_NAME = re.compile(r"^[a-z0-9_]+$")
LOCAL_LINE = re.compile(r"^src/([A-Za-z0-9_.-]+)/?$")
# Folders of a local project that are build output, not sources (not hashed, not copied).
IGNORED_DIRS = frozenset({"build", "dist", "__pycache__", ".pytest_cache", ".mypy_cache", ".venv"})
# How many of pip's last output lines an AssetError quotes.
PIP_TAIL_LINES = 15

Outcome = Literal["built", "fresh"]
Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


class AssetError(Exception):
    """A wheel set that could not be built: `set_name` and what failed (pip's last lines)."""

    def __init__(self, set_name: str, reason: str) -> None:
        super().__init__(f"wheel set {set_name}: {reason}")
        self.set_name = set_name
        self.reason = reason


@dataclass(frozen=True)
class WheelSet:
    """One `wheels/<name>.txt`: its PyPI requirement lines and local project folders."""

    name: str
    requirements_file: Path
    requirements: tuple[str, ...]
    local_projects: tuple[Path, ...]

    @property
    def asset_path(self) -> str:
        """The set's tar relative to the index (`assets/<name>.tar`): what resource.json names."""
        return f"{ASSETS_DIR}/{self.name}.tar"


def read_wheel_sets(src: Path) -> tuple[dict[str, WheelSet], list[tuple[Path, str]]]:
    """Every wheel set of the source repository `src`, and each problem found as (file, reason):
    a bad set name, an option line, a `src/<project>` that is not a Python project."""
    sets: dict[str, WheelSet] = {}
    problems: list[tuple[Path, str]] = []
    folder = src / WHEELS_DIR
    if not folder.is_dir():
        return sets, problems
    for path in sorted(folder.iterdir()):
        if path.suffix != ".txt" or not path.is_file():
            problems.append((path, "a wheel set is a <set>.txt file of requirement lines"))
            continue
        name = path.stem
        if not SET_NAME.match(name):
            problems.append((path, f"wheel set name {name!r} must match [a-z0-9_]+"))
            continue
        requirements: list[str] = []
        local: list[Path] = []
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            local_match = LOCAL_LINE.match(line)
            if local_match:
                project = src / SOURCES_DIR / local_match.group(1)
                if not ((project / "pyproject.toml").is_file() or (project / "setup.py").is_file()):
                    problems.append((path, f"line {number}: {line} is not a Python project"
                                           " (no pyproject.toml or setup.py)"))
                local.append(project)
            elif line.startswith("-"):
                problems.append((path, f"line {number}: pip options ({line.split()[0]}) are not"
                                       " allowed in a wheel set; list requirements only"))
            else:
                requirements.append(line)
        if not requirements and not local:
            problems.append((path, "the wheel set lists no requirement"))
        sets[name] = WheelSet(name, path, tuple(requirements), tuple(local))
    return sets, problems


def stamp(wheel_set: WheelSet, python: str = sys.executable) -> str:
    """The sha256 that decides whether a built tar is current: the requirement file, every
    source file of the local projects, the interpreter and the platform."""
    digest = hashlib.sha256()
    digest.update(f"{python}\n{sys.version}\n{sysconfig.get_platform()}\n".encode())
    digest.update(wheel_set.requirements_file.read_bytes())
    for project in wheel_set.local_projects:
        for path in _source_files(project):
            digest.update(str(path.relative_to(project)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _source_files(project: Path) -> list[Path]:
    out: list[Path] = []
    for root, dirs, files in os.walk(project):
        dirs[:] = sorted(d for d in dirs if not _ignored(d))
        out.extend(Path(root) / f for f in sorted(files) if not f.endswith((".pyc", ".pyo")))
    return out


def _ignored(name: str) -> bool:
    return name in IGNORED_DIRS or name.endswith(".egg-info")


def build_wheel_set(
    wheel_set: WheelSet, out: Path, python: str = sys.executable, runner: Runner | None = None,
) -> Outcome:
    """Make `out/assets/<set>.tar` current: "fresh" when its stamp matches (nothing run),
    "built" after downloading / building the wheels with `python -m pip`. Raises `AssetError`
    with pip's last lines when pip fails; the old tar (if any) is then left as it was."""
    run = runner or _run
    tar_path = out / wheel_set.asset_path
    stamp_path = out / STAMPS_DIR / f"{wheel_set.name}.sha256"
    want = stamp(wheel_set, python)
    if tar_path.is_file() and stamp_path.is_file() and stamp_path.read_text().strip() == want:
        return "fresh"
    tar_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"wheels-{wheel_set.name}-") as tmp:
        dest = Path(tmp) / "wheels"
        dest.mkdir()
        if wheel_set.requirements:
            req = Path(tmp) / "requirements.txt"
            req.write_text("\n".join(wheel_set.requirements) + "\n", encoding="utf-8")
            _pip(run, wheel_set.name, "download", [
                python, "-m", "pip", "download", "--only-binary=:all:", "--dest", str(dest),
                "--disable-pip-version-check", "--no-input", "-r", str(req)])
        for project in wheel_set.local_projects:
            copy = Path(tmp) / "src" / project.name
            shutil.copytree(project, copy, ignore=lambda _d, names: [n for n in names if _ignored(n)])
            _pip(run, wheel_set.name, f"wheel of src/{project.name}", [
                python, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dest),
                "--disable-pip-version-check", "--no-input", str(copy)])
        wheels = sorted(dest.glob("*.whl"))
        if not wheels:
            raise AssetError(wheel_set.name, "pip produced no wheel")
        partial = tar_path.with_name(tar_path.name + ".partial")
        with tarfile.open(partial, "w") as tar:
            for wheel in wheels:
                tar.add(wheel, arcname=f"{wheel_set.name}/{wheel.name}", filter=_normalized)
        os.replace(partial, tar_path)
    stamp_path.parent.mkdir(parents=True, exist_ok=True)
    stamp_path.write_text(want + "\n")
    return "built"


def _normalized(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o644
    return info


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False)


def _pip(run: Runner, set_name: str, what: str, argv: list[str]) -> None:
    result = run(argv)
    if result.returncode != 0:
        lines = ((result.stdout or "") + "\n" + (result.stderr or "")).strip().splitlines()
        tail = "\n".join(lines[-PIP_TAIL_LINES:])
        raise AssetError(set_name, f"pip {what} failed (exit {result.returncode}):\n{tail}")


def copy_if_changed(path: Path, target: Path) -> bool:
    """Copy the file `path` to `target` unless `target` already holds the same bytes; whether
    it copied. Called by `copy_repository_assets` and `dcos.packaging.images`."""
    if target.is_file() and target.read_bytes() == path.read_bytes():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return True


def copy_repository_assets(src: Path, out: Path) -> list[Path]:
    """Copy the files under `src/assets/` (icons and other repo-held assets) to `out/assets/`
    when missing or changed; returns the files copied."""
    source = src / ASSETS_DIR
    copied: list[Path] = []
    if not source.is_dir():
        return copied
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        target = out / ASSETS_DIR / path.relative_to(source)
        if copy_if_changed(path, target):
            copied.append(target)
    return copied
