"""The cluster's security files on the bootstrap host, and the subset each host gets.

Called by genconf (`dcos.installer.genconf`): `prepare` once per run (makes or completes
``genconf/security``: the CA, the token and secret-store keys, acls.json, credentials.json, the
bootstrap user, and one certificate per name of `cert_specs` with that name's own SANs), then
`write_host_security` per host (its ``serve/hosts/<address>/etc/security``). The names per role
are `dcos.installer.roles.cert_names` (the services' ``--tls-name``).

Certificates (names are what the components pass as ``--tls-name``):

- masters: master, webapp, package, dns, gateway (kind component; SANs: every master address)
- each agent and public agent: ``agent-<address>`` (kind agent; SAN: its address)
- public agents: lb (kind component; SANs: every public agent's address)
- installer (kind component): what the bootstrap host presents; never copied to a host

Files per role (what the components read, see `dcos.security.context.load_context`,
`dcos.iam.keys.load_keys`, `dcos.gateway.app.component_principals`): every host gets ca.crt,
token.pub and acls.json plus its certificates; masters also token.key (the IAM signs tokens),
secrets.key (the secret store), credentials.json (frameworks' Basic authentication) and
bootstrap.json (the bootstrap superuser's password hash). ca.key, admin.password and the
installer's certificate stay on the bootstrap host.

Existing files are kept (a second genconf reuses the CA and keys); a certificate is re-issued
only when it is missing or its SANs or kind no longer match (an added public agent: lb).
acls.json is written by the first genconf only (superuser: the bootstrap uid; components: every
certificate name then): agents added later need no entry (the master checks an agent's
certificate kind), and a running cluster's ACLs live in its IAM store anyway, changed through
the IAM API. An unchanged acls.json also keeps every host's etc tree unchanged (no redeploy).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dcos.installer.bundle import INSTALLER_CERT, BundleError, write_atomic
from dcos.installer.config import ClusterConfig, HostSpec, Role
from dcos.installer.roles import agent_tls_name, cert_names
from dcos.security import ca, layout
from dcos.security.acls import default_acls
from dcos.security.passwords import hash_password

MASTER_CERTS = tuple(cert_names("master", ""))
LB_CERT = "lb"
TASK_USERS = ("nobody",)
PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
COMMON_FILES = ("ca.crt", "token.pub", "acls.json")
MASTER_FILES = ("token.key", "secrets.key", "credentials.json", "bootstrap.json")
PRIVATE_FILES = frozenset({"token.key", "secrets.key", "credentials.json", "bootstrap.json"})


@dataclass(frozen=True)
class CertSpec:
    name: str
    kind: str
    hosts: tuple[str, ...]


def cert_specs(cfg: ClusterConfig) -> list[CertSpec]:
    """Every certificate the cluster needs (`lb` always, so acls.json names it even when the
    first config has no public agent)."""
    masters = tuple(cfg.masters)
    out = [CertSpec(name, "component", masters) for name in MASTER_CERTS]
    out += [CertSpec(agent_tls_name(a), "agent", (a,)) for a in (*cfg.agents,
                                                                  *cfg.public_agents)]
    out.append(CertSpec(LB_CERT, "component", tuple(cfg.public_agents)))
    out.append(CertSpec(INSTALLER_CERT, "component", ()))
    return out


def role_files(role: Role) -> tuple[str, ...]:
    """The top-level security files a host of `role` gets (certificates aside)."""
    return COMMON_FILES + (MASTER_FILES if role == "master" else ())


def host_files(host: HostSpec) -> list[str]:
    """Every file of the host's security dir, relative to it (sorted)."""
    names = list(role_files(host.role))
    for cert in cert_names(host.role, host.address):
        names += [f"certs/{cert}.crt", f"certs/{cert}.key"]
    return sorted(names)


# -- genconf/security -----------------------------------------------------------------------


