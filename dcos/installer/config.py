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
The reference of every key is docs/install.md; installer/cluster.yaml.example is a commented
example.
"""

from __future__ import annotations

import base64
import dataclasses
import difflib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from dcos.security.passwords import hash_problem

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
_CLUSTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")
_SSH_USER = re.compile(r"[A-Za-z_][A-Za-z0-9._-]{0,31}\$?\Z")
_RESOURCE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_PRIVATE_KEY_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----")


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


# --- the checker --------------------------------------------------------------------------


class _Check:
    """Collects problems; each `want_*` returns the value (or a default) and records a problem
    when the value is wrong, so parsing always goes on to the next key."""

    def __init__(self) -> None:
        self.problems: list[ConfigProblem] = []

    def bad(self, key: str, message: str) -> None:
        self.problems.append(ConfigProblem(key, message))

    def want_str(self, raw: dict[str, Any], key: str, name: str, default: str | None,
                 pattern: re.Pattern[str] | None = None, rule: str = "") -> str | None:
        value = raw.get(key)
        if value is None:  # absent or empty (`key:` with nothing): the default, if any
            if default is None:
                self.bad(name, "is required" if key not in raw else "is required (it is empty)")
            return default
        if not isinstance(value, str) or not value.strip():
            self.bad(name, f"must be a non-empty string, not {_shown(value)}")
            return default
        if pattern is not None and not pattern.match(value):
            self.bad(name, f"{value!r} is not valid: {rule}")
            return default
        return value

    def want_int(self, raw: dict[str, Any], key: str, name: str, default: int,
                 low: int, high: int | None, what: str) -> int:
        value = raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(name, f"must be an integer, not {_shown(value)}")
            return default
        if value < low or (high is not None and value > high):
            self.bad(name, f"{value} is out of range: {what}")
            return default
        return value

    def want_dir(self, raw: dict[str, Any], key: str, default: str) -> PurePosixPath:
        text = self.want_str(raw, key, key, default)
        path = PurePosixPath(text or default)
        if not path.is_absolute():
            self.bad(key, f"{str(path)!r} must be an absolute path (starting with /)")
        elif ".." in path.parts:
            self.bad(key, f"{str(path)!r} must not contain '..'")
        elif len(path.parts) < 3:
            self.bad(key, f"{str(path)!r} is too close to / (uninstall removes it): use a "
                     "directory of its own such as /opt/dcos-py")
        elif path == ETC_DIR or ETC_DIR in path.parents:
            self.bad(key, f"{str(path)!r} overlaps /etc/dcos-py (the hosts' config directory)")
        return path

    def want_mapping(self, value: object, name: str) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.bad(name, f"must be a mapping (key: value), not {_shown(value)}")
            return None
        for k in value:
            if not isinstance(k, str):
                self.bad(f"{name}.{k}", "keys must be strings")
        return {k: v for k, v in value.items() if isinstance(k, str)}

    def unknown_keys(self, raw: dict[str, Any], known: tuple[str, ...], prefix: str) -> None:
        for k in raw:
            if k not in known:
                close = difflib.get_close_matches(k, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else \
                    f" (known keys: {', '.join(known)})"
                self.bad(f"{prefix}{k}", f"unknown key, probably a typo{hint}")


def _shown(value: object) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a mapping", type(None): "empty"}.get(type(value), "a value")
    return kind if isinstance(value, list | dict | type(None)) else f"{kind} ({value!r})"


# --- parse ----------------------------------------------------------------------------------


def parse(raw: object, config_path: Path, *, check_key_file: bool = True) -> ClusterConfig:
    """Check the loaded YAML `raw` (from the file at `config_path`, which relative paths in it
    are relative to) and build the `ClusterConfig`; raise `ConfigInvalid` with every problem.
    `check_key_file=False` skips reading the SSH key (tests of other modules)."""
    c = _Check()
    config_path = Path(config_path).absolute()
    if not isinstance(raw, dict):
        what = "empty" if raw is None else _shown(raw)
        raise ConfigInvalid([ConfigProblem(
            str(config_path), f"must be a mapping of keys (cluster_name: ..., master_list: "
            f"[...], ...), the file is {what}")])
    data: dict[str, Any] = c.want_mapping(raw, "<config>") or {}
    c.unknown_keys(data, TOP_KEYS, "")
    name = c.want_str(data, "cluster_name", "cluster_name", None, _CLUSTER_NAME,
                      "1 to 63 letters, digits, '.', '_' or '-', starting with a letter or "
                      "digit") or ""
    lists = _host_lists(c, data)
    ssh_user = c.want_str(data, "ssh_user", "ssh_user", "root", _SSH_USER,
                          "a user name (letters, digits, '.', '_', '-')") or "root"
    ssh_port = c.want_int(data, "ssh_port", "ssh_port", 22, 1, 65535, "a port is 1..65535")
    key_path = _key_path(c, data, config_path, check_key_file)
    parallelism = c.want_int(data, "ssh_parallelism", "ssh_parallelism", 10, 1, None,
                             "at least 1 host at a time")
    install_dir = c.want_dir(data, "install_dir", "/opt/dcos-py")
    work_dir = c.want_dir(data, "work_dir", "/var/lib/dcos-py")
    if install_dir == work_dir or install_dir in work_dir.parents or \
            work_dir in install_dir.parents:
        c.bad("work_dir", f"{str(work_dir)!r} overlaps install_dir {str(install_dir)!r}: use "
              "two separate directories")
    resources = _resources(c, data.get("resources"), "resources")
    attributes = _attributes(c, data.get("attributes"), "attributes") or {}
    overrides = _host_overrides(c, data.get("hosts"), lists)
    zk_external = _zookeeper(c, data.get("zookeeper", "masters"))
    resolvers = _resolvers(c, data.get("resolvers"))
    ip_detect = data.get("ip_detect")
    if ip_detect is not None and (not isinstance(ip_detect, str) or not ip_detect.strip()):
        c.bad("ip_detect", f"must be a shell command (a string), not {_shown(ip_detect)}")
        ip_detect = None
    security = _security(c, data.get("security"))
    repositories, packages = _packages(c, data.get("packages"))
    if c.problems:
        raise ConfigInvalid(c.problems)
    return ClusterConfig(
        cluster_name=name, masters=lists["master_list"], agents=lists["agent_list"],
        public_agents=lists["public_agent_list"], ssh_user=ssh_user, ssh_port=ssh_port,
        ssh_key_path=key_path, ssh_parallelism=parallelism, install_dir=install_dir,
        work_dir=work_dir, resources=resources, attributes=attributes, host_overrides=overrides,
        zk_external=zk_external, resolvers=resolvers, ip_detect=ip_detect, security=security,
        repositories=repositories, packages=packages, config_path=config_path)


def _host_lists(c: _Check, data: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """master_list (1, 3 or 5), agent_list, public_agent_list: valid IPs, none listed twice."""
    seen: dict[str, str] = {}  # address -> the key where it first appeared
    out: dict[str, tuple[str, ...]] = {}
    for key in LIST_KEYS:
        value = data.get(key)
        if value is None:
            if key == "master_list":
                c.bad(key, "is required: 1, 3 or 5 master addresses")
            out[key] = ()
            continue
        if isinstance(value, str):  # a single address instead of a list
            value = [value]
        if not isinstance(value, list):
            c.bad(key, f"must be a list of IP addresses, not {_shown(value)}")
            out[key] = ()
            continue
        addresses: list[str] = []
        for i, item in enumerate(value):
            name = f"{key}[{i}]"
            address = normalize_address(item) if isinstance(item, str) else None
            if address is None:
                c.bad(name, f"{item!r} is not an IPv4 or IPv6 address" if isinstance(item, str)
                      else f"must be an IP address (a string), not {_shown(item)}")
                continue
            if address in seen:
                where = seen[address]
                c.bad(name, f"{address} is listed twice (also {where})" if where.startswith(key)
                      else f"{address} is also in {where}: a host has one role")
                continue
            seen[address] = name
            addresses.append(address)
        out[key] = tuple(addresses)
        if key == "master_list" and len(value) not in MASTER_COUNTS:
            c.bad(key, _master_count_problem(len(value)))
    return out


def _master_count_problem(n: int) -> str:
    if n == 0:
        return "at least one master is needed: use 1, 3 or 5"
    if n < 5:
        return (f"{n} masters given: use 1, 3 or 5 (an even number survives no more failures "
                "than one fewer: ZooKeeper and the masters need a majority)")
    return f"{n} masters given: use 1, 3 or 5 (more masters slow every ZooKeeper write)"


def _key_path(c: _Check, data: dict[str, Any], config_path: Path, check: bool) -> Path:
    text = c.want_str(data, "ssh_key_path", "ssh_key_path", None)
    if text is None:
        return Path()
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = config_path.parent / path
    if check:
        problem = private_key_problem(path)
        if problem:
            c.bad("ssh_key_path", problem)
    return path


def private_key_problem(path: Path) -> str | None:
    """Why `path` is not a usable SSH private key (unreadable, a public key, not a key, or
    protected by a passphrase), or None."""
    try:
        data = path.read_bytes()[:65536]
    except FileNotFoundError:
        return f"{path}: no such file"
    except IsADirectoryError:
        return f"{path} is a directory, not a private key file"
    except OSError as exc:
        return f"{path} cannot be read: {exc.strerror or exc}"
    text = data.decode("ascii", "replace")
    match = _PRIVATE_KEY_BEGIN.search(text)
    if match is None:
        if text.startswith(("ssh-", "ecdsa-", "sk-")):
            return f"{path} is a public key: give the private key file (without .pub)"
        return f"{path} is not a private key (no '-----BEGIN ... PRIVATE KEY-----' line)"
    if "ENCRYPTED" in match.group(1) or "Proc-Type: 4,ENCRYPTED" in text:
        return f"{path} is protected by a passphrase: the installer needs a key without one"
    if match.group(1) == "OPENSSH " and _openssh_cipher(text[match.end():]) not in (None, "none"):
        return f"{path} is protected by a passphrase: the installer needs a key without one"
    return None


def _openssh_cipher(body: str) -> str | None:
    """The cipher name of an ``openssh-key-v1`` private key (``none``: no passphrase)."""
    b64 = "".join(body.split("-----", 1)[0].split())
    try:
        blob = base64.b64decode(b64[:200] + "=" * (-len(b64[:200]) % 4))
    except ValueError:
        return None
    magic = b"openssh-key-v1\0"
    if not blob.startswith(magic) or len(blob) < len(magic) + 4:
        return None
    n = int.from_bytes(blob[len(magic):len(magic) + 4], "big")
    return blob[len(magic) + 4:len(magic) + 4 + n].decode("ascii", "replace")


def _number(c: _Check, value: object, name: str) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        c.bad(name, f"must be a number, not {_shown(value)}")
        return None
    if value < 0 or value != value or value == float("inf"):
        c.bad(name, f"{value} must be a finite number >= 0")
        return None
    return float(value)


def _resources(c: _Check, value: object, name: str) -> dict[str, float] | None:
    """``{cpus: 4, mem: 8192, disk: ..., gpus: ...}``: names of scalar resources -> numbers."""
    raw = c.want_mapping(value, name)
    if raw is None:
        return None
    out: dict[str, float] = {}
    for k, v in raw.items():
        if not _RESOURCE_NAME.match(k):
            c.bad(f"{name}.{k}", "a resource name is letters, digits, '_', '.', '-'")
            continue
        number = _number(c, v, f"{name}.{k}")
        if number is not None:
            out[k] = number
    return out


def _attributes(c: _Check, value: object, name: str) -> dict[str, str] | None:
    """``{rack: r1, zone: a}``: attribute names -> text (numbers are kept as their text)."""
    raw = c.want_mapping(value, name)
    if raw is None:
        return None
    out: dict[str, str] = {}
    for k, v in raw.items():
        if not _ATTRIBUTE_NAME.match(k):
            c.bad(f"{name}.{k}", "an attribute name is letters, digits, '_', '.', '-'")
        elif isinstance(v, bool) or not isinstance(v, str | int | float):
            c.bad(f"{name}.{k}", f"must be a text or a number, not {_shown(v)}")
        elif not str(v).strip() or any(ch in str(v) for ch in ";:,"):
            c.bad(f"{name}.{k}", f"{v!r}: an attribute value is not empty and has no ';', "
                  "':' or ','")
        else:
            out[k] = str(v)
    return out


def _host_overrides(c: _Check, value: object,
                    lists: dict[str, tuple[str, ...]]) -> dict[str, dict[str, Any]]:
    """``hosts: {10.0.0.21: {resources: {...}, attributes: {...}}}`` for agents only."""
    raw = c.want_mapping(value, "hosts")
    out: dict[str, dict[str, Any]] = {}
    agents = set(lists["agent_list"]) | set(lists["public_agent_list"])
    for key, spec in (raw or {}).items():
        name = f"hosts.{key}"
        address = normalize_address(key)
        if address is None:
            c.bad(name, f"{key!r} is not an IPv4 or IPv6 address")
            continue
        if address in lists["master_list"]:
            c.bad(name, f"{address} is a master: resources and attributes apply to agents")
        elif address not in agents:
            c.bad(name, f"{address} is not in agent_list or public_agent_list")
        body = c.want_mapping(spec, name)
        if body is None:
            if spec is None:
                c.bad(name, "is empty: give resources and/or attributes")
            continue
        c.unknown_keys(body, ("resources", "attributes"), f"{name}.")
        override: dict[str, Any] = {}
        resources = _resources(c, body.get("resources"), f"{name}.resources")
        if resources is not None:
            override["resources"] = resources
        attributes = _attributes(c, body.get("attributes"), f"{name}.attributes")
        if attributes is not None:
            override["attributes"] = attributes
        out[address] = override
    return out


def _port_of(c: _Check, text: str, name: str) -> str | None:
    """``host:port`` (IPv6 as ``[addr]:port``) checked; returns it normalized."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        c.bad(name, f"{text!r} must be host:port (e.g. 10.0.0.5:2181)")
        return None
    port = int(port_text)
    if not 1 <= port <= 65535:
        c.bad(name, f"{text!r}: port {port} is out of range (1..65535)")
        return None
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in bare and normalize_address(bare) is None or not re.match(r"[A-Za-z0-9.:_-]+\Z",
                                                                         bare):
        c.bad(name, f"{text!r}: {host!r} is not a host name or IP address")
        return None
    return f"{host_port_text(normalize_address(bare) or bare)}:{port}"


