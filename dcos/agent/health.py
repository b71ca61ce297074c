"""Health checks (sans-IO): the parsed `HealthCheckSpec` and the `HealthChecker` core.

`HealthCheckSpec.from_task` reads ``TaskInfo.health_check`` (Mesos v1 JSON: ``type`` COMMAND |
HTTP | TCP with ``command`` / ``http`` / ``tcp``, and ``delay_seconds``, ``interval_seconds``,
``timeout_seconds``, ``consecutive_failures``, ``grace_period_seconds``; Mesos' older form with
no ``type`` and only one of ``command`` / ``http`` is accepted too). It is called by
`dcos.agent.command_executor.build_config` (to refuse a bad check before launch) and by the runner in
`dcos.agent.health_runner` when a task starts running.

`HealthChecker` holds one task's check state and makes the decisions with Mesos' semantics:

- the first check runs ``delay_seconds`` after the task started; the next one
  ``interval_seconds`` after the previous one finished (or timed out);
- a failure while the task was never healthy and the grace period (counted from the task's
  start) has not run out is ignored;
- every counted failure adds to the run of consecutive failures; a success resets it;
- ``healthy`` changes (first success, first counted failure, recovery) become `HealthChanged`;
- the run reaching ``consecutive_failures`` becomes `KillTask` (once), with a message naming the
  check and its last result.

The runner feeds it `result(now, ok, detail)` and carries out what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_DELAY = 15.0
DEFAULT_INTERVAL = 10.0
DEFAULT_TIMEOUT = 20.0
DEFAULT_CONSECUTIVE_FAILURES = 3
DEFAULT_GRACE = 10.0

COMMAND, HTTP, TCP = "COMMAND", "HTTP", "TCP"


class HealthCheckError(ValueError):
    """A `health_check` that cannot be run; the text says why."""


def _seconds(spec: dict[str, Any], key: str, default: float) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise HealthCheckError(f"health_check.{key} must be a number >= 0, not {value!r}")
    return float(value)


def _port(section: dict[str, Any], where: str) -> int:
    port = section.get("port")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise HealthCheckError(f"health_check.{where}.port must be a port number, not {port!r}")
    return port


@dataclass(frozen=True)
class HealthCheckSpec:
    """One task's health check, validated. Times are in seconds."""

    kind: str  # COMMAND | HTTP | TCP
    command: dict[str, Any] = field(default_factory=dict)  # CommandInfo (COMMAND)
    port: int = 0  # HTTP, TCP
    path: str = "/"  # HTTP
    scheme: str = "http"  # HTTP
    statuses: tuple[int, ...] = ()  # HTTP: healthy codes; empty = 200..399
    delay: float = DEFAULT_DELAY
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    consecutive_failures: int = DEFAULT_CONSECUTIVE_FAILURES
    grace_period: float = DEFAULT_GRACE

    @classmethod
    def from_task(cls, task: dict[str, Any]) -> HealthCheckSpec | None:
        """The task's check, None when it has none; raises `HealthCheckError` when invalid."""
        spec = task.get("health_check")
        if spec is None:
            return None
        if not isinstance(spec, dict):
            raise HealthCheckError("health_check must be an object")
        return cls.parse(spec)

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> HealthCheckSpec:
        kind = spec.get("type")
        if kind is None:  # Mesos' pre-1.2 form: the one section given names the type
            kind = COMMAND if "command" in spec else HTTP if "http" in spec else None
            kind = kind or (TCP if "tcp" in spec else None)
        if kind not in (COMMAND, HTTP, TCP):
            raise HealthCheckError(f"health_check.type must be COMMAND, HTTP or TCP, not {kind!r}")
        failures = spec.get("consecutive_failures", DEFAULT_CONSECUTIVE_FAILURES)
        if isinstance(failures, bool) or not isinstance(failures, int) or failures < 1:
            raise HealthCheckError(
                f"health_check.consecutive_failures must be an integer >= 1, not {failures!r}"
            )
        common: dict[str, Any] = {
            "kind": kind,
            "delay": _seconds(spec, "delay_seconds", DEFAULT_DELAY),
            "interval": _seconds(spec, "interval_seconds", DEFAULT_INTERVAL),
            "timeout": _seconds(spec, "timeout_seconds", DEFAULT_TIMEOUT),
            "consecutive_failures": failures,
            "grace_period": _seconds(spec, "grace_period_seconds", DEFAULT_GRACE),
        }
        section = spec.get(kind.lower())
        if not isinstance(section, dict):
            raise HealthCheckError(f"health_check.{kind.lower()} is missing")
        if kind == COMMAND:
            value = section.get("value")
            if not isinstance(value, str) or not value.strip():
                raise HealthCheckError("health_check.command.value is missing")
            return cls(command=section, **common)
        port = _port(section, kind.lower())
        if kind == TCP:
            return cls(port=port, **common)
        path = section.get("path") or "/"
        scheme = section.get("scheme") or "http"
        if not isinstance(path, str) or scheme not in ("http", "https"):
            raise HealthCheckError("health_check.http: bad path or scheme (http or https)")
        statuses = section.get("statuses") or []
        if not all(isinstance(s, int) and 100 <= s < 600 for s in statuses):
            raise HealthCheckError("health_check.http.statuses must be HTTP status codes")
        if not path.startswith("/"):
            path = "/" + path
        return cls(port=port, path=path, scheme=scheme, statuses=tuple(statuses), **common)

    def describe(self) -> str:
        """How operators see the check: ``HTTP GET 127.0.0.1:31000/health``, ``TCP ...``."""
        if self.kind == HTTP:
            return f"{self.scheme.upper()} GET 127.0.0.1:{self.port}{self.path}"
        if self.kind == TCP:
            return f"TCP connect 127.0.0.1:{self.port}"
        return f"command {self.command.get('value')!r}"

    def http_ok(self, status: int) -> bool:
        if self.statuses:
            return status in self.statuses
        return 200 <= status < 400


