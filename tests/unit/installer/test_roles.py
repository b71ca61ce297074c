"""`dcos.installer.roles`: each host's services and their argv. Every argv goes through its
component's own flag parser (a flag that does not exist, or a bad value, fails here rather than
on a host), every server binds its host's address, and the wiring follows the plan: ZooKeeper
URLs, https with security, the certificates, public agents' role and attribute."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dcos.installer import config, roles
from dcos.installer.config import ClusterConfig, HostSpec
from dcos.installer.roles import ServiceSpec

CLUSTER_ID = "0b3c5d7e-1f2a-4b5c-8d9e-0123456789ab"
MASTERS = ["10.0.0.11", "10.0.0.12", "10.0.0.13"]


@pytest.fixture(autouse=True)
def _no_flag_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parsers also read DCOS_<FLAG>/MESOS_<FLAG>: none may leak in from the caller."""
    import os

    for name in list(os.environ):
        if name.startswith(("DCOS_", "MESOS_")):
            monkeypatch.delenv(name)


def make_cfg(tmp_path: Path, **raw: Any) -> ClusterConfig:
    body: dict[str, Any] = {
        "cluster_name": "prod", "master_list": MASTERS, "agent_list": ["10.0.0.21"],
        "public_agent_list": ["10.0.0.31"], "ssh_key_path": str(tmp_path / "key"),
    }
    body.update(raw)
    return config.parse(body, tmp_path / "cluster.yaml", check_key_file=False)


def host(cfg: ClusterConfig, role: str) -> HostSpec:
    return next(h for h in cfg.hosts() if h.role == role)


def by_name(specs: list[ServiceSpec]) -> dict[str, ServiceSpec]:
    return {s.name: s for s in specs}


def flag(argv: tuple[str, ...], name: str) -> str:
    values = flags(argv, name)
    assert len(values) == 1, f"{name} given {len(values)} times in {argv}"
    return values[0]


def flags(argv: tuple[str, ...], name: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == name]


# --- each component's parser, as its __main__ runs it (exit 2 on a bad flag) -------------------

def _master(args: list[str]) -> Any:
    from dcos.master.__main__ import parse_args
    return parse_args(args, environ={})


def _agent(args: list[str]) -> Any:
    from dcos.agent.__main__ import config_from_args
    return config_from_args(args, environ={})[0]


def _webapp(args: list[str]) -> Any:
    from frameworks.webapp.__main__ import parse_args
    return parse_args(args, environ={})


def _package(args: list[str]) -> Any:
    from dcos.packaging.__main__ import parse_args
    return parse_args(args)[0]


def _dns(args: list[str]) -> Any:
    from dcos.dns.__main__ import parse_args
    return parse_args(args, environ={})[1]


def _gateway(args: list[str]) -> Any:
    from dcos.gateway.config import parse_args
    return parse_args(args, environ={})[0]


def _lb(args: list[str]) -> Any:
    from frameworks.webapp.lb.__main__ import parse_args
    return parse_args(args, environ={})


def _zookeeper(args: list[str]) -> Any:
    from dcos.state.zk_server import build_parser
    return build_parser().parse_args(args)


PARSERS: dict[str, Callable[[list[str]], Any]] = {
    "dcos.master": _master, "dcos.agent": _agent, "frameworks.webapp": _webapp,
    "dcos.packaging": _package, "dcos.dns": _dns, "dcos.gateway": _gateway,
    "frameworks.webapp.lb": _lb, "dcos.state.zk_server": _zookeeper,
}


def parsed(spec: ServiceSpec) -> Any:
    """The argv through its component's parser; a usage error fails the test with it."""
    python, dash_m, module, *args = spec.argv
    assert dash_m == "-m"
    try:
        return PARSERS[module](args)
    except SystemExit as exc:
        pytest.fail(f"{spec.name}: {module} refuses its argv (exit {exc.code}): {spec.argv}")


CONFIGS: dict[str, dict[str, Any]] = {
    "secure": {},
    "plain": {"security": {"enabled": False}},
    "external-zk": {"zookeeper": {"external": ["10.0.1.1:2181", "10.0.1.2:2181"]}},
    "one-master": {"master_list": ["10.0.0.11"]},
    "resources": {"resources": {"cpus": 2, "mem": 4096.5}, "attributes": {"rack": "r1"},
                  "hosts": {"10.0.0.31": {"resources": {"cpus": 1}}}},
    "ipv6": {"master_list": ["fd00::11", "fd00::12", "fd00::13"], "agent_list": ["fd00::21"],
             "public_agent_list": ["fd00::31"], "resolvers": ["2001:4860:4860::8888"]},
    "resolvers": {"resolvers": ["8.8.8.8", "1.1.1.1"]},
}


