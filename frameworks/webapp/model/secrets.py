"""An app's secrets (Marathon's format) and the Mesos secret references they become (pure).

Marathon / DC/OS format, in an app definition::

    "secrets": {"s0": {"source": "team/db"}},                 # name -> secret store path
    "env": {"PW": {"secret": "s0"}},                          # an environment variable
    "container": {"volumes": [{"containerPath": "pw.txt", "secret": "s0"}]}   # a file

`check_secrets` validates them (called by `frameworks.webapp.model.app.normalize`; the API
answers Marathon's 422 with ``details`` paths such as ``/env/PW``: "references an undefined
secret named 's9'"). `secret_refs` reads a complete definition into `SecretRefs` (kept on the
`AppSpec`); `task_env_vars` / `task_volumes` are the Mesos shapes `build_task_info` puts into
the TaskInfo: only *references* (``{"type": "REFERENCE", "reference": {"name": path}}``), never
values: the agent resolves them at launch from the master's secret store, so no value is ever
in the webapp's state, its API, its events or the master's ``/state``.
`SecretRefs.paths` are the store paths an app uses; the API checks the ``use_secrets`` ACL on
them (security on) before the app is created or changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]

# A secret store path: segments of letters, digits, '_', '-', '.' (not "." or ".."),
# separated by '/'; one leading '/' is allowed (DC/OS writes both) and dropped in references.
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True, slots=True)
class SecretRefs:
    """The secrets one app uses: (variable, store path) and (container path, store path)."""

    env: tuple[tuple[str, str], ...] = ()
    files: tuple[tuple[str, str], ...] = ()

    @property
    def paths(self) -> frozenset[str]:
        """Every store path referenced (what ``use_secrets`` is checked against)."""
        return frozenset(p for _, p in self.env) | frozenset(p for _, p in self.files)

    def __bool__(self) -> bool:
        return bool(self.env or self.files)


def store_path(source: str) -> str:
    """The secret store path of a ``source`` (``/team/db`` and ``team/db`` are the same)."""
    return source.strip().lstrip("/")


def source_problem(source: Any) -> str | None:
    """Why `source` is not a usable secret store path, or None."""
    if not isinstance(source, str) or not store_path(source):
        return "source must be a non-empty secret path such as team/db"
    for seg in store_path(source).split("/"):
        if not _SEGMENT.match(seg) or seg in (".", ".."):
            return (f"source {source!r} is not a valid secret path (segments of letters, digits, "
                    "'_', '-', '.'; no '.' or '..' segments)")  # fmt: skip
    return None


def container_path_problem(path: Any) -> str | None:
    """Why `path` cannot be a secret file's place in the sandbox, or None."""
    if not isinstance(path, str) or not path.strip():
        return "containerPath must be a non-empty relative path"
    if path.startswith("/") or any(seg in ("", ".", "..") for seg in path.split("/")):
        return (f"containerPath {path!r} must be a relative path inside the sandbox "
                "(no leading '/', no '.' or '..' segments)")  # fmt: skip
    return None


def check_secrets(app: Json, add: Any) -> None:
    """Validate ``secrets``, secret references in ``env`` and secret volumes in
    ``container.volumes`` of `app` (a definition being normalized); each problem goes to
    ``add(path, message)`` (`frameworks.webapp.model.checks.Check.add`)."""
    secrets = app.get("secrets")
    if secrets is None:
        secrets = {}
    if not isinstance(secrets, dict):
        return  # `_check_misc` reports "/secrets must be an object"
    for name, spec in secrets.items():
        where = f"/secrets/{name}"
        if not _NAME.match(name):
            add(where, "a secret's name must be letters, digits, '_', '-' or '.'")
        if not isinstance(spec, dict) or set(spec) - {"source"}:
            add(where, "a secret must be an object {\"source\": \"<secret path>\"}")
            continue
        problem = source_problem(spec.get("source"))
        if problem:
            add(where + "/source", problem)
    env = app.get("env")
    if isinstance(env, dict):
        for var, value in env.items():
            if isinstance(value, dict):
                ref = value.get("secret")
                if set(value) != {"secret"} or not isinstance(ref, str):
                    add(f"/env/{var}", "an environment secret must be {\"secret\": \"<secret name>\"}")
                elif ref not in secrets:
                    add(f"/env/{var}", f"references an undefined secret named '{ref}'")
    container = app.get("container")
    volumes = container.get("volumes") if isinstance(container, dict) else None
    if volumes is None:
        return
    if not isinstance(volumes, list):
        add("/container/volumes", "volumes must be a list")
        return
    for i, vol in enumerate(volumes):
        where = f"/container/volumes({i})"
        if not isinstance(vol, dict):
            add(where, "a volume must be an object")
            continue
        if "secret" not in vol:
            continue  # another kind of volume: not ours to judge
        ref = vol["secret"]
        if not isinstance(ref, str) or ref not in secrets:
            add(where + "/secret", f"references an undefined secret named '{ref}'")
        problem = container_path_problem(vol.get("containerPath"))
        if problem:
            add(where + "/containerPath", problem)


def secret_refs(app: Json) -> SecretRefs:
    """The references of a complete (validated or stored) definition; references to
    undefined secrets are skipped (validation refused them before they were stored)."""
    secrets: Json = app["secrets"] if isinstance(app.get("secrets"), dict) else {}
    sources = {n: store_path(s["source"]) for n, s in secrets.items()
               if isinstance(s, dict) and isinstance(s.get("source"), str)}  # fmt: skip
    env: Json = app["env"] if isinstance(app.get("env"), dict) else {}
    env_refs = tuple(sorted((var, sources[v["secret"]]) for var, v in env.items()
                            if isinstance(v, dict) and v.get("secret") in sources))  # fmt: skip
    container = app.get("container")
    volumes = container.get("volumes") if isinstance(container, dict) else None
    files = tuple((str(v["containerPath"]), sources[v["secret"]]) for v in volumes or ()
                  if isinstance(v, dict) and v.get("secret") in sources and v.get("containerPath"))  # fmt: skip
    return SecretRefs(env_refs, files)


def _reference(path: str) -> Json:
    return {"type": "REFERENCE", "reference": {"name": path}}


def task_env_vars(refs: SecretRefs) -> list[Json]:
    """Mesos ``Environment.Variable``s of type SECRET for the app's env references."""
    return [{"name": var, "type": "SECRET", "secret": _reference(path)} for var, path in refs.env]


def task_volumes(refs: SecretRefs) -> list[Json]:
    """Mesos ``Volume``s with a SECRET source (read-only files in the sandbox)."""
    return [{"container_path": cpath, "mode": "RO", "source": {"type": "SECRET", "secret": _reference(path)}}
            for cpath, path in refs.files]  # fmt: skip
