"""The security directory on disk: its paths (`SecurityDir`), making it, rotating its CA.

Called by ``dcos-py up --secure`` (`init_security_dir`, once per cluster work dir; it keeps what
exists, so a restart reuses the same CA and keys), by ``dcos-py ca rotate`` (`rotate`, while the
cluster runs: every component's `dcos.security.tls.CertReloader` picks up the new files), and by
`dcos.security.context.load_context` in every component (`SecurityDir` for the paths)::

    <dir>/ca.crt            trusted CA bundle (after a rotation: new CA + previous CA)
    <dir>/ca.key            the current CA's private key (0600)
    <dir>/certs/<name>.crt  a principal's certificate (CN=<name>, OU=<kind>)
    <dir>/certs/<name>.key  its key (0600)
    <dir>/token.key         RS256 private key that signs bearer tokens (0600)
    <dir>/token.pub         its public key
    <dir>/secrets.key       32 random bytes: the secret store's AES-256-GCM key (0600)
    <dir>/acls.json         Mesos-style ACLs (`dcos.security.acls`)
    <dir>/credentials.json  Mesos ``--credentials`` file (`dcos.security.credentials`)
    <dir>/admin.password    the bootstrap superuser ``admin``'s password (0600)
    <dir>/bootstrap.json    instead of admin.password (the installer's masters): the bootstrap
                            superuser {"uid", "password_hash"} (0600; `dcos.iam.keys`)

Every file is written to a temporary name in the same directory and renamed into place, so a
reader sees either the old or the new file, never half of one.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dcos.security import ca
from dcos.security.acls import default_acls

ADMIN = "admin"
# framework principals that authenticate with HTTP Basic (credentials.json), made by default:
# batch job drivers run user code, so they get a framework principal, not the `batch` cert
FRAMEWORK_PRINCIPALS = ("batch-driver",)
PUBLIC_MODE = 0o644
PRIVATE_MODE = 0o600


@dataclass(frozen=True)
class SecurityDir:
    """The paths of one security directory (nothing is read until asked)."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def certs(self) -> Path:
        return self.root / "certs"

    @property
    def token_key(self) -> Path:
        return self.root / "token.key"

    @property
    def token_pub(self) -> Path:
        return self.root / "token.pub"

    @property
    def secrets_key(self) -> Path:
        return self.root / "secrets.key"

    @property
    def acls(self) -> Path:
        return self.root / "acls.json"

    @property
    def credentials(self) -> Path:
        return self.root / "credentials.json"

    @property
    def admin_password(self) -> Path:
        return self.root / "admin.password"

    @property
    def bootstrap_user(self) -> Path:
        return self.root / "bootstrap.json"

    def cert(self, name: str) -> Path:
        return self.certs / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.certs / f"{name}.key"

    def names(self) -> list[str]:
        """The principals that have a certificate here, sorted."""
        if not self.certs.is_dir():
            return []
        return sorted(p.stem for p in self.certs.glob("*.crt"))

    def check(self, name: str | None = None) -> None:
        """Raise FileNotFoundError naming what is missing (a component refuses to start)."""
        needed = [self.ca_cert, self.token_pub]
        if name is not None:
            needed += [self.cert(name), self.key(name)]
        missing = [str(p) for p in needed if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"security directory {self.root}: missing {', '.join(missing)}")