def _zookeeper(c: _Check, value: object) -> tuple[str, ...]:
    if value == "masters" or value is None:
        return ()
    body = c.want_mapping(value, "zookeeper") if isinstance(value, dict) else None
    if body is None:
        c.bad("zookeeper", f"must be 'masters' or {{external: [host:2181, ...]}}, not "
              f"{_shown(value)}")
        return ()
    c.unknown_keys(body, ("external",), "zookeeper.")
    servers = body.get("external")
    if not isinstance(servers, list) or not servers:
        c.bad("zookeeper.external", "must be a non-empty list of host:port")
        return ()
    out: list[str] = []
    for i, item in enumerate(servers):
        name = f"zookeeper.external[{i}]"
        if not isinstance(item, str):
            c.bad(name, f"must be host:port (a string), not {_shown(item)}")
            continue
        server = _port_of(c, item.strip(), name)
        if server is not None:
            out.append(server)
    return tuple(out)


def _resolvers(c: _Check, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        c.bad("resolvers", f"must be a list of IP addresses, not {_shown(value)}")
        return ()
    out: list[str] = []
    for i, item in enumerate(value):
        address = normalize_address(item) if isinstance(item, str) else None
        if address is None:
            c.bad(f"resolvers[{i}]", f"{item!r} is not an IPv4 or IPv6 address")
        else:
            out.append(address)
    return tuple(out)


def _security(c: _Check, value: object) -> SecurityConfig:
    if value is None:
        return SecurityConfig()
    if isinstance(value, bool):
        return SecurityConfig(enabled=value)
    body = c.want_mapping(value, "security")
    if body is None:
        return SecurityConfig()
    c.unknown_keys(body, ("enabled", "bootstrap_user"), "security.")
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        c.bad("security.enabled", f"must be true or false, not {_shown(enabled)}")
        enabled = True
    user = c.want_mapping(body.get("bootstrap_user"), "security.bootstrap_user") or {}
    c.unknown_keys(user, ("uid", "password_hash"), "security.bootstrap_user.")
    uid = c.want_str(user, "uid", "security.bootstrap_user.uid", "admin",
                     re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,95}\Z"),
                     "letters, digits, '.', '_', '@' and '-', starting with a letter or digit")
    pw_hash = user.get("password_hash")
    why = hash_problem(pw_hash) if pw_hash is not None else None
    if why is not None:
        c.bad("security.bootstrap_user.password_hash", f"is not a scrypt hash: {why}; make one "
              "with `dcos-py install --hash-password`")
        pw_hash = None
    if user and not enabled:
        c.bad("security.bootstrap_user", "is set but security.enabled is false (no login "
              "without security)")
    return SecurityConfig(enabled=enabled, bootstrap_uid=uid or "admin",
                          bootstrap_password_hash=pw_hash)


