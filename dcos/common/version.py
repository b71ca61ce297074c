"""dcos-py's version and build, for `/version` endpoints, `--version` flags and logs.

Called by: the master's and agents' ``/version`` handlers (Mesos shape: `mesos_json`), the
webapp's ``/v2/info``, and ``dcos-py --version``. Computed once per process.

- `version`: the installed distribution's version (`importlib.metadata`, "dcos-py"), else
  the one in the checkout's pyproject.toml, else "0+unknown".
- `git_sha` and `build_time`/`build_date` (the commit's date, UTC): from ``git`` when running
  from a checkout (``dirty`` when it has uncommitted changes), else from the build stamp
  ``dcos/_build_stamp.json`` that ``scripts/stamp_build.py`` writes before a wheel is built,
  else empty (sha "unknown", time 0).
"""

from __future__ import annotations

import functools
import getpass
import json
import re
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

DISTRIBUTION = "dcos-py"
PACKAGE_DIR = Path(__file__).resolve().parent.parent  # .../dcos
CHECKOUT = PACKAGE_DIR.parent
STAMP = PACKAGE_DIR / "_build_stamp.json"


@dataclass(frozen=True)
class VersionInfo:
    """What `version_info()` found; `build_date` is ``YYYY-MM-DD HH:MM:SS`` UTC ('' if unknown)."""

    version: str
    git_sha: str
    build_time: float
    build_date: str
    build_user: str
    dirty: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def mesos_json(self, api_version: str) -> dict[str, Any]:
        """The Mesos ``/version`` body: `version` is the Mesos API level clients gate on
        (`api_version`); `git_tag` and `dcos_py_version` carry dcos-py's own version."""
        return {
            "version": api_version,
            "build_date": self.build_date,
            "build_time": self.build_time,
            "build_user": self.build_user,
            "git_sha": self.git_sha,
            "git_tag": self.version,
            "dcos_py_version": self.version,
        }


def _installed_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pass
    try:
        text = (CHECKOUT / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return "0+unknown"
    m = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return m.group(1) if m else "0+unknown"


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(CHECKOUT), *args], capture_output=True,
                             text=True, timeout=5, check=True)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _from_checkout() -> tuple[str, float, bool] | None:
    if not (CHECKOUT / ".git").exists():
        return None
    sha = _git("rev-parse", "HEAD")
    when = _git("log", "-1", "--format=%ct")
    if not sha or not when:
        return None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return sha, float(when), bool(status)


def _from_stamp() -> tuple[str, float, str] | None:
    try:
        data = json.loads(STAMP.read_text(encoding="utf-8"))
        return str(data["git_sha"]), float(data["build_time"]), str(data.get("build_user", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


@functools.cache
def version_info() -> VersionInfo:
    """dcos-py's version and build (see the module docstring); cached for the process."""
    version = _installed_version()
    checkout = _from_checkout()
    if checkout is not None:
        sha, ts, dirty = checkout
        return VersionInfo(version, sha, ts, _date(ts), _user(), dirty)
    stamp = _from_stamp()
    if stamp is not None:
        sha, ts, user = stamp
        return VersionInfo(version, sha, ts, _date(ts), user)
    return VersionInfo(version, "unknown", 0.0, "", "")


def stamp_json() -> str:
    """The build stamp for the current checkout (what ``scripts/stamp_build.py`` writes)."""
    info = version_info()
    return json.dumps({"git_sha": info.git_sha, "build_time": info.build_time,
                       "build_user": info.build_user, "version": info.version}) + "\n"  # fmt: skip


def version_line() -> str:
    """One line for ``--version`` and start-up logs: ``dcos-py 0.1.0 (abc1234, 2026-12-06)``."""
    info = version_info()
    sha = info.git_sha[:12] + ("+dirty" if info.dirty else "")
    day = info.build_date.split(" ")[0] or "no date"
    return f"dcos-py {info.version} ({sha}, {day})"
