"""One flag set for every daemon, each flag also settable through the environment.

Called by: every entry point (``python -m dcos.master``, ``dcos.agent``, ``dcos.dns``,
``frameworks.webapp``, ``frameworks.webapp.lb``, ``frameworks.batch.cluster.dispatcher``)
to build its argument parser.

`DaemonParser` is an `argparse.ArgumentParser` whose `flag()` adds an option that also reads
``DCOS_<FLAG>`` (``--work-dir`` -> ``DCOS_WORK_DIR``; and ``MESOS_<FLAG>`` for the master
and agent, as Mesos reads ``MESOS_WORK_DIR``). Precedence: the command line, then
``DCOS_<FLAG>``, then ``MESOS_<FLAG>``, then the default. An environment value goes through
the flag's `type` (a bad one is a usage error naming the variable); a boolean flag takes
1/true/yes/on or 0/false/no/off. ``--help`` shows each flag's default and variable.

The shared flags (`SHARED`: ``--ip``, ``--port``, ``--hostname``, ``--work-dir``,
``--master``, ``--webapp``, ``--log-level``, ``--log-format``, ``--log-file``) keep one name,
help text and validation everywhere; a daemon picks the ones it has with `shared()`, giving
its own defaults, and adds the rest with `flag()`. `setup_from(args)` configures logging.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dcos.common.addresses import parse_master, zk_master
from dcos.common.durations import parse_duration
from dcos.common.log import FORMATS, parse_log_level, setup_logging

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})


def port(text: str) -> int:
    """A TCP/UDP port, 0-65535 (0: pick a free one); the type of ``--port`` flags."""
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(f"port {value} is not between 0 and 65535")
    return value


def ip_address(text: str) -> str:
    """An IPv4 or IPv6 literal (what a server binds); the type of ``--ip``."""
    return str(ipaddress.ip_address(text.strip()))


def master_address(text: str) -> str:
    """A master address (`dcos.common.addresses.parse_master` validates it), kept as given;
    or a ZooKeeper URL ``zk://host:port[,host:port]/path`` (Spark's ``mesos://zk://...``
    becomes ``zk://...``) that the daemon follows to the leading master."""
    zk = zk_master(text)
    if zk is not None:
        return zk
    if text.strip():
        parse_master(text)
    return text.strip()


def positive_seconds(text: str) -> float:
    """Seconds > 0, as a number or a duration (``15``, ``15secs``, ``2mins``)."""
    value = parse_duration(text)
    if value <= 0:
        raise ValueError(f"{text!r} must be positive")
    return value


def seconds(text: str) -> float:
    """Seconds >= 0, as a number or a duration."""
    return parse_duration(text)


