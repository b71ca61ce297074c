"""The installer's config (`cluster.yaml`): parsed and checked into a frozen `ClusterConfig`.

`parse(raw, config_path)` checks EVERY key and raises one `ConfigInvalid` that lists all the
problems at once, each named by its key in dotted form (``master_list[1]``,
``hosts.10.0.0.21.resources.cpus``, ``security.bootstrap_user.password_hash``), so an operator
fixes the file in one pass; `load(path)` reads the YAML first (a syntax error or a missing file
is one problem named by the file). Nothing here touches a host: it only reads the config file
and the SSH private key file (readable, a private key, not protected by a passphrase).

Called by: `dcos.installer.main.run` (every `dcos-py install` step; `--validate-config` stops
there), `dcos.installer.inventory.effective` (agents added/removed later, through `with_agent`
and `without_host`), and every step module, which reads the `ClusterConfig` it is handed.
The checks of each section are in `dcos.installer.config_checks`. The reference of every key
is docs/install.md; installer/cluster.yaml.example is a commented example.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

Role = Literal["master", "agent", "public_agent"]
ROLES: tuple[Role, ...] = ("master", "agent", "public_agent")
ZK_CLIENT_PORT = 2181
MASTER_COUNTS = (1, 3, 5)
ETC_DIR = PurePosixPath("/etc/dcos-py")  # every host's config directory (fixed)

TOP_KEYS = (
    "cluster_name", "master_list", "agent_list", "public_agent_list", "ssh_user", "ssh_port",
    "ssh_key_path", "ssh_parallelism", "install_dir", "work_dir", "resources", "attributes",
    "hosts", "zookeeper", "resolvers", "ip_detect", "security", "packages",
)
LIST_KEYS: dict[str, Role] = {
    "master_list": "master", "agent_list": "agent", "public_agent_list": "public_agent"}


@dataclass(frozen=True)
class HostSpec:
    """One host of the cluster: its `address`, `role` and `index` within its list (master i
    gets ZooKeeper myid i+1); an agent's `resources` (None: it detects them) and
    `attributes`, the cluster-wide ones with its `hosts:` override applied."""

    address: str
    role: Role
    index: int
    resources: dict[str, float] | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SecurityConfig:
    """`security:`: on by default; the bootstrap user's uid and scrypt password hash (None: genconf
    generates a password and prints it once)."""

    enabled: bool = True
    bootstrap_uid: str = "admin"
    bootstrap_password_hash: str | None = None


@dataclass(frozen=True)
class PackageRequest:
    """One entry of `packages.install`: installed by postflight through the package service."""

    name: str
    version: str | None = None
    options: dict[str, Any] | None = None


@dataclass(frozen=True)
class ClusterConfig:
    """The checked config. Addresses are normalized (``ipaddress`` form); `host_overrides` maps
    an agent's address to ``{"resources": {...}, "attributes": {...}}`` (either may be absent);
    `zk_external` is () for an ensemble on the masters. `genconf_override` is set by
    ``--genconf-dir`` (None: `genconf/` next to the config file)."""

    cluster_name: str
    masters: tuple[str, ...]
    agents: tuple[str, ...]
    public_agents: tuple[str, ...]
    ssh_user: str
    ssh_port: int
    ssh_key_path: Path
    ssh_parallelism: int
    install_dir: PurePosixPath
    work_dir: PurePosixPath
    resources: dict[str, float] | None
    attributes: dict[str, str]
    host_overrides: dict[str, dict[str, Any]]
    zk_external: tuple[str, ...]
    resolvers: tuple[str, ...]
    ip_detect: str | None
    security: SecurityConfig
    repositories: tuple[tuple[str, str], ...]
    packages: tuple[PackageRequest, ...]
    config_path: Path
    genconf_override: Path | None = None

    def hosts(self) -> list[HostSpec]:
        """Every host: masters, then agents, then public agents (each with its index)."""
        out = [HostSpec(a, "master", i) for i, a in enumerate(self.masters)]
        groups: tuple[tuple[Role, tuple[str, ...]], ...] = (
            ("agent", self.agents), ("public_agent", self.public_agents))
        for role, addresses in groups:
            out.extend(self._agent_spec(a, role, i) for i, a in enumerate(addresses))
        return out

    def host(self, address: str) -> HostSpec | None:
        """The host with this address (any spelling of the same IP), or None."""
        wanted = normalize_address(address) or address
        return next((h for h in self.hosts() if h.address == wanted), None)

    def _agent_spec(self, address: str, role: Role, index: int) -> HostSpec:
        override = self.host_overrides.get(address, {})
        resources: dict[str, float] | None = None
        if self.resources is not None or "resources" in override:
            resources = {**(self.resources or {}), **override.get("resources", {})}
        attributes = {**self.attributes, **override.get("attributes", {})}
        return HostSpec(address, role, index, resources, attributes)

    def zk_hosts(self) -> list[str]:
        """``host:port`` of every ZooKeeper server: the external ensemble, else the masters."""
        if self.zk_external:
            return list(self.zk_external)
        return [f"{host_port_text(m)}:{ZK_CLIENT_PORT}" for m in self.masters]

    def zk_url(self, path: str) -> str:
        """``zk://m1:2181,m2:2181,m3:2181/<path>`` (path with or without its leading ``/``)."""
        return f"zk://{','.join(self.zk_hosts())}/{path.lstrip('/')}"

    @property
    def zk_on_masters(self) -> bool:
        return not self.zk_external

    @property
    def genconf_dir(self) -> Path:
        """Where genconf writes (``--genconf-dir``, else ``genconf/`` next to the config)."""
        return self.genconf_override or self.config_path.parent / "genconf"


