"""Secrets a task asks for: environment variables and sandbox files, resolved at launch.

Called by the agent shell (`dcos.agent.shell.AgentShell._prepare_launch`) before a container
starts. A TaskInfo (or ExecutorInfo) names secrets in Mesos' wire shapes:

- ``command.environment.variables[]``: ``{"name": "PW", "type": "SECRET", "secret": SECRET}``
- ``container.volumes[]``: ``{"container_path": "pw.txt", "mode": "RO", "source": {"type":
  "SECRET", "secret": SECRET}}``

where SECRET is ``{"type": "REFERENCE", "reference": {"name": "team/db"}}`` (a path in the
master's secret store) or ``{"type": "VALUE", "value": {"data": "<base64>"}}`` (inline).
`secret_refs` reads them (raising `SecretError` for a malformed one), `resolve` asks the
leading master for the referenced values (``POST <leader>/secrets/v1/internal/resolve
{"paths": [...]}`` -> ``{"values": {path: base64}}``; the master answers only callers whose
certificate is of kind agent), `with_env` puts the values into the process environment (only
there: the TaskInfo, ``/state``, the checkpoint and the stimulus log keep the references),
and `write_files` writes each volume's value into the sandbox (mode 0400, owned by the task's
user, created exclusively and never through a link) under `SECRETS_DIR`, with a symlink at
the volume's path: the files API refuses that directory (`dcos.agent.http.files`), so a
principal allowed to browse the sandbox still cannot read the value. Values are never logged: errors name
the secret's path, never its value.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

RESOLVE_PATH = "/secrets/v1/internal/resolve"
RESOLVE_TIMEOUT = 10.0
FILE_MODE = 0o400
SECRETS_DIR = ".dcos-secrets"  # in a sandbox: the secret files' values (never served)


class SecretError(ValueError):
    """A secret that cannot be given to the task; the text says which and why."""


@dataclass(frozen=True)
class SecretRef:
    """A reference (`path` in the store) or an inline value (`value`, `path` empty)."""

    path: str = ""
    value: bytes | None = field(default=None, repr=False)

    @property
    def shown(self) -> str:
        return f"'{self.path}'" if self.path else "(an inline value)"


@dataclass(frozen=True)
class SecretRefs:
    env: dict[str, SecretRef] = field(default_factory=dict)  # variable -> secret
    files: list[tuple[str, SecretRef]] = field(default_factory=list)  # sandbox path -> secret

    def __bool__(self) -> bool:
        return bool(self.env or self.files)

    def paths(self) -> list[str]:
        """The store paths to resolve (sorted, each once)."""
        refs = [*self.env.values(), *(ref for _, ref in self.files)]
        return sorted({ref.path for ref in refs if ref.path})


def _secret(doc: Any, where: str) -> SecretRef:
    if not isinstance(doc, dict):
        raise SecretError(f"{where}: expecting a 'secret' object")
    kind = doc.get("type")
    if kind == "REFERENCE":
        name = (doc.get("reference") or {}).get("name") if isinstance(doc.get("reference"),
                                                                       dict) else None  # fmt: skip
        if not isinstance(name, str) or not name.strip("/") or "\x00" in name:
            raise SecretError(f"{where}: expecting 'secret.reference.name'")
        return SecretRef(path=name.strip("/"))
    if kind == "VALUE":
        data = (doc.get("value") or {}).get("data") if isinstance(doc.get("value"), dict) else None
        if not isinstance(data, str):
            raise SecretError(f"{where}: expecting 'secret.value.data' (base64)")
        try:
            return SecretRef(value=base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError):
            raise SecretError(f"{where}: 'secret.value.data' is not base64") from None
    raise SecretError(f"{where}: unknown secret type {kind!r} (REFERENCE or VALUE)")


def secret_refs(command: Mapping[str, Any] | None, container: Any) -> SecretRefs:
    """The secrets of a task's `command` (CommandInfo) and `container` (ContainerInfo);
    raises `SecretError` for a malformed one."""
    env: dict[str, SecretRef] = {}
    files: list[tuple[str, SecretRef]] = []
    variables = ((command or {}).get("environment") or {}).get("variables") or []
    for var in variables if isinstance(variables, list) else []:
        if isinstance(var, dict) and var.get("type") == "SECRET":
            name = var.get("name")
            if not isinstance(name, str) or not name or "=" in name or "\x00" in name:
                raise SecretError(f"environment variable {name!r}: invalid name")
            env[name] = _secret(var.get("secret"), f"environment variable {name}")
    volumes = container.get("volumes") if isinstance(container, dict) else None
    for vol in volumes if isinstance(volumes, list) else []:
        source = vol.get("source") if isinstance(vol, dict) else None
        if not isinstance(source, dict) or source.get("type") != "SECRET":
            continue
        target = vol.get("container_path")
        where = f"volume {target!r}"
        files.append((_sandbox_path(target, where), _secret(source.get("secret"), where)))
    return SecretRefs(env, files)


def _sandbox_path(target: Any, where: str) -> str:
    """A volume's ``container_path`` as a path relative to the sandbox (checked)."""
    if not isinstance(target, str) or not target.strip() or "\x00" in target:
        raise SecretError(f"{where}: expecting 'container_path'")
    parts = [p for p in target.split("/") if p not in ("", ".")]
    if target.startswith("/") or ".." in target.split("/") or not parts:
        raise SecretError(f"{where}: the secret file must be a relative path inside the sandbox")
    return "/".join(parts)


