"""`dcos.installer.deploy`: the per-host decision (up to date, copy, restart), the order of a
deploy (masters, wait for a quorum and a leader, then agents) with a fake SSH session, the
cluster client's pure parsing (`cluster_api`), and the host script ``services.sh`` run for real
against a real supervisord in a temporary directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from dcos.installer import cluster_api, config, deploy
from dcos.installer.bundle import Manifest
from dcos.installer.cluster_api import AgentEntry, agent_at, parse_agents, parse_srvr_mode
from dcos.installer.config import ClusterConfig, HostSpec
from dcos.installer.progress import QuietProgress
from dcos.installer.ssh import Completed, HostError
from dcos.protocol.ids import AgentID

SCRIPTS = Path(__file__).resolve().parents[3] / "installer" / "host"
BIN = Path(sys.executable).parent


def make_cfg(tmp: Path, **raw: Any) -> ClusterConfig:
    body: dict[str, Any] = {
        "cluster_name": "prod", "master_list": ["10.0.0.11", "10.0.0.12", "10.0.0.13"],
        "agent_list": ["10.0.0.21"], "public_agent_list": ["10.0.0.31"],
        "ssh_key_path": str(tmp / "key"), "security": {"enabled": False},
    }
    body.update(raw)
    return config.parse(body, tmp / "cluster.yaml", check_key_file=False)


def manifest(build: str = "b1") -> Manifest:
    return Manifest(version="0.1.0", build_id=build, python="cp311", cluster_name="prod",
                    cluster_id="c1", dcos_wheel="dcos_py-0.1.0-py3-none-any.whl", repo=True,
                    wheels=("dcos_py-0.1.0-py3-none-any.whl", "aiohttp-3.9-cp311.whl"))


MASTER = HostSpec("10.0.0.11", "master", 0)
AGENT = HostSpec("10.0.0.21", "agent", 0)


# -- plan_host ---------------------------------------------------------------------------------


def test_plan_same_build_and_running_is_up_to_date() -> None:
    m = manifest()
    installed = deploy.installed_doc(m, MASTER, "d1")
    plan = deploy.plan_host(installed, m, MASTER, "d1", services_ok=True, bundle_complete=True)
    assert plan.up_to_date and plan.describe() == "up to date"


def test_plan_fresh_host_copies_installs_starts() -> None:
    plan = deploy.plan_host(None, manifest(), AGENT, "d1", services_ok=False,
                            bundle_complete=False)
    assert not plan.up_to_date and plan.copy_bundle and not plan.restart


def test_plan_interrupted_copy_resumes_but_complete_bundle_is_not_copied_again() -> None:
    m = manifest()
    plan = deploy.plan_host(None, m, AGENT, "d1", services_ok=False, bundle_complete=True)
    assert not plan.copy_bundle and not plan.up_to_date


def test_plan_same_build_but_a_service_down_starts_without_restart() -> None:
    m = manifest()
    installed = deploy.installed_doc(m, AGENT, "d1")
    plan = deploy.plan_host(installed, m, AGENT, "d1", services_ok=False, bundle_complete=True)
    assert not plan.up_to_date and not plan.restart and not plan.copy_bundle


@pytest.mark.parametrize("change", ["build", "digest", "role", "cluster"])
def test_plan_other_build_or_config_running_restarts(change: str) -> None:
    m = manifest()
    installed = deploy.installed_doc(m, AGENT, "d1")
    key = {"build": "build_id", "digest": "etc_digest", "role": "role",
           "cluster": "cluster_id"}[change]
    installed[key] = "other"
    plan = deploy.plan_host(installed, m, AGENT, "d1", services_ok=True, bundle_complete=False)
    assert not plan.up_to_date and plan.restart and plan.copy_bundle
    # a service down: the others may still run the old build, so they restart too
    plan = deploy.plan_host(installed, m, AGENT, "d1", services_ok=False, bundle_complete=True)
    assert plan.restart and not plan.copy_bundle


def test_parse_installed_damaged_is_not_installed() -> None:
    assert deploy.parse_installed("") is None
    assert deploy.parse_installed("[1]") is None
    assert deploy.parse_installed('{"build_id": "x"}') == {"build_id": "x"}


def test_etc_digest_follows_content_and_modes(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    (etc / "security").mkdir(parents=True)
    (etc / "cluster.json").write_text("{}")
    key = etc / "security" / "a.key"
    key.write_text("k")
    key.chmod(0o600)
    first = deploy.etc_digest(etc)
    assert deploy.etc_digest(etc) == first
    key.chmod(0o644)
    assert deploy.etc_digest(etc) != first
    key.chmod(0o600)
    (etc / "cluster.json").write_text('{"a": 1}')
    assert deploy.etc_digest(etc) != first


def test_wheel_names_prefers_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "old-dcos_py.whl").write_text("")
    m = manifest()
    assert deploy.wheel_names(m, tmp_path) == list(m.wheels)
    bare = Manifest(**{**m.__dict__, "wheels": ()})
    assert deploy.wheel_names(bare, tmp_path) == ["old-dcos_py.whl", m.dcos_wheel]


def test_init_system_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(deploy.INIT_ENV, raising=False)
    assert deploy.init_system() == "auto"
    monkeypatch.setenv(deploy.INIT_ENV, "supervisord")
    assert deploy.init_system() == "supervisord"
    monkeypatch.setenv(deploy.INIT_ENV, "upstart")
    with pytest.raises(ValueError, match="upstart"):
        deploy.init_system()


@pytest.mark.parametrize("name", ["install.sh", "services.sh", "uninstall.sh"])
def test_host_scripts_parse(name: str) -> None:
    assert deploy.host_script(name).startswith("#!/usr/bin/env bash")
    subprocess.run(["bash", "-n", str(SCRIPTS / name)], check=True)


# -- deploy order with fake hosts --------------------------------------------------------------


class FakeSession:
    """Answers the commands deploy sends: a fresh host (nothing installed, nothing running)."""

    def __init__(self, address: str, journal: list[tuple[str, str]]) -> None:
        self.address = address
        self.journal = journal
        self.files: dict[str, str] = {}

    async def __aenter__(self) -> FakeSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass

    async def run(self, cmd: str, *, input: str | None = None, timeout: float = 600,
                  check: bool = True) -> Completed:
        what = cmd
        if input == deploy.host_script("services.sh"):
            args = cmd.split(" -- ", 1)[1].split()
            what = "services.sh " + " ".join(args[args.index("--init") + 2:])
        elif input == deploy.host_script("install.sh"):
            what = "install.sh"
        self.journal.append((self.address, what))
        if what == "services.sh status":
            return Completed(3, "supervisord: not running\n", "")
        if cmd.startswith("cat ") or cmd.startswith("test -f"):
            return Completed(1, "", "")
        return Completed(0, "", "")

    async def put(self, local: Path, remote: PurePosixPath) -> None:
        self.journal.append((self.address, f"put {remote}"))

    async def put_text(self, text: str, remote: PurePosixPath, mode: int = 0o644) -> None:
        self.files[str(remote)] = text
        self.journal.append((self.address, f"put_text {remote}"))


def bundle(cfg: ClusterConfig, m: Manifest) -> None:
    serve = cfg.genconf_dir / "serve"
    (serve / "wheels").mkdir(parents=True)
    for w in m.wheels:
        (serve / "wheels" / w).write_text("wheel")
    (serve / "repo").mkdir()
    for h in cfg.hosts():
        etc = serve / "hosts" / h.address / "etc"
        etc.mkdir(parents=True)
        (etc / "cluster.json").write_text(h.address)


async def test_deploy_masters_first_then_wait_then_agents(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_cfg(tmp_path)
    m = manifest()
    bundle(cfg, m)
    journal: list[tuple[str, str]] = []

    async def fake_connect(cfg: ClusterConfig, address: str, timeout: float = 10) -> FakeSession:
        if address == "10.0.0.31":
            raise HostError("unreachable: connection refused (10.0.0.31:22)")
        return FakeSession(address, journal)

    async def ready(cfg: ClusterConfig, timeout: float = 0, api: Any = None) -> None:
        journal.append(("-", "wait for masters"))

    monkeypatch.setattr(deploy, "wait_for_masters", ready)
    lines: list[str] = []
    results = await deploy.deploy(cfg, cfg.hosts(), m, QuietProgress(lines.append),
                                  connect=fake_connect)
    assert [r.address for r in results] == [h.address for h in cfg.hosts()]
    assert [r.ok for r in results] == [True, True, True, True, False]
    assert "unreachable" in results[-1].detail
    wait = journal.index(("-", "wait for masters"))
    assert {a for a, _ in journal[:wait]} == set(cfg.masters)
    assert {a for a, _ in journal[wait + 1:]} == {"10.0.0.21"}
    master_steps = [w for a, w in journal if a == "10.0.0.11"]
    # the repository goes to masters only; installed.json is the last thing written
    assert any(w.endswith("/bundle/b1/repo") for w in master_steps)
    assert not any(w.endswith("/repo") for a, w in journal if a == "10.0.0.21")
    assert master_steps[-2] == "put_text /etc/dcos-py/installed.json"
    assert master_steps.index("install.sh") < master_steps.index("services.sh start")
    assert "services.sh restart all" not in master_steps  # a fresh host: nothing to restart


async def test_deploy_masters_not_ready_fails_the_masters_agents_still_installed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_cfg(tmp_path, public_agent_list=[])
    m = manifest()
    bundle(cfg, m)
    journal: list[tuple[str, str]] = []

    async def fake_connect(cfg: ClusterConfig, address: str, timeout: float = 10) -> FakeSession:
        return FakeSession(address, journal)

    async def not_ready(cfg: ClusterConfig, timeout: float = 0, api: Any = None) -> str:
        return "ZooKeeper has no quorum: 1 of 3 serving (need 2)"

    monkeypatch.setattr(deploy, "wait_for_masters", not_ready)
    results = await deploy.deploy(cfg, cfg.hosts(), m, QuietProgress(lambda s: None),
                                  connect=fake_connect)
    assert [r.ok for r in results] == [False, False, False, True]
    assert "no quorum" in results[0].detail


async def test_deploy_missing_host_config_fails_that_host(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_cfg(tmp_path, master_list=["10.0.0.11"], agent_list=[], public_agent_list=[])
    m = manifest()
    bundle(cfg, m)
    shutil.rmtree(cfg.genconf_dir / "serve" / "hosts" / "10.0.0.11")
    journal: list[tuple[str, str]] = []

    async def fake_connect(cfg: ClusterConfig, address: str, timeout: float = 10) -> FakeSession:
        return FakeSession(address, journal)

    (r,) = await deploy.deploy(cfg, cfg.hosts(), m, QuietProgress(lambda s: None),
                               connect=fake_connect)
    assert not r.ok and "10.0.0.11" in r.detail


# -- cluster_api parsing -----------------------------------------------------------------------


def test_parse_agents_and_agent_at() -> None:
    doc = {"slaves": [
        {"id": "a1", "pid": "slave(1)@10.0.0.21:5051", "hostname": "box", "active": True,
         "registered_time": 10.0, "reregistered_time": None},
        {"id": "a0", "pid": "slave(1)@10.0.0.21:5051", "hostname": "box", "active": False,
         "registered_time": 5.0},
        {"id": "a2", "pid": "slave(1)@[fd00::2]:5051", "hostname": "box", "active": True,
         "registered_time": 1.0, "reregistered_time": 20.0},
        {"bad": True},
    ]}
    agents = parse_agents(doc)
    assert [a.agent_id for a in agents] == ["a1", "a0", "a2"]
    found = agent_at(agents, "10.0.0.21")
    assert found is not None and found.agent_id == "a1"  # the newest registration
    six = agent_at(agents, "fd00::2")
    assert six is not None and six.last_registration == 20.0
    assert agent_at(agents, "10.0.0.99") is None  # same host name "box" is no match
    assert parse_agents({"nope": 1}) == [] and parse_agents(None) == []


def test_srvr_mode_and_quorum() -> None:
    text = "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0/0\nMode: follower\nNode count: 5\n"
    assert parse_srvr_mode(text) == "follower"
    assert parse_srvr_mode("This ZooKeeper instance is not currently serving requests") is None
    q = cluster_api.quorum_problem
    assert q({"a": "leader", "b": "follower", "c": None}) is None
    assert q({"a": "standalone"}) is None
    why = q({"a": "follower", "b": None, "c": None})
    assert why is not None and "1 of 3 serving (need 2)" in why and "b not serving" in why
    assert q({"a": "follower", "b": "follower", "c": None}) is not None  # no leader yet


def test_host_url_brackets_ipv6() -> None:
    assert cluster_api.host_url("https", "fd00::1", 5050, "/health") == "https://[fd00::1]:5050/health"
    assert cluster_api.host_url("http", "10.0.0.1", 8080) == "http://10.0.0.1:8080"


def test_agent_entry_last_registration() -> None:
    a = AgentEntry(AgentID("x"), "1.2.3.4", "h", True, 3.0, None)
    assert a.last_registration == 3.0


# -- services.sh against a real supervisord ----------------------------------------------------


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short directory (a unix socket path must stay under 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="dcpy-svc-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _services(tmp: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DCOS_PY_ETC": str(tmp / "etc")}
    return subprocess.run(
        ["bash", str(SCRIPTS / "services.sh"), "--install-dir", str(tmp / "opt"),
         "--work-dir", str(tmp / "var"), "--init", "supervisord", *args],
        capture_output=True, text=True, env=env, check=check, timeout=120)


def _conf(tmp: Path, programs: dict[str, str]) -> str:
    run = tmp / "var" / "run"
    logs = tmp / "var" / "logs"
    out = [f"[unix_http_server]\nfile={run}/supervisor.sock\nchmod=0700\n",
           f"[supervisord]\nlogfile={logs}/supervisord.log\npidfile={run}/supervisord.pid\n"
           f"childlogdir={logs}\nminfds=1024\n",
           "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = "
           "supervisor.rpcinterface:make_main_rpcinterface\n",
           f"[supervisorctl]\nserverurl=unix://{run}/supervisor.sock\n"]
    for name, cmd in programs.items():
        out.append(f"[program:{name}]\ncommand={cmd}\nautorestart=true\nstartsecs=1\n"
                   f"stopasgroup=true\nkillasgroup=true\nstopwaitsecs=5\n")
    return "\n".join(out)


def test_services_sh_start_status_restart_stop(short_tmp: Path) -> None:
    tmp = short_tmp
    venv_bin = tmp / "opt" / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    for tool in ("supervisord", "supervisorctl"):
        (venv_bin / tool).symlink_to(BIN / tool)
    (tmp / "etc").mkdir()
    (tmp / "var" / "logs").mkdir(parents=True)
    conf = tmp / "etc" / "supervisord.conf"
    conf.write_text(_conf(tmp, {"master": "sleep 1000"}))
    try:
        assert _services(tmp, "status", check=False).returncode != 0  # not running yet
        out = _services(tmp, "start").stdout
        assert "supervisord: started" in out
        assert (tmp / "etc" / "init").read_text().strip() == "supervisord"
        deadline = time.monotonic() + 20
        while _services(tmp, "status", check=False).returncode != 0:
            assert time.monotonic() < deadline, _services(tmp, "status", check=False).stdout
            time.sleep(0.3)
        pid1 = _services(tmp, "pid", "master").stdout.strip()
        assert pid1.isdigit()
        # a second start with a new program: reread + update starts it, master keeps running
        conf.write_text(_conf(tmp, {"master": "sleep 1000", "agent": "sleep 2000"}))
        out = _services(tmp, "start").stdout
        assert "supervisord: running" in out and "agent" in out
        assert _services(tmp, "pid", "master").stdout.strip() == pid1
        _services(tmp, "restart", "master")
        pid2 = _services(tmp, "pid", "master").stdout.strip()
        assert pid2.isdigit() and pid2 != pid1
        sup = (tmp / "var" / "run" / "supervisord.pid").read_text().strip()
        out = _services(tmp, "stop").stdout
        assert "supervisord: stopped" in out
        assert not Path(f"/proc/{sup}").exists()
        assert not Path(f"/proc/{pid2}").exists()
        assert "not running" in _services(tmp, "stop").stdout  # idempotent
    finally:
        pidfile = tmp / "var" / "run" / "supervisord.pid"
        if pidfile.exists():
            subprocess.run(["kill", pidfile.read_text().strip()], check=False)


# -- install.sh for real: venv, offline pip, a new build forced in, /etc copy ------------------


def _wheel(dir: Path, build: str) -> Path:
    """A minimal pure wheel named like dcos-py's (no dependencies), marked with `build`."""
    import base64
    import hashlib
    import zipfile

    name = "dcos_py-0.1.0-py3-none-any.whl"
    files = {
        "dcos_fake_build.py": f"BUILD = {build!r}\n",
        "dcos_py-0.1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: dcos-py\nVersion: 0.1.0\n",
        "dcos_py-0.1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\n"
                                         "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append("dcos_py-0.1.0.dist-info/RECORD,,")
    files["dcos_py-0.1.0.dist-info/RECORD"] = "\n".join(record) + "\n"
    (dir / "wheels").mkdir(parents=True, exist_ok=True)
    out = dir / "wheels" / name
    with zipfile.ZipFile(out, "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
    return out


def _install(tmp: Path, bundle: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DCOS_PY_ETC": str(tmp / "etc-dcos")}
    return subprocess.run(
        ["bash", str(SCRIPTS / "install.sh"), "--install-dir", str(tmp / "opt"),
         "--bundle", str(bundle), "--wheel", "dcos_py-0.1.0-py3-none-any.whl", *extra],
        capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("python3") is None,
                    reason="install.sh runs as root with a python3")
def test_install_sh_venv_pip_force_new_build_and_etc(tmp_path: Path) -> None:
    b1, b2 = tmp_path / "opt" / "bundle" / "b1", tmp_path / "opt" / "bundle" / "b2"
    _wheel(b1, "one")
    _wheel(b2, "two")
    staged = tmp_path / "staged"
    (staged / "security" / "certs").mkdir(parents=True)
    (staged / "security" / "certs" / "master.key").write_text("secret")
    (staged / "security" / "ca.crt").write_text("ca")
    (staged / "cluster.json").write_text("{}")
    (b1 / "repo").mkdir()

    first = _install(tmp_path, b1, "--etc", str(staged), "--repo", str(b1 / "repo"))
    assert first.returncode == 0, first.stderr
    assert "venv: created" in first.stdout and "dcos: installed" in first.stdout
    python = tmp_path / "opt" / "venv" / "bin" / "python"

    def build() -> str:
        return subprocess.run([str(python), "-c", "import dcos_fake_build as b; print(b.BUILD)"],
                              capture_output=True, text=True, check=True).stdout.strip()

    assert build() == "one"
    etc = tmp_path / "etc-dcos"
    assert (etc / "security").stat().st_mode & 0o777 == 0o700
    assert (etc / "security" / "certs" / "master.key").stat().st_mode & 0o777 == 0o600
    assert (etc / "security" / "ca.crt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "opt" / "repo").resolve() == (b1 / "repo").resolve()

    again = _install(tmp_path, b1)
    assert again.returncode == 0, again.stderr
    assert "venv: kept" in again.stdout and "dcos: kept" in again.stdout  # no pip at all

    # another build of the same version number: pip would call it installed; it is forced in
    newer = _install(tmp_path, b2)
    assert newer.returncode == 0, newer.stderr
    assert "dcos: installed" in newer.stdout
    assert build() == "two"

    missing = _install(tmp_path, tmp_path / "nowhere")
    assert missing.returncode != 0 and "missing" in missing.stderr