def _named(fn: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    fn.__name__ = name  # argparse names the type in "invalid <name> value" messages
    return fn


def _explained(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """`convert` whose ValueError message reaches the usage error (argparse otherwise says
    only "invalid <type> value")."""
    if convert in (int, float, str):
        return convert

    def explained(text: str) -> Any:
        try:
            return convert(text)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None

    explained.__name__ = getattr(convert, "__name__", "value")
    return explained


@dataclass(frozen=True)
class FlagSpec:
    """One flag: its option strings, help, default, type and argparse extras."""

    names: tuple[str, ...]
    help: str
    default: Any = None
    type: Callable[[str], Any] | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dest(self) -> str:
        return self.names[0].lstrip("-").replace("-", "_")


SHARED: dict[str, FlagSpec] = {
    spec.dest: spec
    for spec in (
        FlagSpec(("--ip",), "address this server binds (never 0.0.0.0 unless given)",
                 "127.0.0.1", _named(ip_address, "IP address")),
        FlagSpec(("--port",), "port this server listens on (0: a free one)", 0,
                 _named(port, "port")),
        FlagSpec(("--hostname",), "host name advertised to others (default: the ip)"),
        FlagSpec(("--work-dir",), "directory of this process's state (created if missing)"),
        FlagSpec(("--master",), "master address: host:port, [v6]:port, http(s)://host:port, or "
                 "zk://host:port[,host:port]/path (the leader found through ZooKeeper)",
                 "127.0.0.1:5050", _named(master_address, "master address")),
        FlagSpec(("--webapp",), "webapp framework API URL", "http://127.0.0.1:8080"),
        FlagSpec(("--log-level",), "DEBUG, INFO, WARNING, ERROR or CRITICAL", "INFO",
                 _named(parse_log_level, "log level")),
        FlagSpec(("--log-format",), "text lines or JSON lines", "text",
                 kwargs={"choices": FORMATS}),
        FlagSpec(("--log-file",), "append the log here (reopened when logrotate moves it; "
                 "default: stderr)"),
    )
}  # fmt: skip


def env_names(dest: str, prefixes: Sequence[str]) -> list[str]:
    """``work_dir`` -> ``["DCOS_WORK_DIR", "MESOS_WORK_DIR"]`` for prefixes DCOS, MESOS."""
    return [f"{p}_{dest.upper()}" for p in prefixes]


class DaemonParser(argparse.ArgumentParser):
    """An ArgumentParser whose flags also come from ``<PREFIX>_<FLAG>`` environment variables."""

    def __init__(self, prog: str, description: str, *, env_prefixes: Sequence[str] = ("DCOS",),
                 environ: Mapping[str, str] | None = None, **kwargs: Any) -> None:  # fmt: skip
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(prog=prog, description=description, **kwargs)
        self.env_prefixes = tuple(env_prefixes)
        self.environ = os.environ if environ is None else environ
        self._env_errors: list[str] = []

    def _from_env(self, dest: str) -> tuple[str, str] | None:
        for name in env_names(dest, self.env_prefixes):
            if name in self.environ:
                return name, self.environ[name]
        return None

    def flag(self, *names: str, help: str = "", **kwargs: Any) -> argparse.Action:  # noqa: A002
        """`add_argument` for an option, with its environment variables (see the module)."""
        dest = kwargs.get("dest") or names[0].lstrip("-").replace("-", "_")
        envs = env_names(dest, self.env_prefixes)
        found = self._from_env(dest)
        if found is not None:
            var, value = found
            if kwargs.get("action") == "store_true":
                text = value.strip().lower()
                if text not in TRUE | FALSE:
                    self._env_errors.append(f"{var}={value!r}: expected 1/0, true/false")
                kwargs["default"] = text in TRUE
            else:
                convert = kwargs.get("type")
                try:
                    kwargs["default"] = convert(value) if convert else value
                except (TypeError, ValueError) as exc:
                    self._env_errors.append(f"{var}={value!r}: {exc}")
                kwargs["required"] = False
        if kwargs.get("type") is not None:
            kwargs["type"] = _explained(kwargs["type"])
        text = f"{help} [env: {' or '.join(envs)}]" if help else f"[env: {' or '.join(envs)}]"
        return self.add_argument(*names, help=text.replace("%", "%%"), **kwargs)

    def shared(self, *dests: str, **defaults: Any) -> None:
        """Add shared flags by name (``"ip", "port", "log_level"``); `defaults` override
        theirs (``port=5050``; ``required=True`` via ``<dest>_required``)."""
        for dest in dests:
            spec = SHARED[dest]
            if dest in defaults:
                spec = replace(spec, default=defaults[dest])
            extra = dict(spec.kwargs)
            if defaults.get(f"{dest}_required"):
                extra["required"] = True
            if spec.type is not None:
                extra["type"] = spec.type
            self.flag(*spec.names, help=spec.help, default=spec.default, **extra)

    def logging_flags(self) -> None:
        """``--log-level``, ``--log-format``, ``--log-file``: every daemon has them."""
        self.shared("log_level", "log_format", "log_file")

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:  # fmt: skip
        """Parse; a bad environment value is a usage error (exit 2) naming the variable."""
        if self._env_errors:
            self.error("; ".join(self._env_errors))
        try:
            return super().parse_args(args, namespace)
        except argparse.ArgumentError as exc:  # pragma: no cover - exit_on_error=False only
            self.error(str(exc))


def setup_from(args: argparse.Namespace) -> None:
    """Configure logging from the parsed ``--log-level``/``--log-format``/``--log-file``."""
    setup_logging(args.log_level, json_lines=args.log_format == "json", file=args.log_file)