async def resolve(session: aiohttp.ClientSession, leader_url: str | None,
                  paths: list[str]) -> dict[str, bytes]:  # fmt: skip
    """The values of `paths` from the leading master at `leader_url`; raises `SecretError`
    (no leader, a refusal, a path the store does not have)."""
    if not paths:
        return {}
    if not leader_url:
        raise SecretError(f"cannot resolve secret '{paths[0]}': no leading master known")
    try:
        async with session.post(leader_url.rstrip("/") + RESOLVE_PATH, json={"paths": paths},
                                timeout=aiohttp.ClientTimeout(total=RESOLVE_TIMEOUT)) as resp:
            body = await resp.read()
            if resp.status != 200:
                text = body[:300].decode("utf-8", "replace").strip()
                raise SecretError(f"cannot resolve secret '{paths[0]}': the master answered "
                                  f"{resp.status} {text}")  # fmt: skip
            doc = await resp.json(content_type=None)
    except SecretError:
        raise
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise SecretError(f"cannot resolve secret '{paths[0]}': {exc or type(exc).__name__}"
                          ) from None  # fmt: skip
    except ValueError:
        raise SecretError(f"cannot resolve secret '{paths[0]}': the master's answer is not "
                          "JSON") from None  # fmt: skip
    values = doc.get("values") if isinstance(doc, dict) else None
    if not isinstance(values, dict):
        raise SecretError(f"cannot resolve secret '{paths[0]}': no 'values' in the answer")
    out: dict[str, bytes] = {}
    for path in paths:
        data = values.get(path)
        if not isinstance(data, str):
            raise SecretError(f"cannot resolve secret '{path}': no such secret")
        try:
            out[path] = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise SecretError(f"cannot resolve secret '{path}': bad base64 from the master"
                              ) from None  # fmt: skip
    return out


def _value(ref: SecretRef, values: Mapping[str, bytes]) -> bytes:
    if ref.value is not None:
        return ref.value
    return values[ref.path]


def with_env(env: Mapping[str, str], refs: SecretRefs, values: Mapping[str, bytes]
             ) -> dict[str, str]:  # fmt: skip
    """`env` with each secret variable set to its value (UTF-8 text without NUL, as an
    environment can carry); raises `SecretError`."""
    out = dict(env)
    for name, ref in refs.env.items():
        raw = _value(ref, values)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretError(f"secret {ref.shown} for variable {name} is not UTF-8 text; "
                              "use a file volume") from None  # fmt: skip
        if "\x00" in text:
            raise SecretError(f"secret {ref.shown} for variable {name} contains a NUL byte; "
                              "use a file volume")  # fmt: skip
        out[name] = text
    return out


def _open_dirs(base: int, names: list[str], uid: int | None, gid: int | None,
               mode: int = 0o755) -> int:  # fmt: skip
    """The descriptor of directory `base`/`names...`, each made (`mode`, owned by uid:gid)
    when missing and opened without following a link. The caller closes it."""
    fd = os.dup(base)
    try:
        for name in names:
            try:
                os.mkdir(name, mode, dir_fd=fd)
                if uid is not None:
                    os.chown(name, uid, gid if gid is not None else -1, dir_fd=fd,
                             follow_symlinks=False)  # fmt: skip
            except FileExistsError:
                pass
            nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=fd)  # fmt: skip
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_files(sandbox: str, refs: SecretRefs, values: Mapping[str, bytes],
                uid: int | None = None, gid: int | None = None) -> list[str]:  # fmt: skip
    """Write each secret volume into `sandbox`: the value in ``SECRETS_DIR/<path>`` (mode
    0400, owned by uid:gid when given; the files API never serves that directory) and a
    relative symlink to it at ``<path>``, where the task reads it. Directories are made
    (never through a link); an existing file is an error (a fetched file is not
    overwritten). The paths written; blocking; raises `SecretError`."""
    written = []
    root = os.open(sandbox, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        for rel, ref in refs.files:
            data = _value(ref, values)
            *dirs, name = rel.split("/")
            try:
                _write_one(root, dirs, name, data, uid, gid)
            except FileExistsError:
                raise SecretError(f"secret file {rel!r} already exists in the sandbox") from None
            except OSError as exc:
                raise SecretError(f"cannot write secret file {rel!r}: {exc.strerror or exc}"
                                  ) from None  # fmt: skip
            written.append(os.path.join(sandbox, rel))
    finally:
        os.close(root)
    return written


def _write_one(root: int, dirs: list[str], name: str, data: bytes, uid: int | None,
               gid: int | None) -> None:  # fmt: skip
    store = _open_dirs(root, [SECRETS_DIR], uid, gid, 0o500)
    try:
        parent = _open_dirs(store, dirs, uid, gid, 0o500)
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         FILE_MODE, dir_fd=parent)  # fmt: skip
            try:
                if uid is not None:
                    os.fchown(fd, uid, gid if gid is not None else -1)
                os.fchmod(fd, FILE_MODE)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        finally:
            os.close(parent)
    finally:
        os.close(store)
    link_dir = _open_dirs(root, dirs, uid, gid)
    try:
        target = "/".join([".."] * len(dirs) + [SECRETS_DIR, *dirs, name])
        os.symlink(target, name, dir_fd=link_dir)
        if uid is not None:
            os.chown(name, uid, gid if gid is not None else -1, dir_fd=link_dir,
                     follow_symlinks=False)  # fmt: skip
    finally:
        os.close(link_dir)
