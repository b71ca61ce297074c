"""The security suite's one cluster: a real `dcos-py up --secure --agents 2` (issue 13).

`secure_cluster` (package-scoped) starts it in a temporary work dir on quiet ports (no load
balancer: HAProxy has no API to attack), with ``$DCOS_PY_HOME`` in a temporary folder so that
the CLI cluster `up` saves (CA + admin token) never touches the operator's own. It waits for
"cluster ready" and for `up`'s login line, and stops everything when the package is done.

What a test gets (`SecureCluster`): every component's https URL, the CA bundle, the work dir
(logs), and HTTP clients (`requests` sessions that verify the cluster CA): `anon` (nothing),
`admin` (the admin token `up` stored), `component` (`up`'s own ``cli`` certificate) and, from
the `alice` fixture, an unprivileged user with no ACL entry at all.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
import tomllib
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.up_process import UpPorts, UpProcess, up_ports

UP_TIMEOUT_S = 90.0
ALICE = "alice"
ALICE_PASSWORD = "alice-" + uuid.uuid4().hex[:12]


def session(ca: Path, token: str | None = None,
            cert: tuple[str, str] | None = None) -> requests.Session:
    """A client verifying the cluster CA; sends `token` as ``Authorization: token=``, or
    presents `cert` (mutual TLS)."""
    s = requests.Session()
    s.verify = str(ca)
    s.trust_env = False
    if token is not None:
        s.headers["Authorization"] = f"token={token}"
    if cert is not None:
        s.cert = cert
    return s


@dataclass
class SecureCluster:
    up: UpProcess
    work: Path
    ports: UpPorts
    home: Path
    token: str | None
    _sessions: dict[str, requests.Session] = field(default_factory=dict)

    @staticmethod
    def url(port: int) -> str:
        return f"https://127.0.0.1:{port}"

    @property
    def security(self) -> Path:
        return self.work / "security"

    @property
    def ca(self) -> Path:
        return self.security / "ca.crt"

    @property
    def master(self) -> str:
        return self.url(self.ports.master)

    @property
    def agents(self) -> list[str]:
        return [self.url(self.ports.agent + i) for i in range(self.ports.agents)]

    @property
    def webapp(self) -> str:
        return self.url(self.ports.webapp)

    @property
    def package(self) -> str:
        return self.url(self.ports.package)

    @property
    def batch(self) -> str:
        return self.url(self.ports.batch)

    @property
    def gateway(self) -> str:
        return self.url(self.ports.gateway)

    @property
    def dns_http(self) -> str:
        return self.url(self.ports.dns_http)

    def log(self, component: str) -> Path:
        """The log of `component` (master, agent-0, webapp, batch, package, dns, gateway)."""
        names = {"batch": "batch/dispatcher.log", "gateway": "gateway/gateway.log",
                 "master": "master/master.log", "webapp": "webapp/webapp.log",
                 "package": "package/package.log", "dns": "dns/dns.log"}
        return self.work / names.get(component, f"{component}/agent.log")

    @property
    def anon(self) -> requests.Session:
        return self._sessions.setdefault("anon", session(self.ca))

    @property
    def admin(self) -> requests.Session:
        if self.token is None:
            raise AssertionError("`up --secure` logged no admin in; its output:\n"
                                 + self.up.output())
        return self._sessions.setdefault("admin", session(self.ca, self.token))

    @property
    def component(self) -> requests.Session:
        certs = self.security / "certs"
        return self._sessions.setdefault(
            "component", session(self.ca, cert=(str(certs / "cli.crt"), str(certs / "cli.key"))))

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 20.0,
                 every: float = 0.2) -> Any:
        """Call `check()` until it returns something truthy (returned); AssertionError
        naming `what` and the last value otherwise."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            with contextlib.suppress(AssertionError, requests.RequestException):
                last = check()
                if last:
                    return last
            time.sleep(every)
        raise AssertionError(f"{what}: not within {timeout:g} s (last: {last!r})")


class LogWatch:
    """The lines a component's log gets from now on (to check that a refusal was logged)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def new(self) -> str:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_for(self, *words: str, timeout: float = 5.0) -> str:
        """The first new line holding every word (case-insensitive); AssertionError."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.new().splitlines():
                if all(w.lower() in line.lower() for w in words):
                    return line
            if time.monotonic() >= deadline:
                raise AssertionError(f"{self.path}: no new line with {words}; new lines:\n"
                                     + self.new()[-2000:])
            time.sleep(0.1)


def admin_token(home: Path, master_port: int) -> str | None:
    path = home / "clusters" / f"up-{master_port}" / "core.toml"
    try:
        core = tomllib.loads(path.read_text())["core"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return None
    token = core.get("dcos_acs_token")
    return token if isinstance(token, str) else None


@contextlib.contextmanager
def env(**values: str) -> Iterator[None]:
    """Set environment variables for the processes started inside (restored after)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def start_secure(work: Path, home: Path, agents: int = 2,
                 extra: tuple[str, ...] = ("--no-lb",)) -> tuple[UpProcess, UpPorts]:
    """`dcos-py up --secure` in `work` on quiet ports; returns once `up` printed its login
    line (cluster ready, CLI set up or not)."""
    ports = up_ports(agents)
    args = [*ports.args(), "--secure", *extra,
            "--task-ports", str(random.randrange(61000, 62500))]
    with env(DCOS_PY_HOME=str(home)):
        up = UpProcess(args, work)
    try:
        up.wait_for("cluster ready", timeout=UP_TIMEOUT_S)
        up.wait_for("the CLI", timeout=30)  # up's last line: logged in (or why not)
    except BaseException:
        up.cleanup()
        raise
    return up, ports


@pytest.fixture(scope="package")
def secure_cluster(tmp_path_factory: pytest.TempPathFactory
                   ) -> Generator[SecureCluster, None, None]:
    work = tmp_path_factory.mktemp("secure-cluster")
    for folder in (work, *work.parents[:2]):  # tasks run as nobody: MESOS_SANDBOX reachable
        if folder.stat().st_uid == os.getuid():  # pytest's own temp dirs are 0700
            folder.chmod(folder.stat().st_mode | 0o011)
    home = tmp_path_factory.mktemp("secure-home")
    # no load balancer: HAProxy is not what these attacks are about (tests/integration/test_lb*)
    up, ports = start_secure(work, home, extra=("--no-lb",))
    try:
        yield SecureCluster(up, work, ports, home, admin_token(home, ports.master))
    finally:
        up.stop()


@pytest.fixture(scope="package")
def alice(secure_cluster: SecureCluster) -> requests.Session:
    """An unprivileged user (no ACL entry): created by admin, logged in."""
    c = secure_cluster
    r = c.admin.put(f"{c.master}/acs/api/v1/users/{ALICE}",
                    json={"password": ALICE_PASSWORD, "description": "attacker"}, timeout=10)
    assert r.status_code in (201, 409), (r.status_code, r.text)
    r = c.anon.post(f"{c.master}/acs/api/v1/auth/login",
                    json={"uid": ALICE, "password": ALICE_PASSWORD}, timeout=10)
    assert r.status_code == 200, (r.status_code, r.text)
    return session(c.ca, r.json()["token"])