def _packages(c: _Check, value: object) -> tuple[tuple[tuple[str, str], ...],
                                                  tuple[PackageRequest, ...]]:
    body = c.want_mapping(value, "packages")
    if body is None:
        return (), ()
    c.unknown_keys(body, ("repositories", "install"), "packages.")
    repos = _entries(c, body.get("repositories"), "packages.repositories", ("name", "uri"),
                     _repository)
    names = [r[0] for r in repos]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        c.bad("packages.repositories", f"repository name {dup!r} is used twice")
    packages = _entries(c, body.get("install"), "packages.install",
                        ("name", "version", "options"), _package)
    return tuple(repos), tuple(packages)


def _entries(c: _Check, value: object, name: str, keys: tuple[str, ...],
             make: Callable[[_Check, dict[str, Any], str], Any]) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        c.bad(name, f"must be a list, not {_shown(value)}")
        return []
    out = []
    for i, item in enumerate(value):
        entry = c.want_mapping(item, f"{name}[{i}]")
        if entry is None:
            if item is None:
                c.bad(f"{name}[{i}]", "is empty")
            continue
        c.unknown_keys(entry, keys, f"{name}[{i}].")
        made = make(c, entry, f"{name}[{i}]")
        if made is not None:
            out.append(made)
    return out


def _repository(c: _Check, entry: dict[str, Any], name: str) -> tuple[str, str] | None:
    repo_name = c.want_str(entry, "name", f"{name}.name", None)
    uri = c.want_str(entry, "uri", f"{name}.uri", None, re.compile(r"(https?|file)://\S+\Z"),
                     "an http://, https:// or file:// URL")
    return (repo_name, uri) if repo_name and uri else None


def _package(c: _Check, entry: dict[str, Any], name: str) -> PackageRequest | None:
    pkg = c.want_str(entry, "name", f"{name}.name", None)
    version = entry.get("version")
    if version is not None and not isinstance(version, str):
        c.bad(f"{name}.version", f"must be a string, not {_shown(version)}: quote it "
              "(version: \"1.0.0\") so YAML does not read it as a number")
        version = None
    options = entry.get("options")
    if options is not None and not isinstance(options, dict):
        c.bad(f"{name}.options", f"must be a mapping (the package's options), not "
              f"{_shown(options)}")
        options = None
    return PackageRequest(pkg, version, options) if pkg else None


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