# -- decisions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthChanged:
    """Send a TASK_RUNNING update with ``healthy`` set (reason HEALTH_CHECK_STATUS_UPDATED)."""

    healthy: bool


@dataclass(frozen=True)
class KillTask:
    """Kill the task; its terminal update carries `message` and ``healthy: false``."""

    message: str


HealthDecision = HealthChanged | KillTask


class HealthChecker:
    """One task's check state. `started_at` is when the task started running."""

    def __init__(self, spec: HealthCheckSpec, started_at: float) -> None:
        self.spec = spec
        self.started_at = started_at
        self.healthy: bool | None = None  # last value reported
        self.ever_healthy = False
        self.consecutive_failures = 0
        self.checks = 0
        self.killed = False
        self.last_detail = ""

    def first_check_at(self) -> float:
        return self.started_at + self.spec.delay

    def next_check_at(self, finished_at: float) -> float:
        """When to start the next check, given that the previous one finished now."""
        return finished_at + self.spec.interval

    def in_grace(self, now: float) -> bool:
        return not self.ever_healthy and now - self.started_at < self.spec.grace_period

    def result(self, now: float, ok: bool, detail: str) -> list[HealthDecision]:
        """One check finished at `now` (a timeout is ``ok=False``); what to do about it."""
        if self.killed:
            return []
        self.checks += 1
        self.last_detail = detail
        out: list[HealthDecision] = []
        if ok:
            self.ever_healthy = True
            self.consecutive_failures = 0
            if self.healthy is not True:
                self.healthy = True
                out.append(HealthChanged(True))
            return out
        if self.in_grace(now):
            return out
        self.consecutive_failures += 1
        if self.healthy is not False:
            self.healthy = False
            out.append(HealthChanged(False))
        if self.consecutive_failures >= self.spec.consecutive_failures:
            self.killed = True
            n = self.consecutive_failures
            out.append(KillTask(
                f"Health check failed: {self.spec.describe()} {detail} "
                f"({n} consecutive failure{'s' if n != 1 else ''})"
            ))  # fmt: skip
        return out
