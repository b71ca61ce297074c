"""`dcos-py up --secure`: the security-specific parts of a local cluster (issue 13).

Called by: `dcos.cli.up` (`build_components` adds `component_args` to every component's
command line and uses `scheme` for every URL it builds; `run_up` calls `prepare` before
anything starts, pins `SecureTransport` for its readiness checks, and calls `setup_cli`
once the cluster is ready). Without `--secure` nothing here runs and `up` is the plain-HTTP
cluster it always was.

`prepare` makes (or reuses: a restarted `up --secure` keeps the CA, keys and password) the
security directory ``<work>/security`` through `dcos.security.layout.init_security_dir`, with
one certificate per component name in `CERT_NAMES` (all local agents share ``agent``; ``cli``
is `up`'s own, for its readiness checks and the admin login). The admin password is generated
once, stored in ``admin.password`` (0600) and shown only by the first start.

`finish` logs in as ``admin`` (``POST /acs/api/v1/auth/login`` on the leading master) and
saves the cluster for the CLI as ``up-<master port>``: https URLs, ``ssl_verify`` = the CA
bundle and the token in its ``core.toml`` (`dcos.cli.config.store_token`); it attaches it
when no other cluster is attached. Its last line always names "the CLI" (tests wait for it).
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dcos.cli import clusters, config, http
from dcos.cli.errors import CliError

SECURITY_DIR = "security"
CERT_NAMES: dict[str, str] = {
    "master": "component", "agent": "agent", "webapp": "component", "batch": "component",
    "package": "component", "gateway": "component", "dns": "component", "lb": "component",
    "cli": "component",
}
UP_NAME = "cli"  # the certificate `up` presents
ADMIN = "admin"
LOGIN_PATH = "/acs/api/v1/auth/login"
USERS_PATH = "/acs/api/v1/users/"


def security_dir(work: Path) -> Path:
    return work / SECURITY_DIR


def component_args(work: Path, name: str) -> list[str]:
    """``--security-dir <work>/security --tls-name <name>`` for one component."""
    return ["--security-dir", str(security_dir(work)), "--tls-name", name]


@dataclass(frozen=True)
class Prepared:
    """The security directory `prepare` made or found; `password` is set only on the first
    start (the one time `up` prints it)."""

    root: Path
    ca_cert: Path
    admin_password_file: Path
    first_password: str | None


def prepare(work: Path) -> Prepared:
    """Make or complete ``<work>/security`` (kept across restarts); `CliError` when it
    cannot be written or read."""
    from dcos.security import layout

    root = security_dir(work)
    try:
        fresh = not (root / "admin.password").is_file()
        sd = layout.init_security_dir(root, names=CERT_NAMES)
        password = layout.read_admin_password(sd)
    except (OSError, ValueError) as exc:  # unwritable, or a damaged key/certificate file
        raise CliError(f"cannot prepare the security directory {root}: {exc}") from None
    return Prepared(root, sd.ca_cert, sd.admin_password, password if fresh else None)


class SecureTransport:
    """`up`'s own HTTPS client: verifies every component against the cluster CA and
    presents the ``cli`` certificate (a component identity, so readiness checks may read
    ``/master/slaves`` and ``/metrics/snapshot``). `current()` reloads the files after a
    ``dcos-py ca rotate`` (a stat per call) and is what `http.use_transport` gets."""

    def __init__(self, root: Path) -> None:
        from dcos.security import layout, tls

        self._sd = layout.SecurityDir(root)
        self.context: ssl.SSLContext = tls.client_context(self._sd, UP_NAME)
        self._reloader = tls.CertReloader(self._sd, UP_NAME, [self.context])
        self._lock = threading.Lock()
        self._transport = http.Transport(self.context)

    def current(self) -> http.Transport:
        with self._lock, contextlib.suppress(Exception):
            self._reloader.check()
        return self._transport


def login(master_url: str, password: str, timeout: float = 10.0) -> str:
    """A token for ``admin`` from the master (through `up`'s pinned transport). When the
    master does not know ``admin`` yet (IAM bootstraps it from admin.password; older
    masters may not), `up` creates it with its component certificate and logs in again."""
    body = {"uid": ADMIN, "password": password}
    try:
        answer = http.request("POST", master_url + LOGIN_PATH, body, timeout=timeout,
                              server="the master", login_hint=False)
    except CliError as exc:
        if getattr(exc, "status", None) != 401:
            raise
        http.request("PUT", master_url + USERS_PATH + ADMIN,
                     {"password": password, "description": "bootstrap superuser"},
                     timeout=timeout, server="the master", login_hint=False)
        answer = http.request("POST", master_url + LOGIN_PATH, body, timeout=timeout,
                              server="the master", login_hint=False)
    token = answer.get("token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise CliError(f"POST {master_url}{LOGIN_PATH} answered no token")
    return token


def cluster_name(master_port: int) -> str:
    return f"up-{master_port}"


def setup_cli(cluster: clusters.Cluster, ca_cert: Path, token: str) -> bool:
    """Save `cluster` with its CA and token for the CLI; attach it when no other cluster is
    attached. True when it is the attached cluster afterwards."""
    clusters.save(cluster)
    config.store_ssl_verify(str(ca_cert), cluster.name)
    config.store_token(token, cluster.name)
    attached = clusters.attached_name()
    if attached is None:
        clusters.attach(cluster.name)
        return True
    return attached == cluster.name


def cli_lines(name: str, attached: bool, password: str | None, password_file: Path) -> list[str]:
    """What `up --secure` prints about logging in (the password only on the first start)."""
    lines = []
    if password is not None:
        lines.append(f"admin password (shown once; kept in {password_file}): {password}")
    else:
        lines.append(f"log in as admin with the password in {password_file}")
    if attached:
        lines.append(f"the CLI is logged in as admin: cluster {name} is attached "
                     "(dcos-py cluster list)")
    else:
        lines.append(f"cluster {name} saved for the CLI with an admin token; use it with "
                     f"`dcos-py cluster attach {name}`")
    return lines


def finish(leader: str, cluster: clusters.Cluster, prepared: Prepared,
           say: Callable[[str], None]) -> None:
    """Log in and set the CLI up; a failure is reported, never fatal (the cluster runs)."""
    try:
        password = prepared.admin_password_file.read_text(encoding="utf-8").strip()
        token = login(leader, password)
        attached = setup_cli(cluster, prepared.ca_cert, token)
    except (CliError, OSError) as exc:
        message = exc.message if isinstance(exc, CliError) else str(exc)
        if prepared.first_password is not None:
            say(f"admin password (shown once; kept in {prepared.admin_password_file}): "
                f"{prepared.first_password}")
        say(f"dcos-py up: could not log the CLI in as admin: {message}")
        return
    for line in cli_lines(cluster.name, attached, prepared.first_password,
                          prepared.admin_password_file):
        say(line)
