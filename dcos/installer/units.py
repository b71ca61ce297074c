"""Service definitions of a host, as text: supervisord's config, systemd units and ZooKeeper's
config, rendered from the host's `ServiceSpec`s (`dcos.installer.roles.services`).

Called by: `dcos.installer.genconf`, for each host, to write
``serve/hosts/<address>/etc/`` (what deploy copies to ``/etc/dcos-py`` on that host):
``supervisord.conf`` (`supervisord_conf`), ``systemd/dcos-py-<name>.service``
(`systemd_units`) and, on masters running the ensemble, ``zookeeper/zoo.cfg`` and
``zookeeper/myid`` (`zookeeper_files`). Pure: nothing here touches a file but the templates
(chevron, ``installer/templates/*.mustache`` of the checkout dcos is imported from).

Both service managers get the same behaviour: a service that exits is restarted (supervisord
``autorestart`` with ``startretries`` high enough to outlast a ZooKeeper quorum forming; systemd
``Restart=always`` without a start rate limit), stdout and stderr go to the spec's log under
``<work_dir>/logs`` (supervisord rotates it), stopping a service stops its process group except
for the agent (its tasks run on and are recovered: supervisord ``stopasgroup=false``, systemd
``KillMode=process``; systemd also delegates the agent's cgroup to it), and services start in
priority order (supervisord ``priority``; systemd ``After=``/``Wants=`` on the host's units of
the previous tier: zookeeper, then master, then the other master services; agent, then lb).
The host must have ``<work_dir>/logs`` and ``<work_dir>/run`` (the supervisord socket and pid
file) before either starts: deploy makes them.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import PurePosixPath

import chevron

from dcos.installer.assets import read_asset
from dcos.installer.config import ClusterConfig, HostSpec
from dcos.installer.roles import ZK_CLIENT_PORT, ZK_ELECTION_PORT, ZK_QUORUM_PORT, ServiceSpec
from dcos.state.zk_server import config_text

SUPERVISORD_TEMPLATE = "supervisord.conf.mustache"
SYSTEMD_TEMPLATE = "systemd.service.mustache"
_SYSTEMD_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                          "_-+=./:,@[]%$")


def _template(name: str) -> str:
    """A template's text (`supervisord_conf`, `systemd_units`); FileNotFoundError naming it."""
    return read_asset("templates", name)


def run_dir(cfg: ClusterConfig) -> PurePosixPath:
    """Where supervisord keeps its socket and pid file on a host (not /run: test hosts
    share that)."""
    return cfg.work_dir / "run"


def log_dir(cfg: ClusterConfig) -> PurePosixPath:
    """Where a host's service logs and supervisord's own log go (deploy makes it)."""
    return cfg.work_dir / "logs"


def _supervisor_value(text: str) -> str:
    """A value as supervisord reads it: ``%`` is its expansion character
    (`supervisord_conf`)."""
    return text.replace("%", "%%")


def _supervisor_env(env: dict[str, str]) -> str:
    """``KEY="value",...`` for `supervisord_conf` (supervisord's parser keeps no escapes
    inside quotes: a value with ``"`` is refused, ValueError)."""
    for key, value in env.items():
        if '"' in value or not key.isidentifier():
            raise ValueError(f"environment {key}={value!r}: cannot be written for supervisord")
    return ",".join(f'{k}="{_supervisor_value(v)}"' for k, v in sorted(env.items()))


def _one_line(spec: ServiceSpec) -> None:
    """Both formats are line-based: an argv or environment with a line break cannot be
    written (ValueError naming the service)."""
    words = [*spec.argv, *spec.env.keys(), *spec.env.values(), str(spec.log)]
    if any("\n" in w or "\r" in w for w in words):
        raise ValueError(f"service {spec.name}: a line break in its command or environment")


