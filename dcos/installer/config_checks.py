"""The checks behind `dcos.installer.config.parse`: one function per section of cluster.yaml,
each recording every problem it finds (named by its dotted key) in a `Check` and returning the
checked value (or a harmless default), so that parsing always goes on and the operator gets
every problem at once.

Called by: `dcos.installer.config.parse` only (and `private_key_problem` by the unit tests).
Reads nothing but the SSH private key file (`private_key_problem`).
"""

from __future__ import annotations

import base64
import difflib
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from dcos.installer.config import (
    ETC_DIR,
    LIST_KEYS,
    MASTER_COUNTS,
    ConfigProblem,
    PackageRequest,
    SecurityConfig,
    host_port_text,
    normalize_address,
)
from dcos.security.passwords import hash_problem

CLUSTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")
SSH_USER = re.compile(r"[A-Za-z_][A-Za-z0-9._-]{0,31}\$?\Z")
_RESOURCE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_PRIVATE_KEY_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----")




class Check:
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
            self.bad(name, f"must be a non-empty string, not {shown(value)}")
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
            self.bad(name, f"must be an integer, not {shown(value)}")
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
            self.bad(name, f"must be a mapping (key: value), not {shown(value)}")
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


def shown(value: object) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a mapping", type(None): "empty"}.get(type(value), "a value")
    return kind if isinstance(value, list | dict | type(None)) else f"{kind} ({value!r})"


def host_lists(c: Check, data: dict[str, Any]) -> dict[str, tuple[str, ...]]:
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
            c.bad(key, f"must be a list of IP addresses, not {shown(value)}")
            out[key] = ()
            continue
        addresses: list[str] = []
        for i, item in enumerate(value):
            name = f"{key}[{i}]"
            address = normalize_address(item) if isinstance(item, str) else None
            if address is None:
                c.bad(name, f"{item!r} is not an IPv4 or IPv6 address" if isinstance(item, str)
                      else f"must be an IP address (a string), not {shown(item)}")
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
            c.bad(key, master_count_problem(len(value)))
    return out


def master_count_problem(n: int) -> str:
    if n == 0:
        return "at least one master is needed: use 1, 3 or 5"
    if n < 5:
        return (f"{n} masters given: use 1, 3 or 5 (an even number survives no more failures "
                "than one fewer: ZooKeeper and the masters need a majority)")
    return f"{n} masters given: use 1, 3 or 5 (more masters slow every ZooKeeper write)"


def key_path(c: Check, data: dict[str, Any], config_path: Path, check: bool) -> Path:
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


def number(c: Check, value: object, name: str) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        c.bad(name, f"must be a number, not {shown(value)}")
        return None
    if value < 0 or value != value or value == float("inf"):
        c.bad(name, f"{value} must be a finite number >= 0")
        return None
    return float(value)


def resources(c: Check, value: object, name: str) -> dict[str, float] | None:
    """``{cpus: 4, mem: 8192, disk: ..., gpus: ...}``: names of scalar resources -> numbers."""
    raw = c.want_mapping(value, name)
    if raw is None:
        return None
    out: dict[str, float] = {}
    for k, v in raw.items():
        if not _RESOURCE_NAME.match(k):
            c.bad(f"{name}.{k}", "a resource name is letters, digits, '_', '.', '-'")
            continue
        value = number(c, v, f"{name}.{k}")
        if value is not None:
            out[k] = value
    return out


def attributes(c: Check, value: object, name: str) -> dict[str, str] | None:
    """``{rack: r1, zone: a}``: attribute names -> text (numbers are kept as their text)."""
    raw = c.want_mapping(value, name)
    if raw is None:
        return None
    out: dict[str, str] = {}
    for k, v in raw.items():
        if not _ATTRIBUTE_NAME.match(k):
            c.bad(f"{name}.{k}", "an attribute name is letters, digits, '_', '.', '-'")
        elif isinstance(v, bool) or not isinstance(v, str | int | float):
            c.bad(f"{name}.{k}", f"must be a text or a number, not {shown(v)}")
        elif not str(v).strip() or any(ch in str(v) for ch in ";:,"):
            c.bad(f"{name}.{k}", f"{v!r}: an attribute value is not empty and has no ';', "
                  "':' or ','")
        else:
            out[k] = str(v)
    return out


def host_overrides(c: Check, value: object,
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
        res = resources(c, body.get("resources"), f"{name}.resources")
        if res is not None:
            override["resources"] = res
        attrs = attributes(c, body.get("attributes"), f"{name}.attributes")
        if attrs is not None:
            override["attributes"] = attrs
        out[address] = override
    return out


def port_of(c: Check, text: str, name: str) -> str | None:
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


def zookeeper(c: Check, value: object) -> tuple[str, ...]:
    if value == "masters" or value is None:
        return ()
    body = c.want_mapping(value, "zookeeper") if isinstance(value, dict) else None
    if body is None:
        c.bad("zookeeper", f"must be 'masters' or {{external: [host:2181, ...]}}, not "
              f"{shown(value)}")
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
            c.bad(name, f"must be host:port (a string), not {shown(item)}")
            continue
        server = port_of(c, item.strip(), name)
        if server is not None:
            out.append(server)
    return tuple(out)


def resolvers(c: Check, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        c.bad("resolvers", f"must be a list of IP addresses, not {shown(value)}")
        return ()
    out: list[str] = []
    for i, item in enumerate(value):
        address = normalize_address(item) if isinstance(item, str) else None
        if address is None:
            c.bad(f"resolvers[{i}]", f"{item!r} is not an IPv4 or IPv6 address")
        else:
            out.append(address)
    return tuple(out)


def security(c: Check, value: object) -> SecurityConfig:
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
        c.bad("security.enabled", f"must be true or false, not {shown(enabled)}")
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


def packages(c: Check, value: object) -> tuple[tuple[tuple[str, str], ...],
                                                  tuple[PackageRequest, ...]]:
    body = c.want_mapping(value, "packages")
    if body is None:
        return (), ()
    c.unknown_keys(body, ("repositories", "install"), "packages.")
    repos = entries(c, body.get("repositories"), "packages.repositories", ("name", "uri"),
                     repository)
    names = [r[0] for r in repos]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        c.bad("packages.repositories", f"repository name {dup!r} is used twice")
    packages = entries(c, body.get("install"), "packages.install",
                        ("name", "version", "options"), package)
    return tuple(repos), tuple(packages)


def entries(c: Check, value: object, name: str, keys: tuple[str, ...],
             make: Callable[[Check, dict[str, Any], str], Any]) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        c.bad(name, f"must be a list, not {shown(value)}")
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


def repository(c: Check, entry: dict[str, Any], name: str) -> tuple[str, str] | None:
    repo_name = c.want_str(entry, "name", f"{name}.name", None)
    uri = c.want_str(entry, "uri", f"{name}.uri", None, re.compile(r"(https?|file)://\S+\Z"),
                     "an http://, https:// or file:// URL")
    return (repo_name, uri) if repo_name and uri else None


def package(c: Check, entry: dict[str, Any], name: str) -> PackageRequest | None:
    pkg = c.want_str(entry, "name", f"{name}.name", None)
    version = entry.get("version")
    if version is not None and not isinstance(version, str):
        c.bad(f"{name}.version", f"must be a string, not {shown(version)}: quote it "
              "(version: \"1.0.0\") so YAML does not read it as a number")
        version = None
    options = entry.get("options")
    if options is not None and not isinstance(options, dict):
        c.bad(f"{name}.options", f"must be a mapping (the package's options), not "
              f"{shown(options)}")
        options = None
    return PackageRequest(pkg, version, options) if pkg else None