def prepare(cfg: ClusterConfig, root: Path, *,
            say: Callable[[str], object] = print) -> layout.SecurityDir:
    """Make or complete the cluster's security dir at `root` (see the module docstring) and
    the bootstrap user; returns it. OSError / ValueError propagate (a damaged CA file)."""
    specs = cert_specs(cfg)
    uid = cfg.security.bootstrap_uid
    sd = layout.SecurityDir(Path(root))
    if not sd.acls.is_file():
        # before init_security_dir, which would name only the certificates it issues itself
        components = sorted(s.name for s in specs)
        doc = default_acls(admins=[uid], components=components, task_users=list(TASK_USERS),
                           frameworks=list(layout.FRAMEWORK_PRINCIPALS))  # fmt: skip
        sd.root.mkdir(parents=True, exist_ok=True)
        os.chmod(sd.root, 0o700)
        write_atomic(sd.acls, json.dumps(doc, indent=2).encode())
    layout.init_security_dir(sd.root, names={}, task_users=TASK_USERS, admins=[uid],
                             make_admin_password=False)  # fmt: skip
    issued = issue_certs(sd, specs)
    if issued:
        say(f"genconf: certificates issued: {', '.join(issued)}")
    _bootstrap_user(cfg, sd, say)
    return sd


def _current(sd: layout.SecurityDir, spec: CertSpec) -> bool:
    if not (sd.cert(spec.name).is_file() and sd.key(spec.name).is_file()):
        return False
    try:
        info = ca.describe(ca.load_cert(sd.cert(spec.name).read_bytes()))
    except ValueError:
        return False
    want = {h.strip("[]") for h in (*ca.DEFAULT_HOSTS, *spec.hosts)}
    return info.kind == spec.kind and set(info.hosts) == want


def issue_certs(sd: layout.SecurityDir, specs: list[CertSpec]) -> list[str]:
    """Issue each certificate of `specs` that is missing or out of date; the names issued."""
    ca_cert = ca.load_certs(sd.ca_cert.read_bytes())[0]
    ca_key = ca.load_key(sd.ca_key.read_bytes())
    done = []
    for spec in specs:
        if _current(sd, spec):
            continue
        cert, key = ca.issue(ca_cert, ca_key, spec.name, kind=spec.kind, hosts=spec.hosts)
        write_atomic(sd.key(spec.name), ca.key_pem(key), PRIVATE_MODE)
        write_atomic(sd.cert(spec.name), ca.cert_pem(cert), PUBLIC_MODE)
        done.append(spec.name)
    return done


def _bootstrap_user(cfg: ClusterConfig, sd: layout.SecurityDir,
                    say: Callable[[str], object]) -> None:
    """bootstrap.json from the config's hash; without one, a generated password (kept in
    genconf/admin.password, said once) and its hash."""
    uid = cfg.security.bootstrap_uid
    given = cfg.security.bootstrap_password_hash
    password_file = sd.root.parent / "admin.password"
    current = _read_json(sd.bootstrap_user)
    doc: dict[str, object]
    if given is not None:
        doc = {"uid": uid, "password_hash": given}
        if current != doc:
            write_atomic(sd.bootstrap_user, json.dumps(doc).encode(), PRIVATE_MODE)
        return
    if (current is not None and current.get("uid") == uid and password_file.is_file()
            and current.get("generated")):
        return
    password = secrets.token_urlsafe(15)
    doc = {"uid": uid, "password_hash": hash_password(password), "generated": True}
    write_atomic(password_file, password.encode() + b"\n", PRIVATE_MODE)
    write_atomic(sd.bootstrap_user, json.dumps(doc).encode(), PRIVATE_MODE)
    say(f"genconf: bootstrap user {uid!r}, password {password} (shown once; kept in "
        f"{password_file}; set security.bootstrap_user.password_hash to choose your own)")


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


# -- a host's subset ------------------------------------------------------------------------


def write_host_security(sd: layout.SecurityDir, host: HostSpec, dest: Path) -> list[str]:
    """Write the host's security files into `dest` (made empty first: nothing else stays);
    keys and secrets 0600, the rest 0644. Returns the files written (relative)."""
    files = host_files(host)
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "certs").mkdir(parents=True)
    os.chmod(dest, 0o700)
    for rel in files:
        src = sd.root / rel
        if not src.is_file():
            raise BundleError(f"{src} is missing: the security dir is incomplete (run "
                              "`dcos-py install --genconf` again)")
        private = rel.endswith(".key") or rel in PRIVATE_FILES
        data = src.read_bytes()
        if rel == "bootstrap.json":  # only what the IAM reads
            doc = json.loads(data)
            data = json.dumps({"uid": doc["uid"], "password_hash": doc["password_hash"]}).encode()
        target = dest / rel
        target.write_bytes(data)
        os.chmod(target, PRIVATE_MODE if private else PUBLIC_MODE)
    return files