def supervisord_conf(cfg: ClusterConfig, host: HostSpec, specs: Sequence[ServiceSpec]) -> str:
    """``/etc/dcos-py/supervisord.conf`` of `host`: the daemon (socket and pid file under
    ``<work_dir>/run``, its log under ``<work_dir>/logs``) and one ``[program:<name>]`` per
    spec. Called by genconf for every host; deploy starts ``supervisord -c`` on it where
    systemd does not run (or ``supervisorctl reread && update`` when it runs)."""
    for spec in specs:
        _one_line(spec)
    programs = [{
        "name": s.name,
        "command": _supervisor_value(shlex.join(s.argv)),
        "priority": s.priority,
        "stop_wait_s": s.stop_wait_s,
        "group": "true" if s.kill_tasks_on_stop else "false",
        "log": _supervisor_value(str(s.log)),
        "environment": _supervisor_env(dict(s.env)),
    } for s in sorted(specs, key=lambda s: (s.priority, s.name))]
    return chevron.render(_template(SUPERVISORD_TEMPLATE), {
        "role": host.role, "address": host.address, "cluster_name": cfg.cluster_name,
        "run_dir": _supervisor_value(str(run_dir(cfg))),
        "log_dir": _supervisor_value(str(log_dir(cfg))), "programs": programs,
    })


def systemd_quote(arg: str) -> str:
    """One ExecStart/Environment word as systemd reads it (`systemd_units`): bare when
    plain, else double-quoted with C escapes; ``%`` (specifiers) and ``$`` (variables)
    doubled."""
    text = arg.replace("%", "%%").replace("$", "$$")
    if text and all(ch in _SYSTEMD_SAFE for ch in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _previous_tier(spec: ServiceSpec, specs: Sequence[ServiceSpec]) -> list[str]:
    """The units of the host's nearest lower priority: what `spec` starts after
    (`systemd_units`' After= and Wants=)."""
    lower = [s.priority for s in specs if s.priority < spec.priority]
    if not lower:
        return []
    tier = max(lower)
    return sorted(s.unit_name for s in specs if s.priority == tier)


def systemd_units(cfg: ClusterConfig, host: HostSpec,
                  specs: Sequence[ServiceSpec]) -> dict[str, str]:
    """``{"dcos-py-<name>.service": text}`` for `host`: what deploy installs under
    /etc/systemd/system (and enables) where systemd runs. Called by genconf for every host."""
    template = _template(SYSTEMD_TEMPLATE)
    out: dict[str, str] = {}
    for spec in specs:
        _one_line(spec)
        before = _previous_tier(spec, specs)
        out[spec.unit_name] = chevron.render(template, {
            "name": spec.name, "role": host.role, "address": host.address,
            "cluster_name": cfg.cluster_name,
            "after": " ".join(["network-online.target", *before]),
            "wants": " ".join(["network-online.target", *before]),
            "exec_start": " ".join(systemd_quote(a) for a in spec.argv),
            "environment": [systemd_quote(f"{k}={v}") for k, v in sorted(spec.env.items())],
            "kill_mode": "control-group" if spec.kill_tasks_on_stop else "process",
            "delegate": not spec.kill_tasks_on_stop,
            "stop_wait_s": spec.stop_wait_s,
            "log": str(spec.log).replace("%", "%%"),
        })
    return out


def zookeeper_dir(cfg: ClusterConfig) -> PurePosixPath:
    """A master's ZooKeeper state: ``<work_dir>/zookeeper`` (``data/`` with myid and
    snapshots, ``log/`` the transaction log)."""
    return cfg.work_dir / "zookeeper"


def zookeeper_files(cfg: ClusterConfig, host: HostSpec) -> dict[str, str]:
    """``{"zoo.cfg": ..., "myid": "<index+1>\\n"}`` for a master when the ensemble runs on
    the masters (one master: a standalone server), else ``{}``. The server binds the
    master's address (clients on 2181, peers on 2888/3888); the host's ZooKeeper service
    (``python -m dcos.state.zk_server``) copies myid into the data dir before it starts.
    Called by genconf for each master (``etc/zookeeper/``)."""
    if host.role != "master" or not cfg.zk_on_masters:
        return {}
    peers = [(m, ZK_QUORUM_PORT, ZK_ELECTION_PORT) for m in cfg.masters]
    base = zookeeper_dir(cfg)
    text = config_text(client_port=ZK_CLIENT_PORT, data_dir=base / "data",
                       log_dir=base / "log", ip=host.address,
                       server_id=host.index + 1 if len(peers) > 1 else None,
                       peers=peers if len(peers) > 1 else None)
    return {"zoo.cfg": text, "myid": f"{host.index + 1}\n"}
