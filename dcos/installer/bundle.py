"""The installer's bundle on the bootstrap host: the genconf directory's layout and the manifest.

genconf (`dcos.installer.genconf.genconf`) writes it; every later step reads it: preflight
(`read_manifest`: the bundle's Python tag and version), deploy and upgrade (the wheels, the repo,
each host's ``etc`` directory, the build id), postflight and node drains (`installer_identity`:
the certificate the bootstrap host presents to the cluster)::

    genconf/
      cluster-id                 uuid4, made once, kept
      security/                  the cluster's security dir; the CA key stays HERE only
      admin.password             a generated bootstrap password (0600) when the config gave no hash
      inventory.json             agents added/removed later (`dcos.installer.inventory`)
      wheels.lock.json           what serve/wheels holds, by the dependency set that made it
      logs/<address>.log
      serve/
        manifest.json            `Manifest`, written last by genconf
        wheels/*.whl             dcos-py + every dependency (hosts install with pip --no-index)
        repo/                    packages-repo/build (index.json, assets/, images/) when built
        hosts/<address>/etc/     exactly what goes to /etc/dcos-py on that host

Nothing here builds or copies anything: paths, and the manifest's JSON.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from dcos.installer.config import ClusterConfig

CLUSTER_ID = "cluster-id"
SECURITY = "security"
ADMIN_PASSWORD = "admin.password"
WHEELS_LOCK = "wheels.lock.json"
LOGS = "logs"
SERVE = "serve"
MANIFEST = "manifest.json"
WHEELS = "wheels"
REPO = "repo"
HOSTS = "hosts"
ETC = "etc"
# inside a host's etc/ (the same names under /etc/dcos-py on the host)
HOST_SECURITY = "security"
SUPERVISORD_CONF = "supervisord.conf"
SYSTEMD = "systemd"
ZOOKEEPER = "zookeeper"
CLUSTER_JSON = "cluster.json"
INSTALLER_CERT = "installer"  # the bootstrap host's certificate name (kind component)
DCOS_DIST = "dcos_py"  # the wheel's distribution name as in its file name


class BundleError(Exception):
    """genconf cannot build the bundle, or a step finds none (or a damaged one): one message
    for the operator (`str(exc)`), nothing changed."""


@dataclass(frozen=True)
class GenconfDir:
    """The paths of one genconf directory (nothing is read or made until asked)."""

    root: Path

    @property
    def cluster_id(self) -> Path:
        return self.root / CLUSTER_ID

    @property
    def security(self) -> Path:
        return self.root / SECURITY

    @property
    def admin_password(self) -> Path:
        return self.root / ADMIN_PASSWORD

    @property
    def wheels_lock(self) -> Path:
        return self.root / WHEELS_LOCK

    @property
    def logs(self) -> Path:
        return self.root / LOGS

    @property
    def serve(self) -> Path:
        return self.root / SERVE

    @property
    def manifest(self) -> Path:
        return self.serve / MANIFEST

    @property
    def wheels(self) -> Path:
        return self.serve / WHEELS

    @property
    def repo(self) -> Path:
        return self.serve / REPO

    @property
    def hosts(self) -> Path:
        return self.serve / HOSTS

    def host_etc(self, address: str) -> Path:
        return self.hosts / address / ETC


def genconf_dir(cfg: ClusterConfig) -> GenconfDir:
    return GenconfDir(cfg.genconf_dir)


def serve_dir(cfg: ClusterConfig) -> Path:
    """``genconf/serve``: what deploy copies to the hosts."""
    return genconf_dir(cfg).serve


def host_etc_dir(cfg: ClusterConfig, address: str) -> Path:
    """``genconf/serve/hosts/<address>/etc``: what deploy puts in /etc/dcos-py on that host."""
    return genconf_dir(cfg).host_etc(address)


@dataclass(frozen=True)
class Manifest:
    """``serve/manifest.json``: which build the bundle holds, for which cluster.

    build_id: the first 16 hex digits of the sha256 of the dcos-py wheel (one per build; deploy
    keeps bundles under ``{install_dir}/bundle/<build_id>``); python: the CPython tag of the
    dependency wheels (``cp311``: hosts must run that Python); dcos_wheel: the dcos-py wheel's
    file name in wheels/; wheels: every wheel file; repo: whether serve/repo holds the package
    repository; created: when genconf wrote it (Unix time)."""

    version: str
    build_id: str
    python: str
    cluster_name: str
    cluster_id: str
    dcos_wheel: str
    repo: bool
    created: float = 0.0
    wheels: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "build_id": self.build_id, "python": self.python,
                "cluster_name": self.cluster_name, "cluster_id": self.cluster_id,
                "created": self.created, "wheels": list(self.wheels),
                "dcos_wheel": self.dcos_wheel, "repo": self.repo}  # fmt: skip

    @classmethod
    def from_json(cls, doc: Any) -> Manifest:
        """ValueError naming the first bad key."""
        if not isinstance(doc, dict):
            raise ValueError("expected a JSON object")
        text = {}
        for key in ("version", "build_id", "python", "cluster_name", "cluster_id", "dcos_wheel"):
            value = doc.get(key)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{key}: expected a non-empty string")
            text[key] = value
        wheels = doc.get("wheels", [])
        if not isinstance(wheels, list) or not all(isinstance(w, str) for w in wheels):
            raise ValueError("wheels: expected a list of file names")
        created = doc.get("created", 0.0)
        if not isinstance(created, int | float) or isinstance(created, bool):
            raise ValueError("created: expected a number")
        if not isinstance(doc.get("repo", False), bool):
            raise ValueError("repo: expected true or false")
        return cls(**text, repo=bool(doc.get("repo", False)), created=float(created),
                   wheels=tuple(wheels))


def read_manifest(serve: Path) -> Manifest:
    """The manifest of the bundle in `serve`; `BundleError` when there is none (genconf has not
    run) or it is damaged."""
    path = Path(serve) / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"no bundle in {serve} ({MANIFEST} is missing): run "
                          "`dcos-py install --genconf` first") from None
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return Manifest.from_json(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValueError) as exc:
        raise BundleError(f"{path} is damaged ({exc}): run `dcos-py install --genconf` "
                          "again") from None


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` through a temporary file and a rename (readers never see half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_manifest(serve: Path, manifest: Manifest) -> None:
    write_atomic(Path(serve) / MANIFEST,
                 orjson.dumps(manifest.to_json(), option=orjson.OPT_INDENT_2) + b"\n")


def cluster_json(cfg: ClusterConfig, manifest: Manifest, role: str, address: str) -> bytes:
    """A host's ``/etc/dcos-py/cluster.json``: which cluster, build and role it belongs to."""
    doc = {"cluster_name": cfg.cluster_name, "cluster_id": manifest.cluster_id, "role": role,
           "address": address, "build_id": manifest.build_id, "version": manifest.version}
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


def installer_identity(cfg: ClusterConfig) -> tuple[Path, Path, Path] | None:
    """(CA bundle, certificate, key) the bootstrap host presents for its mutual-TLS calls to the
    cluster (postflight, drains, upgrade checks): the ``installer`` component certificate in
    ``genconf/security``. None when security is off. `BundleError` when genconf has not made
    it yet."""
    if not cfg.security.enabled:
        return None
    root = genconf_dir(cfg).security
    out = (root / "ca.crt", root / "certs" / f"{INSTALLER_CERT}.crt",
           root / "certs" / f"{INSTALLER_CERT}.key")
    missing = [str(p) for p in out if not p.is_file()]
    if missing:
        raise BundleError(f"no installer certificate ({', '.join(missing)} missing): run "
                          "`dcos-py install --genconf` first")
    return out