def write_atomic(path: Path, data: bytes, mode: int = PUBLIC_MODE) -> None:
    """Write `data` to `path` through a temporary file and a rename (readers never see half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_pair(sd: SecurityDir, name: str, cert: x509.Certificate, key: ca.PrivateKey) -> None:
    # key first, then the certificate: a CertReloader that reads the new certificate with the
    # old key fails to load and retries at its next poll (see tls.CertReloader)
    write_atomic(sd.key(name), ca.key_pem(key), PRIVATE_MODE)
    write_atomic(sd.cert(name), ca.cert_pem(cert), PUBLIC_MODE)


def _ca_name(now: float | None = None) -> str:
    stamp = dt.datetime.fromtimestamp(now if now is not None else time.time(), dt.UTC)
    return f"dcos-py cluster CA {stamp:%Y-%m-%dT%H:%M:%SZ}"


def _load_ca(sd: SecurityDir) -> tuple[x509.Certificate, ca.PrivateKey]:
    return ca.load_certs(sd.ca_cert.read_bytes())[0], ca.load_key(sd.ca_key.read_bytes())


def default_task_users() -> list[str]:
    """Users that components may run tasks as by default: nobody and the current user (never
    root)."""
    return sorted({"nobody", getpass.getuser()} - {"root"})


def init_security_dir(root: Path, *, names: Mapping[str, str], hosts: Sequence[str] = (),
                      admin_password: str | None = None,
                      task_users: Sequence[str] | None = None,
                      frameworks: Sequence[str] = FRAMEWORK_PRINCIPALS,
                      admins: Sequence[str] = (ADMIN,),
                      make_admin_password: bool = True) -> SecurityDir:
    """Make (or complete) the security directory at `root`; what exists is kept.

    names: principal name -> kind ("component", "agent", "framework", "user") of the
    certificates to issue; hosts: extra SANs besides 127.0.0.1, ::1 and localhost.
    acls.json is written only if missing: admin ANY everything; the component and agent
    principals ANY everything except run_tasks, limited to `task_users`
    (default `default_task_users()`). Each of `frameworks` gets a random secret in
    credentials.json (added if missing) and, in a new acls.json, the rules of
    `dcos.security.acls.default_acls`; `admins` are the superusers of a new acls.json.
    make_admin_password=False (the installer, whose masters get bootstrap.json instead) makes
    no admin.password.
    """
    sd = SecurityDir(Path(root))
    sd.root.mkdir(parents=True, exist_ok=True)
    os.chmod(sd.root, 0o700)
    sd.certs.mkdir(exist_ok=True)
    if not (sd.ca_cert.is_file() and sd.ca_key.is_file()):
        ca_cert, ca_key = ca.new_ca(_ca_name())
        write_atomic(sd.ca_key, ca.key_pem(ca_key), PRIVATE_MODE)
        write_atomic(sd.ca_cert, ca.cert_pem(ca_cert), PUBLIC_MODE)
    ca_cert, ca_key = _load_ca(sd)
    for name, kind in names.items():
        if not (sd.cert(name).is_file() and sd.key(name).is_file()):
            _write_pair(sd, name, *ca.issue(ca_cert, ca_key, name, kind=kind, hosts=hosts))
    if not (sd.token_key.is_file() and sd.token_pub.is_file()):
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        write_atomic(sd.token_key, ca.key_pem(rsa_key), PRIVATE_MODE)
        write_atomic(sd.token_pub, rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    if not sd.secrets_key.is_file():
        write_atomic(sd.secrets_key, secrets.token_bytes(32), PRIVATE_MODE)
    if make_admin_password and not sd.admin_password.is_file():
        password = admin_password or secrets.token_urlsafe(18)
        write_atomic(sd.admin_password, password.encode() + b"\n", PRIVATE_MODE)
    _add_credentials(sd, frameworks)
    if not sd.acls.is_file():
        components = sorted(n for n, k in names.items() if k in ("component", "agent"))
        doc = default_acls(admins=list(admins), components=components,
                           task_users=list(task_users if task_users is not None
                                           else default_task_users()),
                           frameworks=list(frameworks))
        write_atomic(sd.acls, json.dumps(doc, indent=2).encode())
    return sd


def _add_credentials(sd: SecurityDir, principals: Sequence[str]) -> None:
    """Make credentials.json if missing; add a random secret for each missing principal."""
    doc = (json.loads(sd.credentials.read_text()) if sd.credentials.is_file()
           else {"credentials": []})
    have = {c.get("principal") for c in doc.get("credentials", [])}
    missing = [p for p in principals if p not in have]
    if missing or not sd.credentials.is_file():
        doc.setdefault("credentials", []).extend(
            {"principal": p, "secret": secrets.token_urlsafe(24)} for p in missing)
        write_atomic(sd.credentials, json.dumps(doc, indent=2).encode(), PRIVATE_MODE)


def read_admin_password(sd: SecurityDir) -> str:
    return sd.admin_password.read_text().strip()


def rotate(root: Path, *, hosts: Sequence[str] = (), grace_s: float = 0.0,
           now: float | None = None) -> list[str]:
    """Replace the CA and re-issue every certificate; returns the names re-issued (sorted).

    Writes a new CA key, then ca.crt = new CA + previous CA (so certificates of both verify
    while components reload), waits `grace_s` (the CLI passes a bit more than the reloaders'
    poll interval, so every peer trusts the new CA before any presents a new certificate),
    then re-issues each certs/<name>.crt with the same kind and hosts (plus `hosts`).
    Called by ``dcos-py ca rotate`` while the cluster runs.
    """
    sd = SecurityDir(Path(root))
    old_bundle = ca.load_certs(sd.ca_cert.read_bytes())
    new_cert, new_key = ca.new_ca(_ca_name(now), now=now)
    write_atomic(sd.ca_key, ca.key_pem(new_key), PRIVATE_MODE)
    write_atomic(sd.ca_cert, ca.cert_pem(new_cert) + ca.cert_pem(old_bundle[0]), PUBLIC_MODE)
    if grace_s > 0:
        time.sleep(grace_s)
    done: list[str] = []
    for name in sd.names():
        info = ca.describe(ca.load_cert(sd.cert(name).read_bytes()))
        extra = [h for h in info.hosts if h not in ca.DEFAULT_HOSTS]
        cert, key = ca.issue(new_cert, new_key, name, kind=info.kind or "component",
                             hosts=[*extra, *hosts], now=now)
        _write_pair(sd, name, cert, key)
        done.append(name)
    return done
