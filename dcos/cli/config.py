"""Where the CLI finds the cluster: flags, then environment, then the attached cluster, then
the config file, then defaults.

Called by: every command that talks to the cluster (`node`, `task`, `app`, `batch`, `package`
...) before its first request (`resolve_master`, `resolve_webapp`, `resolve_dispatcher`,
`resolve_package_service`).

Order for each address: the command's option (e.g. ``--master``), which typer also fills from
its environment variable (``DCOS_MASTER``, ``DCOS_WEBAPP``, ``DCOS_BATCH_DISPATCHER``,
``DCOS_PACKAGE_SERVICE``; an empty value counts as unset), then the attached cluster
(`dcos-py cluster attach`, `dcos.cli.clusters`), then the config file, then the local default.

The config file is TOML, at ``$DCOS_PY_CONFIG``, else ``$XDG_CONFIG_HOME/dcos-py/config.toml``
(``~/.config/dcos-py/config.toml``); a missing file is an empty config. Keys::

    master = "10.0.0.1:5050"              # host:port, [v6]:port, http(s)://host:port or zk://...
    webapp = "http://10.0.0.1:8080"
    dispatcher = "http://10.0.0.1:7077"   # the batch dispatcher (else found via the master)
    package = "http://10.0.0.1:7070"      # the package service (Cosmos-like API)

Security (`up --secure` clusters, as the DC/OS CLI's ``core.ssl_verify`` and
``core.dcos_acs_token``): `core_settings` gives what every request carries -- whether and how
to verify the server's certificate (true: the system CAs; false: not at all; a path: that CA
bundle) and the bearer token sent as ``Authorization: token=<jwt>``. Order: the environment
(``DCOS_SSL_VERIFY``, ``DCOS_ACS_TOKEN``), then the current cluster's ``core.toml`` (the
attached cluster's folder ``$DCOS_PY_HOME/clusters/<name>/core.toml``, or
``clusters/local/core.toml`` when none is attached; written 0600 by `store_token` /
`store_ssl_verify`, which `dcos-py auth login|logout` and `up --secure` call), then the
config file's ``[core]`` table (``ssl_verify``, ``dcos_acs_token``).

Master addresses accept `host:port`, `host` (port 5050), `[v6]:port`, `http://host:port` and
`https://...` (`dcos.common.addresses.parse_master`), and `zk://host:port[,host:port]/path`:
the leading master is then read from ZooKeeper once per command (`dcos.state.detector`); no
leader, or no ZooKeeper server answering, is `Unreachable` (exit code 3).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dcos.cli import clusters
from dcos.cli.errors import CliError, Unreachable
from dcos.common.addresses import MasterAddressError, http_base_url, parse_master, zk_master
from dcos.state import detector
from dcos.state.zk import ZkUrlError

ENV_MASTER = "DCOS_MASTER"
ENV_WEBAPP = "DCOS_WEBAPP"
ENV_DISPATCHER = "DCOS_BATCH_DISPATCHER"
ENV_PACKAGE = "DCOS_PACKAGE_SERVICE"
ENV_CONFIG = "DCOS_PY_CONFIG"
DEFAULT_MASTER = "127.0.0.1:5050"
DEFAULT_WEBAPP = "http://127.0.0.1:8080"
DEFAULT_PACKAGE = "http://127.0.0.1:7070"
ZK_TIMEOUT = 5.0  # seconds to find the leading master through ZooKeeper
KEYS = ("master", "webapp", "dispatcher", "package", "core")
ENV_SSL_VERIFY = "DCOS_SSL_VERIFY"
ENV_TOKEN = "DCOS_ACS_TOKEN"
CORE_FILE = "core.toml"
CORE_KEYS = ("ssl_verify", "dcos_acs_token")


@dataclass(frozen=True)
class CliConfig:
    """The config file's values (None where the file does not set them); `effective_config`
    also builds one from the attached cluster laid over the file."""

    master: str | None = None
    webapp: str | None = None
    dispatcher: str | None = None
    path: Path | None = None
    package: str | None = None


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$DCOS_PY_CONFIG``, else ``$XDG_CONFIG_HOME/dcos-py/config.toml``, else
    ``~/.config/dcos-py/config.toml``."""
    environ = os.environ if env is None else env
    explicit = environ.get(ENV_CONFIG, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    base = environ.get("XDG_CONFIG_HOME", "").strip() or str(Path("~/.config").expanduser())
    return Path(base) / "dcos-py" / "config.toml"


def load_config(path: Path | None = None) -> CliConfig:
    """Read the config file (`config_path()` by default); a missing file is an empty config.

    Raises `CliError` for a file that is not TOML, an unknown key or a value that is not a
    string, naming the file.
    """
    path = config_path() if path is None else path
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return CliConfig(path=path)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CliError(f"cannot read the config file {path}: {exc}") from None
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise CliError(f"config file {path}: unknown key(s) {', '.join(unknown)} "
                       f"(known: {', '.join(KEYS)})")  # fmt: skip
    for key in KEYS:
        if key != "core" and key in data and not isinstance(data[key], str):
            raise CliError(f"config file {path}: {key} must be a string")
    if "core" in data:
        _core_from(data["core"], path)  # refuse a bad [core] table now
    return CliConfig(data.get("master"), data.get("webapp"), data.get("dispatcher"), path,
                     data.get("package"))


def effective_config(config: CliConfig | None = None) -> CliConfig:
    """`config` when the caller holds one (tests, a loaded file); else the attached cluster's
    addresses (`dcos.cli.clusters`), each unset one taken from the config file."""
    if config is not None:
        return config
    file = load_config()
    cluster = clusters.attached_cluster()
    if cluster is None:
        return file
    return CliConfig(master=cluster.master, webapp=cluster.webapp,
                     dispatcher=cluster.dispatcher or file.dispatcher, path=file.path,
                     package=cluster.package)


def normalize_master_url(address: str, zk_timeout: float | None = None) -> str:
    """Turn `host:port`, `host`, `[v6]:port` or `http(s)://host[:port][/]` into
    `http(s)://host:port` (`dcos.common.addresses.parse_master` does the parsing); a
    ``zk://`` URL into the leading master's URL, read from ZooKeeper.

    Raises `CliError` for an address that is not one of those forms (empty, bad port, a
    path), `Unreachable` when ZooKeeper names no leader or cannot be reached.
    """
    text = address.strip()
    try:
        zk = zk_master(text)
    except MasterAddressError as exc:
        raise CliError(str(exc)) from None
    if zk is not None:
        return _leader_url(zk, ZK_TIMEOUT if zk_timeout is None else zk_timeout)
    if "://" in text:
        rest = text.split("://", 1)[1]
        if rest.rstrip("/").count("/") or "?" in rest or "#" in rest:
            raise CliError(f"invalid master address {address!r}: expected host:port, no path")
    try:
        return parse_master(text).url
    except MasterAddressError as exc:
        raise CliError(str(exc)) from None


def _leader_url(url: str, timeout: float) -> str:
    """The leading master's base URL, read from ZooKeeper at `url` (one short session)."""
    try:
        found = detector.resolve_master(url, timeout)
    except ZkUrlError as exc:
        raise CliError(str(exc)) from None
    except (TimeoutError, OSError) as exc:
        raise Unreachable(f"cannot find the leading master through {url}: {exc}") from None
    if found.scheme == "http" and core_settings().tls:
        return f"https://{found.hostport}"  # a cluster with its own CA (`up --secure --ha`)
    return found.url


def normalize_webapp_url(address: str, what: str = "webapp") -> str:
    """`host:port` gets `http://`; the trailing slash goes. `CliError` (naming `what`) when
    not a URL."""
    text = address.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        return http_base_url(text)
    except ValueError as exc:
        raise CliError(f"invalid {what} address {text!r}: {exc}") from None


def _given(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None


def _config_for(flag: str | None, config: CliConfig | None) -> CliConfig:
    """The layered config, read only when `flag` leaves the address unset."""
    return effective_config(config) if not _given(flag) else config or CliConfig()


def master_text(flag: str | None, config: CliConfig | None = None) -> str:
    """The master as given: `flag` (the option or ``$DCOS_MASTER``), else the config file's
    `master` of the attached cluster, else the config file's, else 127.0.0.1:5050 (a
    ``zk://`` URL stays one: see `resolve_master`)."""
    cfg = _config_for(flag, config)
    return _given(flag) or _given(cfg.master) or DEFAULT_MASTER


def resolve_master(flag: str | None, config: CliConfig | None = None) -> str:
    """The master's base URL (`http://host:port`): `flag` (the option or ``$DCOS_MASTER``),
    else the attached cluster's or the config file's `master`, else 127.0.0.1:5050; for a ``zk://`` URL, the leading
    master's (read from ZooKeeper once; `Unreachable` when there is none)."""
    return normalize_master_url(master_text(flag, config))


def resolve_webapp(flag: str | None, config: CliConfig | None = None) -> str:
    """The webapp's base URL: `flag` (the option or ``$DCOS_WEBAPP``), else the attached
    cluster's or the config file's `webapp`, else http://127.0.0.1:8080."""
    cfg = _config_for(flag, config)
    return normalize_webapp_url(_given(flag) or _given(cfg.webapp) or DEFAULT_WEBAPP)


def resolve_dispatcher(flag: str | None, config: CliConfig | None = None) -> str | None:
    """The batch dispatcher's URL from `flag` (the option or ``$DCOS_BATCH_DISPATCHER``),
    the attached cluster or the config file; None: find it through the master."""
    cfg = _config_for(flag, config)
    found = _given(flag) or _given(cfg.dispatcher)
    return found.rstrip("/") if found else None


def resolve_package_service(flag: str | None, config: CliConfig | None = None) -> str:
    """The package service's base URL: `flag` (the option or ``$DCOS_PACKAGE_SERVICE``),
    else the attached cluster's `package`, else the config file's, else
    http://127.0.0.1:7070."""
    cfg = _config_for(flag, config)
    found = _given(flag) or _given(cfg.package) or DEFAULT_PACKAGE
    return normalize_webapp_url(found, "package service")


# --- security settings (core.ssl_verify, core.dcos_acs_token) ---------------------------------

SslVerify = bool | str  # True: the system CAs; False: no verification; str: a CA bundle's path


@dataclass(frozen=True)
class CoreSettings:
    """What every CLI request carries (`dcos.cli.http`): how to verify servers and the token."""

    ssl_verify: SslVerify = True
    token: str | None = None

    @property
    def tls(self) -> bool:
        """True when the settings name a cluster CA (or turn verification off): a cluster
        with its own CA serves https, so a leader found through ZooKeeper is reached so."""
        return self.ssl_verify is not True


def parse_ssl_verify(value: object, where: str) -> SslVerify:
    """`core.ssl_verify` from TOML or the environment: a bool, "true"/"false" (any case) or
    a CA bundle's path (``~`` expanded); `CliError` naming `where` otherwise."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, str) or not value.strip():
        raise CliError(f"{where}: ssl_verify must be true, false or the path of a CA bundle")
    text = value.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return str(Path(text).expanduser())


def _core_from(table: object, where: Path | str) -> CoreSettings:
    if not isinstance(table, dict):
        raise CliError(f"{where}: [core] must be a table (ssl_verify, dcos_acs_token)")
    unknown = sorted(set(table) - set(CORE_KEYS))
    if unknown:
        raise CliError(f"{where}: unknown core key(s) {', '.join(unknown)} "
                       f"(known: {', '.join(CORE_KEYS)})")
    token = table.get("dcos_acs_token")
    if token is not None and not isinstance(token, str):
        raise CliError(f"{where}: dcos_acs_token must be a string")
    verify = parse_ssl_verify(table["ssl_verify"], str(where)) if "ssl_verify" in table else True
    return CoreSettings(verify, token or None)


def current_cluster_name() -> str:
    """The attached cluster's name, or ``local`` when none is attached."""
    return clusters.attached_name() or clusters.LOCAL


def core_file(cluster: str | None = None) -> Path:
    """The ``core.toml`` of `cluster` (default: the current one, `current_cluster_name`)."""
    name = clusters.check_name(cluster or current_cluster_name())
    return clusters.clusters_dir() / name / CORE_FILE


def _read_toml(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None


def load_core(path: Path) -> CoreSettings:
    """The settings in one ``core.toml`` (a ``[core]`` table); defaults when it is missing."""
    data = _read_toml(path)
    return _core_from(data.get("core", {}), path)


def core_settings(env: Mapping[str, str] | None = None,
                  cluster: str | None = None) -> CoreSettings:
    """The security settings in effect: ``$DCOS_SSL_VERIFY``/``$DCOS_ACS_TOKEN``, over the
    current cluster's ``core.toml``, over the config file's ``[core]``. `CliError` for a bad
    file or value."""
    environ = os.environ if env is None else env
    file_data = _read_toml(config_path(environ))
    base = _core_from(file_data.get("core", {}), config_path(environ))
    own = load_core(core_file(cluster))
    own_data = _read_toml(core_file(cluster)).get("core", {})
    verify: SslVerify = base.ssl_verify
    token = base.token
    if isinstance(own_data, dict) and "ssl_verify" in own_data:
        verify = own.ssl_verify
    token = own.token or token
    if environ.get(ENV_SSL_VERIFY, "").strip():
        verify = parse_ssl_verify(environ[ENV_SSL_VERIFY], f"${ENV_SSL_VERIFY}")
    token = environ.get(ENV_TOKEN, "").strip() or token
    return CoreSettings(verify, token)


def _toml_value(value: SslVerify) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return clusters.toml_string(value)


def _update_core(cluster: str | None, change: Callable[[dict[str, object]], None]) -> Path:
    """Rewrite the cluster's ``core.toml`` (0600, atomically) with `change` applied."""
    path = core_file(cluster)
    table = _read_toml(path).get("core", {})
    table = dict(table) if isinstance(table, dict) else {}
    change(table)
    lines = ["[core]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()
                          if k in CORE_KEYS and v is not None]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None
    return path


def store_token(token: str, cluster: str | None = None) -> Path:
    """Keep `token` as the cluster's ``dcos_acs_token`` (default: the current cluster); the
    file written. Called by `dcos-py auth login` and `up --secure`."""
    if not token.strip():
        raise CliError("refusing to store an empty token")

    def change(table: dict[str, object]) -> None:
        table["dcos_acs_token"] = token.strip()

    return _update_core(cluster, change)


def remove_token(cluster: str | None = None) -> bool:
    """Forget the cluster's token (`dcos-py auth logout`); False when it had none."""
    path = core_file(cluster)
    if load_core(path).token is None:
        return False

    def change(table: dict[str, object]) -> None:
        table.pop("dcos_acs_token", None)

    _update_core(cluster, change)
    return True


def store_ssl_verify(value: SslVerify, cluster: str | None = None) -> Path:
    """Keep the cluster's ``ssl_verify`` (true, false or a CA bundle's path)."""
    verify = parse_ssl_verify(value, "ssl_verify")

    def change(table: dict[str, object]) -> None:
        table["ssl_verify"] = verify

    return _update_core(cluster, change)
