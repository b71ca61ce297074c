"""Fixtures of the installer's end-to-end tests: real hosts over real SSH.

- `bed` (module scope): 7 hosts built by ``installer/testbed/netns.sh`` (network namespaces
  dcpy-h1..h7 at 10.213.0.11..17, each with its own sshd and private /opt/dcos-py,
  /var/lib/dcos-py and /etc/dcos-py), torn down at the module's end, also when a test fails.
  Needs root and Debian ``openssh-server`` (a missing one is an error, never a skip).
- `installer` (module scope): an `Installer` over a work dir that holds ``cluster.yaml`` (3
  masters h1-h3, agents h4-h5, public agent h6; h7 spare) and its ``genconf/``; ``run(...)``
  runs ``dcos-py install ...`` as a subprocess with a timeout and returns its exit status and
  output; ``ok(...)`` asserts exit 0 and shows the output otherwise.
- `ClusterClient`: HTTPS through a master's gateway with the cluster CA
  (``genconf/security/ca.crt``) and a token from logging in as the bootstrap user.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "installer" / "testbed"))

from bed import Bed, address  # noqa: E402

HOSTS = 7
MASTERS = [address(i) for i in (1, 2, 3)]
AGENTS = [address(4), address(5)]
PUBLIC_AGENTS = [address(6)]
SPARE = address(7)
UNREACHABLE = "10.213.0.99"  # in the bed's network, no host answers there
ADMIN = "admin"
PASSWORD = "bed-admin-pw-1"
INSTALL_DIR = "/opt/dcos-py"
WORK_DIR = "/var/lib/dcos-py"


def cli() -> list[str]:
    script = Path(sys.executable).parent / "dcos-py"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dcos.cli"]


def host_index(addr: str) -> int:
    return int(addr.rsplit(".", 1)[1]) - 10


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Generator[Bed, None, None]:
    if os.geteuid() != 0:
        raise RuntimeError("the installer tests build hosts as network namespaces: run as root")
    if not Path("/usr/sbin/sshd").exists():
        raise RuntimeError("/usr/sbin/sshd missing: apt-get install openssh-server")
    b = Bed(HOSTS, tmp_path_factory.mktemp("bed"))
    try:
        b.up()
        yield b
    finally:
        b.down()


@dataclass
class Result:
    argv: list[str]
    returncode: int
    output: str  # stdout and stderr, interleaved
    seconds: float

    def __str__(self) -> str:
        return f"$ {' '.join(self.argv)}\nexit {self.returncode} after {self.seconds:.1f} s\n{self.output}"


def password_hash(password: str) -> str:
    from dcos.security.passwords import hash_password

    return hash_password(password)


def cluster_dict(bed: Bed, **over: Any) -> dict[str, Any]:
    """The test cluster's config (3 masters, 2 agents, 1 public agent), `over` replacing keys."""
    cfg: dict[str, Any] = {
        "cluster_name": "bed",
        "master_list": list(MASTERS),
        "agent_list": list(AGENTS),
        "public_agent_list": list(PUBLIC_AGENTS),
        "ssh_user": "root",
        "ssh_port": 22,
        "ssh_key_path": str(bed.key),
        "ssh_parallelism": 10,
        "install_dir": INSTALL_DIR,
        "work_dir": WORK_DIR,
        "zookeeper": "masters",
        "resolvers": [],
        "security": {
            "enabled": True,
            "bootstrap_user": {"uid": ADMIN, "password_hash": _HASH.get()},
        },
    }
    cfg.update(over)
    return cfg


class _Hash:
    """The bootstrap user's password hash, computed once (scrypt costs ~0.1 s)."""

    value: str | None = None

    def get(self) -> str:
        if self.value is None:
            self.value = password_hash(PASSWORD)
        return self.value


_HASH = _Hash()