@dataclass(frozen=True)
class ConfigProblem:
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigInvalid(Exception):
    """The config is wrong: `problems` lists every problem found (str: one per line)."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def normalize_address(text: str) -> str | None:
    """The canonical text of an IPv4/IPv6 address, or None when `text` is not one."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def host_port_text(address: str) -> str:
    """An address as it goes before ``:port`` (IPv6 in brackets)."""
    return f"[{address}]" if ":" in address else address


# --- parse ----------------------------------------------------------------------------------


def parse(raw: object, config_path: Path, *, check_key_file: bool = True) -> ClusterConfig:
    """Check the loaded YAML `raw` (from the file at `config_path`, which relative paths in it
    are relative to) and build the `ClusterConfig`; raise `ConfigInvalid` with every problem.
    `check_key_file=False` skips reading the SSH key (tests of other modules)."""
    from dcos.installer import config_checks as ck  # it imports this module's types

    c = ck.Check()
    config_path = Path(config_path).absolute()
    if not isinstance(raw, dict):
        what = "empty" if raw is None else ck.shown(raw)
        raise ConfigInvalid([ConfigProblem(
            str(config_path), f"must be a mapping of keys (cluster_name: ..., master_list: "
            f"[...], ...), the file is {what}")])
    data: dict[str, Any] = c.want_mapping(raw, "<config>") or {}
    c.unknown_keys(data, TOP_KEYS, "")
    name = c.want_str(data, "cluster_name", "cluster_name", None, ck.CLUSTER_NAME,
                      "1 to 63 letters, digits, '.', '_' or '-', starting with a letter or "
                      "digit") or ""
    lists = ck.host_lists(c, data)
    ssh_user = c.want_str(data, "ssh_user", "ssh_user", "root", ck.SSH_USER,
                          "a user name (letters, digits, '.', '_', '-')") or "root"
    ssh_port = c.want_int(data, "ssh_port", "ssh_port", 22, 1, 65535, "a port is 1..65535")
    key_path = ck.key_path(c, data, config_path, check_key_file)
    parallelism = c.want_int(data, "ssh_parallelism", "ssh_parallelism", 10, 1, None,
                             "at least 1 host at a time")
    install_dir = c.want_dir(data, "install_dir", "/opt/dcos-py")
    work_dir = c.want_dir(data, "work_dir", "/var/lib/dcos-py")
    if install_dir == work_dir or install_dir in work_dir.parents or \
            work_dir in install_dir.parents:
        c.bad("work_dir", f"{str(work_dir)!r} overlaps install_dir {str(install_dir)!r}: use "
              "two separate directories")
    resources = ck.resources(c, data.get("resources"), "resources")
    attributes = ck.attributes(c, data.get("attributes"), "attributes") or {}
    overrides = ck.host_overrides(c, data.get("hosts"), lists)
    zk_external = ck.zookeeper(c, data.get("zookeeper", "masters"))
    resolvers = ck.resolvers(c, data.get("resolvers"))
    ip_detect = data.get("ip_detect")
    if ip_detect is not None and (not isinstance(ip_detect, str) or not ip_detect.strip()):
        c.bad("ip_detect", f"must be a shell command (a string), not {ck.shown(ip_detect)}")
        ip_detect = None
    security = ck.security(c, data.get("security"))
    repositories, packages = ck.packages(c, data.get("packages"))
    if c.problems:
        raise ConfigInvalid(c.problems)
    return ClusterConfig(
        cluster_name=name, masters=lists["master_list"], agents=lists["agent_list"],
        public_agents=lists["public_agent_list"], ssh_user=ssh_user, ssh_port=ssh_port,
        ssh_key_path=key_path, ssh_parallelism=parallelism, install_dir=install_dir,
        work_dir=work_dir, resources=resources, attributes=attributes, host_overrides=overrides,
        zk_external=zk_external, resolvers=resolvers, ip_detect=ip_detect, security=security,
        repositories=repositories, packages=packages, config_path=config_path)