@pytest.mark.parametrize("variant", sorted(CONFIGS))
def test_every_argv_passes_its_components_parser_and_binds_the_host(
        tmp_path: Path, variant: str, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = make_cfg(tmp_path, **CONFIGS[variant])
    for h in cfg.hosts():
        specs = roles.services(cfg, h, cluster_id=CLUSTER_ID)
        assert [s.name for s in specs] == [
            n for n in roles.SERVICE_NAMES[h.role] if n != "zookeeper" or cfg.zk_on_masters]
        for spec in specs:
            parsed(spec)
            assert spec.argv[0] == f"{cfg.install_dir}/venv/bin/python"
            assert "0.0.0.0" not in spec.argv and "::" not in spec.argv
            bound = [*flags(spec.argv, "--ip"), *flags(spec.argv, "--bind-address")]
            if spec.name != "zookeeper":
                assert bound == [h.address], spec.argv
            assert spec.log == cfg.work_dir / "logs" / f"{spec.name}.log"
            assert spec.priority == roles.PRIORITY[spec.name]
            assert spec.kill_tasks_on_stop is (spec.name != "agent")
            assert "--log-file" not in spec.argv  # the service manager keeps the log
    assert "error" not in capsys.readouterr().err


def test_master_host_wiring_with_security(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    m = host(cfg, "master")
    s = by_name(roles.services(cfg, m, cluster_id=CLUSTER_ID))
    ens = "10.0.0.11:2181,10.0.0.12:2181,10.0.0.13:2181"
    webapps = "https://10.0.0.11:8080,https://10.0.0.12:8080,https://10.0.0.13:8080"

    master = parsed(s["master"])
    assert (master.ip, master.port, master.zk) == ("10.0.0.11", 5050, f"zk://{ens}/dcos")
    assert master.security_dir == "/etc/dcos-py/security" and master.tls_name == "master"
    assert master.default_task_user == "nobody" and master.cluster == "prod"
    assert master.work_dir == "/var/lib/dcos-py/master"

    webapp = parsed(s["webapp"])
    assert webapp.master == f"zk://{ens}/dcos" and webapp.zk.path == "/dcos-webapp"
    assert (webapp.ip, webapp.port, webapp.tls_name) == ("10.0.0.11", 8080, "webapp")
    # as Marathon on DC/OS: offers of public agents (reserved to slave_public) and of the
    # others; apps without acceptedResourceRoles stay off public agents
    assert webapp.role == "slave_public" and webapp.default_accepted_resource_roles == ("*",)

    package = parsed(s["package"])
    assert package.zk == f"zk://{ens}/dcos-packaging" and package.webapp == webapps
    assert package.advertise_url == "https://10.0.0.11:7070"
    assert package.default_repo == ["Universe=file:///opt/dcos-py/repo/index.json"]
    assert (package.tls_name, package.gateway_name) == ("package", "gateway")
    assert str(package.security_dir) == "/etc/dcos-py/security"

    dns = parsed(s["dns"])
    assert (dns.ip, dns.port, dns.http_port, dns.tls_name) == ("10.0.0.11", 53, 8123, "dns")
    assert dns.webapp == webapps and dns.master == f"zk://{ens}/dcos"
    assert dns.resolvers == ()  # none configured: names outside .dcos are REFUSED


    gateway = parsed(s["gateway"])
    assert (gateway.ip, gateway.port) == ("10.0.0.11", 443)
    assert gateway.masters == tuple(f"https://{m}:5050" for m in MASTERS)
    assert gateway.package == "https://10.0.0.11:7070"
    assert gateway.dns_http == "https://10.0.0.11:8123"
    assert (gateway.cluster_id, gateway.cluster_name) == (CLUSTER_ID, "prod")
    assert gateway.tls_name == "gateway" and gateway.secure

    zk = parsed(s["zookeeper"])
    assert zk.config == "/etc/dcos-py/zookeeper/zoo.cfg" and zk.heap_mb == 256


def test_dns_forwards_to_the_configured_resolvers(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, resolvers=["8.8.8.8", "2001:4860:4860::8888"])
    dns = parsed(by_name(roles.services(cfg, host(cfg, "master"), cluster_id="x"))["dns"])
    assert tuple(dns.resolvers) == (("8.8.8.8", 53), ("2001:4860:4860::8888", 53))


def test_no_default_repo_when_the_bundle_has_none(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    s = by_name(roles.services(cfg, host(cfg, "master"), cluster_id=CLUSTER_ID, repo=False))
    assert parsed(s["package"]).default_repo is None


def test_agents_wiring_with_security(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, attributes={"rack": "r1"})
    agent = by_name(roles.services(cfg, host(cfg, "agent"), cluster_id=CLUSTER_ID))["agent"]
    a = parsed(agent)
    assert a.master == "zk://10.0.0.11:2181,10.0.0.12:2181,10.0.0.13:2181/dcos"
    assert (a.ip, a.port, a.work_dir) == ("10.0.0.21", 5051, "/var/lib/dcos-py/agent")
    assert a.dns_resolver == "10.0.0.11:53"
    assert a.resources is None  # detected on the host (task ports 31000-32000 by default)
    assert a.attributes == "rack:r1"
    assert (a.tls_name, a.default_task_user) == ("agent-10.0.0.21", "nobody")
    assert not a.kill_tasks_on_stop

    public = by_name(roles.services(cfg, host(cfg, "public_agent"), cluster_id=CLUSTER_ID))
    p = parsed(public["agent"])
    assert p.tls_name == "agent-10.0.0.31"
    assert p.resources == "ports(slave_public):[31000-32000]"
    assert p.attributes == "public_ip:true;rack:r1"
    lb = parsed(public["lb"])
    assert (lb.bind_address, lb.http_port, lb.stats_port) == ("10.0.0.31", 9080, 9090)
    assert lb.webapp == "https://10.0.0.11:8080,https://10.0.0.12:8080,https://10.0.0.13:8080"
    assert (lb.tls_name, lb.group) == ("lb", "external")


def test_configured_resources_and_the_public_role(tmp_path: Path) -> None:
    from dcos.agent.resources import apply_overrides
    from dcos.protocol.resources import Resources

    cfg = make_cfg(tmp_path, resources={"cpus": 4, "mem": 8192, "disk": 0.5},
                   hosts={"10.0.0.31": {"resources": {"cpus": 2}}})
    private = flag(roles.services(cfg, host(cfg, "agent"), cluster_id="x")[0].argv, "--resources")
    assert private == "cpus:4;disk:0.5;mem:8192;ports:[31000-32000]"
    public = flag(roles.services(cfg, host(cfg, "public_agent"), cluster_id="x")[0].argv,
                  "--resources")
    assert public == ("cpus(slave_public):2;disk(slave_public):0.5;mem(slave_public):8192;"
                      "ports(slave_public):[31000-32000]")
    # the agent reads the same quantities from both forms (the role is Mesos' text syntax)
    given = apply_overrides(Resources({"cpus": 1.0}, {}), public)
    assert given.scalars == {"cpus": 2.0, "disk": 0.5, "mem": 8192.0}
    assert list(given.ranges["ports"]) == [(31000, 32000)]


def test_security_off_means_plain_http_and_no_security_flags(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, security=False)
    for h in cfg.hosts():
        for spec in roles.services(cfg, h, cluster_id=CLUSTER_ID):
            text = " ".join(spec.argv)
            assert "--security-dir" not in text and "--tls-name" not in text
            assert "https://" not in text and "--default-task-user" not in text
            assert "--gateway-name" not in text
    gateway = parsed(by_name(roles.services(cfg, host(cfg, "master"), cluster_id="x"))["gateway"])
    assert gateway.port == 80 and not gateway.secure
    assert gateway.masters == tuple(f"http://{m}:5050" for m in MASTERS)


def test_external_zookeeper_runs_none_on_the_masters(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, zookeeper={"external": ["10.0.1.1:2181", "10.0.1.2:2181"]})
    s = by_name(roles.services(cfg, host(cfg, "master"), cluster_id="x"))
    assert "zookeeper" not in s
    assert flag(s["master"].argv, "--zk") == "zk://10.0.1.1:2181,10.0.1.2:2181/dcos"
    assert [w for _, w in roles.ports(cfg, "master") if w.startswith("zookeeper")] == []


def test_ipv6_hosts_are_bracketed_in_urls(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, **CONFIGS["ipv6"])
    agent = parsed(roles.services(cfg, host(cfg, "agent"), cluster_id="x")[0])
    assert agent.dns_resolver == "[fd00::11]:53"
    assert agent.master == "zk://[fd00::11]:2181,[fd00::12]:2181,[fd00::13]:2181/dcos"
    gateway = parsed(by_name(roles.services(cfg, host(cfg, "master"), cluster_id="x"))["gateway"])
    assert gateway.package == "https://[fd00::11]:7070"
    assert all(ipaddress.ip_address(a) for a in (agent.ip, gateway.ip))


def test_ports_per_role(tmp_path: Path) -> None:
    secure, plain = make_cfg(tmp_path), make_cfg(tmp_path, security=False)
    assert roles.ports(secure, "master") == roles.PORTS["master"]
    assert (443, "gateway") in roles.ports(secure, "master")
    assert (80, "gateway") in roles.ports(plain, "master")
    assert roles.ports(secure, "agent") == [(5051, "agent")]
    assert roles.ports(secure, "public_agent") == [(5051, "agent"), (9080, "lb http"),
                                                   (9090, "lb stats")]
    # every port a master's services bind is listed
    s = by_name(roles.services(secure, host(secure, "master"), cluster_id="x"))
    listed = {p for p, _ in roles.ports(secure, "master")}
    for spec in s.values():
        for name in ("--port", "--http-port"):
            assert {int(v) for v in flags(spec.argv, name)} <= listed


def test_certificate_names_are_the_tls_names(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    for h in cfg.hosts():
        used = {flag(s.argv, "--tls-name") for s in roles.services(cfg, h, cluster_id="x")
                if s.name != "zookeeper"}
        assert used == set(roles.cert_names(h.role, h.address))