@dataclass
class Installer:
    """`dcos-py install` on the bed: configs live in `work`, genconf in ``work/genconf``."""

    bed: Bed
    work: Path
    state: dict[str, Any] = field(default_factory=dict)  # what ordered tests hand on

    @property
    def config(self) -> Path:
        return self.work / "cluster.yaml"

    @property
    def genconf(self) -> Path:
        return self.work / "genconf"

    @property
    def ca(self) -> Path:
        return self.genconf / "security" / "ca.crt"

    def write_config(self, name: str = "cluster.yaml", raw: Any = None, **over: Any) -> Path:
        path = self.work / name
        data = raw if raw is not None else cluster_dict(self.bed, **over)
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
        return path

    def argv(self, *args: str, config: Path | None = None, command: str = "install") -> list[str]:
        return [*cli(), command, "--config", str(config or self.config), *args]

    def run(
        self, *args: str, config: Path | None = None, timeout: float = 300, command: str = "install"
    ) -> Result:
        argv = self.argv(*args, config=config, command=command)
        t0 = time.monotonic()
        try:
            proc = subprocess.run(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                env=cli_env(),
                cwd=self.work,
            )
        except subprocess.TimeoutExpired as exc:
            out = (
                exc.stdout.decode(errors="replace")
                if isinstance(exc.stdout, bytes)
                else (exc.stdout or "")
            )
            raise AssertionError(
                f"$ {' '.join(argv)}\ntimed out after {timeout} s\n{out}"
            ) from None
        return Result(argv, proc.returncode, proc.stdout, time.monotonic() - t0)

    def ok(
        self, *args: str, config: Path | None = None, timeout: float = 300, command: str = "install"
    ) -> Result:
        res = self.run(*args, config=config, timeout=timeout, command=command)
        print(res)
        assert res.returncode == 0, str(res)
        return res

    def popen(self, *args: str, config: Path | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args, config=config),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=cli_env(),
            cwd=self.work,
        )

    def installed(self, addr: str) -> dict[str, Any] | None:
        """The host's /etc/dcos-py/installed.json (seen from here through the bed's dirs)."""
        path = self.bed.host_dir(host_index(addr)) / "etc" / "installed.json"
        try:
            return dict(orjson.loads(path.read_bytes()))
        except (OSError, orjson.JSONDecodeError):
            return None

    def host_log(self, addr: str) -> str:
        try:
            return (self.genconf / "logs" / f"{addr}.log").read_text(errors="replace")
        except OSError:
            return ""


def cli_env() -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("DCOS_MASTER", None)
    return env


@pytest.fixture(scope="module")
def installer(bed: Bed, tmp_path_factory: pytest.TempPathFactory) -> Installer:
    work = tmp_path_factory.mktemp("install")
    inst = Installer(bed, work)
    inst.write_config()
    return inst


# -- HTTPS to the cluster -----------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: Any  # parsed JSON, else text

    def __str__(self) -> str:
        return f"{self.status} {str(self.body)[:600]}"


class ClusterClient:
    """Requests through the gateway of `master` (https://<address>) with the cluster's CA."""

    def __init__(self, ca: Path, master: str, token: str | None = None) -> None:
        self.ctx = ssl.create_default_context(cafile=str(ca))
        self.master = master
        self.token = token

    @property
    def base(self) -> str:
        return f"https://{self.master}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 20,
    ) -> Reply:
        hdrs = {"Accept": "application/json", **(headers or {})}
        if self.token:
            hdrs["Authorization"] = f"token={self.token}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ctx) as r:
                status, raw = int(r.status), r.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return Reply(status, orjson.loads(raw))
        except orjson.JSONDecodeError:
            return Reply(status, raw.decode(errors="replace"))

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, body, **kw)

    def login(self, uid: str = ADMIN, password: str = PASSWORD) -> str:
        reply = self.post("/acs/api/v1/auth/login", {"uid": uid, "password": password})
        assert reply.status == 200 and isinstance(reply.body, dict), f"login: {reply}"
        self.token = str(reply.body["token"])
        return self.token


def wait_until(
    what: str, probe: Callable[[], Any], timeout: float = 90, interval: float = 0.5
) -> Any:
    """Call `probe` until it returns something truthy (that value); exceptions count as not
    yet. AssertionError naming `what` and the last value/exception after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = value
        except Exception as exc:  # noqa: BLE001 - not yet: the cluster is still coming up
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {str(last)[:800]})")
        time.sleep(interval)


def copy_checkout(dst: Path) -> Path:
    """A copy of this checkout's working tree (tracked and untracked files git does not ignore,
    plus the built web UI and package repo) at `dst`."""
    files = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in files:
        if not name:
            continue
        src = ROOT / name.decode()
        if not src.is_file():
            continue
        target = dst / name.decode()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    for built in ("dcos/web/dist", "packages-repo/build"):
        if (ROOT / built).is_dir():
            shutil.copytree(ROOT / built, dst / built, dirs_exist_ok=True)
    return dst
