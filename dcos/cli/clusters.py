"""The clusters the CLI knows (`dcos-py cluster setup|list|attach|remove`), kept on disk.

Layout (DC/OS kept ``~/.dcos/clusters/<id>/dcos.toml`` and an ``attached`` file the same way)::

    $DCOS_PY_HOME (default ~/.dcos-py)/
        clusters/<name>/cluster.toml   master, webapp, package [, dispatcher]  (TOML strings)
        clusters/<name>/attached       empty marker: this cluster is the one commands act on

At most one cluster carries the marker. No cluster attached means "local": the config file
and the local defaults of `dcos.cli.config` (a cluster started by `dcos-py up`).

Called by: `dcos.cli.config` (`attached_cluster`, before every command resolves an address)
and `dcos.cli.commands.cluster` (setup, list, attach, remove). Plain file reads and writes; no
network. Every bad input (a bad name, an unreadable or malformed file) is a one-line
`CliError` naming the file.
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from dcos.cli.errors import CliError

ENV_HOME = "DCOS_PY_HOME"
LOCAL = "local"  # the name `cluster list` shows for the config-file/defaults cluster
CLUSTER_FILE = "cluster.toml"
ATTACHED_FILE = "attached"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class Cluster:
    """One set-up cluster: its name and the base URLs of its services."""

    name: str
    master: str
    webapp: str
    package: str
    dispatcher: str | None = None


def home(env: Mapping[str, str] | None = None) -> Path:
    """``$DCOS_PY_HOME`` (tests set it), else ``~/.dcos-py``."""
    environ = os.environ if env is None else env
    given = environ.get(ENV_HOME, "").strip()
    return Path(given).expanduser() if given else Path("~/.dcos-py").expanduser()


def clusters_dir(base: Path | None = None) -> Path:
    return (home() if base is None else base) / "clusters"


def check_name(name: str) -> str:
    """`name` when it is a usable folder name (letters, digits, ``.``, ``_``, ``-``; up to 63,
    starting with a letter or digit); `CliError` otherwise."""
    if not _NAME.match(name):
        raise CliError(f"invalid cluster name {name!r}: use letters, digits, '.', '_' and '-' "
                       "(starting with a letter or digit, at most 63)")
    return name


def toml_string(value: str) -> str:
    """A TOML basic string (quotes, backslashes and control characters escaped); also used
    by `dcos.cli.config` for a cluster's core.toml."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def dumps(cluster: Cluster) -> str:
    """The text of a `cluster.toml` (unset values left out)."""
    lines = []
    for f in fields(Cluster):
        value = getattr(cluster, f.name)
        if f.name != "name" and value is not None:
            lines.append(f"{f.name} = {toml_string(value)}")
    return "\n".join(lines) + "\n"


def load(name: str, base: Path | None = None) -> Cluster:
    """The cluster called `name`; `CliError` when there is none or its file is bad."""
    path = clusters_dir(base) / check_name(name) / CLUSTER_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"no cluster named {name!r} (see dcos-py cluster list)") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CliError(f"cannot read the cluster file {path}: {exc}") from None
    known = {f.name for f in fields(Cluster)} - {"name"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise CliError(f"cluster file {path}: unknown key(s) {', '.join(unknown)}")
    for key in ("master", "webapp", "package"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise CliError(f"cluster file {path}: {key} must be a non-empty string")
    dispatcher = data.get("dispatcher")
    if dispatcher is not None and not isinstance(dispatcher, str):
        raise CliError(f"cluster file {path}: dispatcher must be a string")
    return Cluster(name, data["master"], data["webapp"], data["package"], dispatcher)


def save(cluster: Cluster, base: Path | None = None) -> Path:
    """Write (or replace) `cluster`'s file, atomically; its path."""
    folder = clusters_dir(base) / check_name(cluster.name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / (CLUSTER_FILE + ".tmp")
        tmp.write_text(dumps(cluster), encoding="utf-8")
        tmp.replace(folder / CLUSTER_FILE)
    except OSError as exc:
        raise CliError(f"cannot write the cluster file in {folder}: {exc.strerror}") from None
    return folder / CLUSTER_FILE


def names(base: Path | None = None) -> list[str]:
    """The set-up clusters' names, sorted (folders holding a `cluster.toml`)."""
    root = clusters_dir(base)
    try:
        entries = list(root.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise CliError(f"cannot read {root}: {exc.strerror}") from None
    return sorted(e.name for e in entries if (e / CLUSTER_FILE).is_file())


def attached_name(base: Path | None = None) -> str | None:
    """The attached cluster's name, or None (the local one)."""
    for name in names(base):
        if (clusters_dir(base) / name / ATTACHED_FILE).exists():
            return name
    return None


def attached_cluster(base: Path | None = None) -> Cluster | None:
    """The attached cluster, or None when no cluster is attached (act on the local one)."""
    name = attached_name(base)
    return None if name is None else load(name, base)


def attach(name: str, base: Path | None = None) -> None:
    """Make `name` the attached cluster (the marker moves from any other). Attaching
    ``local`` when no cluster has that name detaches: commands go back to the config file and
    the local defaults. `CliError` for an unknown name."""
    known = names(base)
    if name == LOCAL and LOCAL not in known:
        target = None
    else:
        load(name, base)  # raises for an unknown or broken cluster
        target = name
    root = clusters_dir(base)
    try:
        for other in known:
            if other != target:
                (root / other / ATTACHED_FILE).unlink(missing_ok=True)
        if target is not None:
            (root / target / ATTACHED_FILE).touch()
    except OSError as exc:
        raise CliError(f"cannot attach {name!r} in {root}: {exc.strerror}") from None


def remove(name: str, base: Path | None = None) -> bool:
    """Forget cluster `name` (its folder goes); True when it was the attached one."""
    folder = clusters_dir(base) / check_name(name)
    if not (folder / CLUSTER_FILE).is_file():
        raise CliError(f"no cluster named {name!r} (see dcos-py cluster list)")
    was_attached = (folder / ATTACHED_FILE).exists()
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        raise CliError(f"cannot remove {folder}: {exc.strerror}") from None
    return was_attached