# --- load, add, remove ----------------------------------------------------------------------


def load(path: Path, *, check_key_file: bool = True) -> ClusterConfig:
    """Read and `parse` the YAML file at `path`; a missing/unreadable file or a YAML syntax
    error is a `ConfigInvalid` with one problem named by the file."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigInvalid([ConfigProblem(str(path), "no such file (give --config PATH; "
                                           "installer/cluster.yaml.example is an example)")]
                            ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigInvalid([ConfigProblem(str(path), f"cannot be read: {reason}")]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigInvalid([ConfigProblem(str(path), f"not valid YAML: {where}{what}")]
                            ) from None
    return parse(raw, path, check_key_file=check_key_file)


def with_agent(cfg: ClusterConfig, address: str, public: bool) -> ClusterConfig:
    """`cfg` with one more agent (public: a public agent) at `address` (``--add-agent``);
    `ConfigInvalid` when it is not an IP address or already a host of the cluster."""
    key = "public_agent_list" if public else "agent_list"
    normal = normalize_address(address)
    if normal is None:
        raise ConfigInvalid([ConfigProblem(key, f"{address!r} is not an IPv4 or IPv6 address")])
    existing = cfg.host(normal)
    if existing is not None:
        raise ConfigInvalid([ConfigProblem(
            key, f"{normal} is already in the cluster (a {existing.role.replace('_', ' ')})")])
    if public:
        return dataclasses.replace(cfg, public_agents=(*cfg.public_agents, normal))
    return dataclasses.replace(cfg, agents=(*cfg.agents, normal))


def without_host(cfg: ClusterConfig, address: str) -> ClusterConfig:
    """`cfg` without the agent or public agent at `address` (``--remove-agent``);
    `ConfigInvalid` for a master or an address not in the cluster."""
    normal = normalize_address(address) or address
    host = cfg.host(normal)
    if host is None:
        raise ConfigInvalid([ConfigProblem("agent_list", f"{address} is not a host of the "
                                           "cluster")])
    if host.role == "master":
        raise ConfigInvalid([ConfigProblem("master_list", f"{normal} is a master: masters are "
                                           "not removed one by one (1, 3 or 5 are needed)")])
    overrides = {a: o for a, o in cfg.host_overrides.items() if a != normal}
    return dataclasses.replace(
        cfg, agents=tuple(a for a in cfg.agents if a != normal),
        public_agents=tuple(a for a in cfg.public_agents if a != normal),
        host_overrides=overrides)
