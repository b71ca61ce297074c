"""`AppSpec`: an app definition as typed values, parsed once at the shell.

The API validates a request body with `frameworks.webapp.model.app.normalize` (Marathon's
defaults, 422 details) and turns the complete definition into an `AppSpec` with
`AppSpec.parse`; the store does the same for what it loads. The core reads only the typed
fields (instances, upgrade and unreachable strategies, checks, backoff ...); `json` keeps the
definition exactly as Marathon renders and persists it (never mutated once parsed), so the
JSON the API returns keeps its shape byte for byte. A new version of an app is a new
`AppSpec` (`AppSpec.parse` of a changed copy of `json`), never a changed one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NewType

from frameworks.webapp.model.secrets import SecretRefs, secret_refs

Json = dict[str, Any]
AppId = NewType("AppId", str)  # an absolute Marathon path: /shop/web
GroupId = NewType("GroupId", str)
DeploymentId = NewType("DeploymentId", str)


@dataclass(frozen=True, slots=True)
class UpgradeStrategy:
    minimum_health_capacity: float = 1.0
    maximum_over_capacity: float = 1.0


@dataclass(frozen=True, slots=True)
class UnreachableStrategy:
    """``unreachableStrategy`` (an app with ``"disabled"`` has none)."""

    inactive_after: float = 300.0
    expunge_after: float = 600.0


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """The app's first health check (Marathon's field names, defaults filled)."""

    protocol: str = "HTTP"
    path: str = "/"
    port: int | None = None
    port_index: int = 0
    command: str | None = None
    grace_period: float = 300.0
    interval: float = 60.0
    timeout: float = 20.0
    max_consecutive_failures: int = 3
    delay: float = 15.0


@dataclass(frozen=True, slots=True)
class ReadinessCheck:
    """The app's first readiness check, polled over HTTP(S) by the shell."""

    name: str = "readinessCheck"
    protocol: str = "HTTP"
    path: str = "/"
    port_name: str = "http"
    interval: float = 30.0
    timeout: float = 10.0
    ready_statuses: tuple[int, ...] = (200,)
    preserve_last_response: bool = False


@dataclass(frozen=True, slots=True)
class PortDefinition:
    port: int  # the service port (0 until the core assigned one)
    protocol: str = "tcp"
    name: str | None = None


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    seconds: float = 1.0
    factor: float = 1.15
    max_delay: float = 3600.0


