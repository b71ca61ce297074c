"""`dcos.installer.units`: the rendered supervisord.conf is read back by supervisord's own
parser (programs, argv, environment, stop semantics) and run by a real supervisord (the agent's
children outlive its stop, a master's do not); the systemd units pass ``systemd-analyze
verify`` and give back the same argv; zoo.cfg + myid per master."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from configparser import ConfigParser
from pathlib import Path
from typing import Any

import pytest
from supervisor.options import ServerOptions

from dcos.installer import config, roles, units
from dcos.installer.config import ClusterConfig, HostSpec
from dcos.installer.roles import ServiceSpec
from dcos.state.zk_server import read_config
from dcos.testing.waiting import wait_until

BIN = Path(sys.executable).parent


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short directory (a unix socket path must stay under 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="dcpy-units-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def make_cfg(tmp: Path, **raw: Any) -> ClusterConfig:
    body: dict[str, Any] = {
        "cluster_name": "prod", "master_list": ["10.0.0.11", "10.0.0.12", "10.0.0.13"],
        "agent_list": ["10.0.0.21"], "public_agent_list": ["10.0.0.31"],
        "ssh_key_path": str(tmp / "key"), "install_dir": str(tmp / "opt"),
        "work_dir": str(tmp / "var"), "attributes": {"rack": "r1"},
    }
    body.update(raw)
    cfg = config.parse(body, tmp / "cluster.yaml", check_key_file=False)
    for d in (units.log_dir(cfg), units.run_dir(cfg)):
        Path(d).mkdir(parents=True, exist_ok=True)
    return cfg


def host(cfg: ClusterConfig, role: str) -> HostSpec:
    return next(h for h in cfg.hosts() if h.role == role)


def read_supervisord(path: Path) -> ServerOptions:
    """The config as supervisord itself reads it (errors raise ValueError)."""
    opts = ServerOptions()
    opts.configfile = str(path)
    opts.process_config(do_usage=False)
    return opts


@pytest.mark.parametrize("role", ["master", "agent", "public_agent"])
def test_supervisord_reads_the_conf_back(short_tmp: Path, role: str) -> None:
    cfg = make_cfg(short_tmp)
    h = host(cfg, role)
    specs = roles.services(cfg, h, cluster_id="c-1")
    conf = short_tmp / "supervisord.conf"
    conf.write_text(units.supervisord_conf(cfg, h, specs))
    opts = read_supervisord(conf)
    assert opts.logfile == str(cfg.work_dir / "logs" / "supervisord.log")
    assert opts.pidfile == str(cfg.work_dir / "run" / "supervisord.pid")
    [server] = opts.configroot.supervisord.server_configs
    [(rpc_name, _, _)] = opts.configroot.supervisord.rpcinterface_factories
    assert rpc_name == "supervisor"
    assert opts.minfds <= 4096  # supervisord refuses to start above the hard limit
    assert server["file"] == str(cfg.work_dir / "run" / "supervisor.sock")
    assert server["chmod"] == 0o700
    parser = ConfigParser(interpolation=None)
    parser.read_string(conf.read_text())
    assert parser["supervisorctl"]["serverurl"] == f"unix://{server['file']}"
    programs = {p.name: p for g in opts.process_group_configs for p in g.process_configs}
    assert sorted(programs) == sorted(s.name for s in specs)
    for spec in specs:
        p = programs[spec.name]
        assert tuple(shlex.split(p.command)) == spec.argv
        assert p.priority == spec.priority
        assert p.environment == dict(spec.env)
        assert p.stdout_logfile == str(spec.log) and p.redirect_stderr
        assert p.stdout_logfile_maxbytes > 0 and p.stdout_logfile_backups == 5
        assert (p.stopasgroup, p.killasgroup) == ((spec.name != "agent"),) * 2
        assert p.startsecs == 3 and p.stopsignal == signal.SIGTERM
        assert p.startretries >= 100  # masters outlast a quorum forming
        assert p.autorestart is not False


def test_percent_signs_survive_supervisord_expansion(short_tmp: Path) -> None:
    cfg = make_cfg(short_tmp)
    spec = ServiceSpec(name="odd", argv=("/bin/echo", "100%", "a b", "it's"),
                       env={"X": "5%"}, priority=30, log=cfg.work_dir / "logs" / "odd.log")
    conf = short_tmp / "s.conf"
    conf.write_text(units.supervisord_conf(cfg, host(cfg, "agent"), [spec]))
    [p] = [p for g in read_supervisord(conf).process_group_configs for p in g.process_configs]
    assert tuple(shlex.split(p.command)) == spec.argv
    assert p.environment == {"X": "5%"}


CHILD = ("import subprocess, sys, time; child = subprocess.Popen(['sleep', '300']); "
         "open(sys.argv[1], 'w').write(str(child.pid)); time.sleep(300)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is as good as gone
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_real_supervisord_keeps_the_agents_children_on_stop(short_tmp: Path) -> None:
    """Stopping "agent" (stopasgroup=false) leaves its child (a task) running; stopping
    "master" (stopasgroup=true) takes its child down with it."""
    cfg = make_cfg(short_tmp)
    specs = [ServiceSpec(name=name, argv=(sys.executable, "-c", CHILD, str(short_tmp / name)),
                         env={"PATH": roles.PATH}, priority=prio,
                         log=cfg.work_dir / "logs" / f"{name}.log", kill_tasks_on_stop=group)
             for name, prio, group in (("master", 20, True), ("agent", 40, False))]
    conf = short_tmp / "supervisord.conf"
    conf.write_text(units.supervisord_conf(cfg, host(cfg, "agent"), specs))
    ctl = [str(BIN / "supervisorctl"), "-c", str(conf)]
    pidfile = Path(cfg.work_dir / "run" / "supervisord.pid")
    children: list[int] = []
    subprocess.run([str(BIN / "supervisord"), "-c", str(conf)], check=True, timeout=30)
    try:
        def running() -> bool:
            out = subprocess.run([*ctl, "status"], capture_output=True, text=True).stdout
            return out.count("RUNNING") == 2

        wait_until(running, "both programs RUNNING", timeout=30)
        children = [int((short_tmp / n).read_text()) for n in ("master", "agent")]
        subprocess.run([*ctl, "stop", "agent"], check=True, capture_output=True, timeout=60)
        subprocess.run([*ctl, "stop", "master"], check=True, capture_output=True, timeout=60)
        wait_until(lambda: not _alive(children[0]), "the master's child gone", timeout=10)
        time.sleep(0.5)
        assert _alive(children[1]), "the agent's child (a task) must outlive the agent"
    finally:
        subprocess.run([*ctl, "shutdown"], capture_output=True, timeout=60)
        if pidfile.exists():
            pid = int(pidfile.read_text())
            if _alive(pid):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _unquote_systemd(line: str) -> tuple[str, ...]:
    """ExecStart= words back (our quoting: bare, or "..." with \\\\ and \\" escapes)."""
    return tuple(w.replace("%%", "%").replace("$$", "$") for w in shlex.split(line))


@pytest.mark.parametrize("role", ["master", "agent", "public_agent"])
def test_systemd_units_verify_and_keep_the_argv(short_tmp: Path, role: str) -> None:
    cfg = make_cfg(short_tmp)
    python = Path(cfg.install_dir / "venv" / "bin" / "python")
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    h = host(cfg, role)
    specs = roles.services(cfg, h, cluster_id="c-1")
    rendered = units.systemd_units(cfg, h, specs)
    assert sorted(rendered) == sorted(f"dcos-py-{s.name}.service" for s in specs)
    unit_dir = short_tmp / "units"
    unit_dir.mkdir()
    for name, text in rendered.items():
        (unit_dir / name).write_text(text)
    by_unit = {s.unit_name: s for s in specs}
    for name, text in rendered.items():
        spec = by_unit[name]
        parser = ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(text)
        service = parser["Service"]
        assert _unquote_systemd(service["ExecStart"]) == spec.argv
        assert service["Restart"] == "always" and service["RestartSec"] == "2"
        assert service["KillMode"] == ("process" if spec.name == "agent" else "control-group")
        assert service["StandardOutput"] == f"append:{spec.log}"
        assert parser["Install"]["WantedBy"] == "multi-user.target"
        assert parser["Unit"]["StartLimitIntervalSec"] == "0"
    if role == "master":
        after = {n: ConfigParser(interpolation=None, strict=False) for n in rendered}
        for n, p in after.items():
            p.read_string(rendered[n])
        assert after["dcos-py-master.service"]["Unit"]["After"].split() == [
            "network-online.target", "dcos-py-zookeeper.service"]
        for other in ("webapp", "package", "dns", "gateway"):
            unit = after[f"dcos-py-{other}.service"]["Unit"]
            assert unit["After"].split()[1:] == ["dcos-py-master.service"]
            assert unit["Wants"].split()[1:] == ["dcos-py-master.service"]
    if role == "public_agent":
        assert "dcos-py-agent.service" in rendered["dcos-py-lb.service"]
        assert "Delegate=yes" in rendered["dcos-py-agent.service"]
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    done = subprocess.run([analyze, "verify", *sorted(str(p) for p in unit_dir.iterdir())],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_systemd_quoting() -> None:
    assert units.systemd_quote("--ip") == "--ip"
    assert units.systemd_quote("a b") == '"a b"'
    assert units.systemd_quote('say "hi" \\') == '"say \\"hi\\" \\\\"'
    assert units.systemd_quote("100%") == "100%%"
    assert units.systemd_quote("$HOME") == "$$HOME"
    assert units.systemd_quote("") == '""'


def test_a_line_break_in_an_argv_is_refused(short_tmp: Path) -> None:
    cfg = make_cfg(short_tmp)
    spec = ServiceSpec(name="bad", argv=("/bin/sh", "-c", "a\nb"), env={}, priority=30,
                       log=cfg.work_dir / "logs" / "bad.log")
    with pytest.raises(ValueError, match="service bad: a line break"):
        units.supervisord_conf(cfg, host(cfg, "agent"), [spec])
    with pytest.raises(ValueError, match="service bad: a line break"):
        units.systemd_units(cfg, host(cfg, "agent"), [spec])


def test_zookeeper_files_per_master(short_tmp: Path) -> None:
    cfg = make_cfg(short_tmp)
    files = units.zookeeper_files(cfg, cfg.hosts()[1])
    assert files["myid"] == "2\n"
    zoo = read_config(files["zoo.cfg"])
    assert zoo["clientPortAddress"] == "10.0.0.12" and zoo["clientPort"] == "2181"
    assert zoo["dataDir"] == f"{cfg.work_dir}/zookeeper/data"
    assert [zoo[f"server.{i}"] for i in (1, 2, 3)] == [
        "10.0.0.11:2888:3888", "10.0.0.12:2888:3888", "10.0.0.13:2888:3888"]
    assert units.zookeeper_files(cfg, host(cfg, "agent")) == {}
    external = make_cfg(short_tmp, zookeeper={"external": ["10.0.1.1:2181"]})
    assert units.zookeeper_files(external, external.hosts()[0]) == {}
    one = make_cfg(short_tmp, master_list=["10.0.0.11"])
    standalone = read_config(units.zookeeper_files(one, one.hosts()[0])["zoo.cfg"])
    assert not [k for k in standalone if k.startswith("server.")]
