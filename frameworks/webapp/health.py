"""Health and readiness (pure helpers).

- `mesos_health_check(app, ports)`: the app's first Marathon health check as a Mesos
  ``TaskInfo.health_check``, run by the agent next to the task. ``HTTP``/``HTTPS``/``TCP``
  (Marathon-level in Marathon) map to the agent's ``HTTP``/``TCP`` checks like
  ``MESOS_HTTP``/``MESOS_HTTPS``/``MESOS_TCP``; ``COMMAND`` stays a command. Called by the core
  when it builds a TaskInfo.
- The agent reports ``healthy`` changes; the framework decides kills: a task unhealthy for
  ``intervalSeconds * maxConsecutiveFailures`` is marked for replacement (its replacement
  starts first), no more than `KillLimiter` allows per interval, so a blip that makes a whole
  fleet look unhealthy replaces only a few tasks at a time. The agent still kills a task
  that fails twice as many checks in a row (a backstop while the framework is away).
  ``maxConsecutiveFailures: 0`` means never kill.
- `readiness_url(app, check, host, ports)`: the URL the framework polls for a readiness check.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from frameworks.webapp.model.spec import AppSpec, HealthCheck, ReadinessCheck

Json = dict[str, Any]
NEVER = 1 << 30


def _port(hc: HealthCheck, ports: list[int]) -> int | None:
    if hc.port:
        return hc.port
    idx = hc.port_index
    return ports[idx] if 0 <= idx < len(ports) else None


def mesos_health_check(app: AppSpec, ports: list[int]) -> Json | None:
    """The Mesos HealthCheck JSON for the app's first health check (None without one)."""
    hc = app.health
    if hc is None:
        return None
    proto = hc.protocol.removeprefix("MESOS_")
    failures = hc.max_consecutive_failures
    out: Json = {
        "delay_seconds": hc.delay,
        "interval_seconds": hc.interval,
        "timeout_seconds": hc.timeout,
        "grace_period_seconds": hc.grace_period,
        "consecutive_failures": NEVER if failures == 0 else failures * 2,
    }
    if proto == "COMMAND":
        out.update(type="COMMAND", command={"value": hc.command, "shell": True})
        return out
    port = _port(hc, ports)
    if port is None:
        return None
    if proto in ("HTTP", "HTTPS"):
        http: Json = {"port": port, "path": hc.path, "scheme": "https" if proto == "HTTPS" else "http"}
        out.update(type="HTTP", http=http)
    else:
        out.update(type="TCP", tcp={"port": port})
    return out


def replace_after(app: AppSpec) -> float | None:
    """Seconds a task may stay unhealthy before it is replaced (None: never)."""
    hc = app.health
    if hc is None or hc.max_consecutive_failures == 0:
        return None
    return hc.interval * max(0, hc.max_consecutive_failures - 1)


class KillLimiter:
    """At most `max(1, ceil(instances * fraction))` health replacements per app per interval
    (the app's health check interval). Called by the core before marking a task."""

    def __init__(self, fraction: float = 0.1) -> None:
        self.fraction = fraction
        self._recent: dict[str, deque[float]] = {}

    def allow(self, app_id: str, instances: int, interval: float, now: float) -> bool:
        q = self._recent.setdefault(app_id, deque())
        while q and q[0] <= now - interval:
            q.popleft()
        if len(q) >= max(1, math.ceil(instances * self.fraction)):
            return False
        q.append(now)
        return True


def readiness_url(check: ReadinessCheck, app: AppSpec, host: str, ports: list[int]) -> str | None:
    names = [d.name for d in app.ports]
    try:
        port = ports[names.index(check.port_name)]
    except (ValueError, IndexError):
        return None
    scheme = "https" if check.protocol == "HTTPS" else "http"
    path = check.path
    return f"{scheme}://{host}:{port}{path if path.startswith('/') else '/' + path}"