@dataclass(frozen=True, slots=True, eq=False)
class AppSpec:
    """One version of one app. Compared by identity (the API's render cache keys on it)."""

    id: AppId
    json: Json
    instances: int
    cpus: float
    mem: float
    disk: float
    gpus: int
    cmd: str | None
    args: tuple[str, ...]
    user: str | None
    env: Mapping[str, str]  # plain values only (secrets: `secrets`)
    secrets: SecretRefs  # env and file references to the secret store (never values)
    uris: tuple[Json, ...]  # Mesos CommandInfo.URI objects (value, extract, executable, cache)
    labels: Mapping[str, str]
    ports: tuple[PortDefinition, ...]
    require_ports: bool
    accepted_roles: tuple[str, ...] | None
    constraints: tuple[tuple[str, ...], ...]
    upgrade: UpgradeStrategy
    unreachable: UnreachableStrategy | None
    kill_selection: str
    kill_grace: float | None
    health: HealthCheck | None
    has_health: bool
    readiness: ReadinessCheck | None
    backoff: BackoffPolicy
    version: str
    config_version: str  # versionInfo.lastConfigChangeAt: tasks of another stamp get replaced

    @classmethod
    def parse(cls, app: Json) -> AppSpec:
        """A complete definition (`normalize`'s output, or a stored one) as an AppSpec."""
        un = app.get("unreachableStrategy")
        us = app.get("upgradeStrategy") or {}
        roles = app.get("acceptedResourceRoles")
        hcs = app.get("healthChecks") or []
        rcs = app.get("readinessChecks") or []
        version = app.get("version") or ""
        return cls(
            id=AppId(app["id"]), json=app, instances=int(app.get("instances", 1)),
            cpus=float(app.get("cpus", 1.0)), mem=float(app.get("mem", 128.0)),
            disk=float(app.get("disk", 0.0)), gpus=int(app.get("gpus") or 0),
            cmd=app.get("cmd") or None, args=tuple(app.get("args") or ()), user=app.get("user") or None,
            env={k: v for k, v in (app.get("env") or {}).items() if isinstance(v, str)},
            secrets=secret_refs(app),
            uris=tuple(mesos_uri(f) for f in app.get("fetch") or [] if "uri" in f),
            labels=dict(app.get("labels") or {}),
            ports=tuple(PortDefinition(int(d.get("port", 0)), d.get("protocol", "tcp"), d.get("name"))
                        for d in app.get("portDefinitions") or []),
            require_ports=bool(app.get("requirePorts")),
            accepted_roles=tuple(roles) if roles else None,
            constraints=tuple(tuple(c) for c in app.get("constraints") or ()),
            upgrade=UpgradeStrategy(float(us.get("minimumHealthCapacity", 1.0)),
                                    float(us.get("maximumOverCapacity", 1.0))),
            unreachable=UnreachableStrategy(float(un["inactiveAfterSeconds"]), float(un["expungeAfterSeconds"]))
            if isinstance(un, dict) else None,
            kill_selection=str(app.get("killSelection") or "YOUNGEST_FIRST"),
            kill_grace=_opt_float(app.get("taskKillGracePeriodSeconds")),
            health=_health(hcs[0]) if hcs else None, has_health=bool(hcs),
            readiness=_readiness(rcs[0]) if rcs else None,
            backoff=BackoffPolicy(float(app.get("backoffSeconds", 1)), float(app.get("backoffFactor", 1.15)),
                                  float(app.get("maxLaunchDelaySeconds", 3600))),
            version=version,
            config_version=(app.get("versionInfo") or {}).get("lastConfigChangeAt") or version,
        )  # fmt: skip

    @property
    def load_balanced(self) -> bool:
        """In a Marathon-LB group (``HAPROXY_GROUP`` or ``HAPROXY_{n}_GROUP``): its tasks are
        drained from the load balancers before they are killed."""
        return any(k == "HAPROXY_GROUP" or (k.startswith("HAPROXY_") and k.endswith("_GROUP"))
                   for k in self.labels)  # fmt: skip

    def scaled(self, instances: int) -> Json:
        """A copy of the definition with another instance count (a scaling change)."""
        return {**self.json, "instances": instances}


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def _health(hc: Json) -> HealthCheck:
    cmd = hc.get("command")
    port = hc.get("port")
    return HealthCheck(
        protocol=str(hc.get("protocol", "HTTP")), path=hc.get("path") or "/",
        port=int(port) if isinstance(port, int) and port else None,
        port_index=hc.get("portIndex", 0) if isinstance(hc.get("portIndex", 0), int) else 0,
        command=(cmd.get("value") if isinstance(cmd, dict) else cmd) or None,
        grace_period=float(hc.get("gracePeriodSeconds", 300)), interval=float(hc.get("intervalSeconds", 60)),
        timeout=float(hc.get("timeoutSeconds", 20)), max_consecutive_failures=int(hc.get("maxConsecutiveFailures", 3)),
        delay=float(hc.get("delaySeconds", 15)),
    )  # fmt: skip


def _readiness(rc: Json) -> ReadinessCheck:
    return ReadinessCheck(
        name=str(rc.get("name") or "readinessCheck"), protocol=str(rc.get("protocol", "HTTP")),
        path=rc.get("path") or "/", port_name=str(rc.get("portName", "http")),
        interval=float(rc.get("intervalSeconds", 30)), timeout=float(rc.get("timeoutSeconds", 10)),
        ready_statuses=tuple(rc.get("httpStatusCodesForReady") or (200,)),
        preserve_last_response=bool(rc.get("preserveLastResponse")),
    )  # fmt: skip


def mesos_uri(fetch: Mapping[str, Any]) -> Json:
    """One Marathon `fetch` entry (`uri`, `extract`, `executable`, `cache`, `outputFile`) as the
    Mesos `CommandInfo.URI` the agent's fetcher reads. Called by `AppSpec.from_json`."""
    uri: Json = {"value": fetch["uri"]}
    for key in ("extract", "executable", "cache"):
        if key in fetch:
            uri[key] = bool(fetch[key])
    if fetch.get("outputFile"):
        uri["output_file"] = str(fetch["outputFile"])
    return uri
