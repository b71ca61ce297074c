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

Json = dict[str, Any]
NEVER = 1 << 30


def _port(hc: Json, ports: list[int]) -> int | None:
    if isinstance(hc.get("port"), int) and hc["port"]:
        return int(hc["port"])
    idx = hc.get("portIndex", 0)
    return ports[idx] if isinstance(idx, int) and 0 <= idx < len(ports) else None


def mesos_health_check(app: Json, ports: list[int]) -> Json | None:
    """The Mesos HealthCheck JSON for the app's first health check (None without one)."""
    hcs = app.get("healthChecks") or []
    if not hcs:
        return None
    hc = hcs[0]
    proto = str(hc.get("protocol", "HTTP")).removeprefix("MESOS_")
    failures = int(hc.get("maxConsecutiveFailures", 3))
    out: Json = {
        "delay_seconds": float(hc.get("delaySeconds", 15)),
        "interval_seconds": float(hc.get("intervalSeconds", 60)),
        "timeout_seconds": float(hc.get("timeoutSeconds", 20)),
        "grace_period_seconds": float(hc.get("gracePeriodSeconds", 300)),
        "consecutive_failures": NEVER if failures == 0 else failures * 2,
    }
    if proto == "COMMAND":
        cmd = hc.get("command")
        value = cmd.get("value") if isinstance(cmd, dict) else cmd
        out.update(type="COMMAND", command={"value": value, "shell": True})
        return out
    port = _port(hc, ports)
    if port is None:
        return None
    if proto in ("HTTP", "HTTPS"):
        http: Json = {"port": port, "path": hc.get("path") or "/",
                      "scheme": "https" if proto == "HTTPS" else "http"}  # fmt: skip
        out.update(type="HTTP", http=http)
    else:
        out.update(type="TCP", tcp={"port": port})
    return out


def replace_after(app: Json) -> float | None:
    """Seconds a task may stay unhealthy before it is replaced (None: never)."""
    hcs = app.get("healthChecks") or []
    if not hcs:
        return None
    hc = hcs[0]
    failures = int(hc.get("maxConsecutiveFailures", 3))
    if failures == 0:
        return None
    return float(hc.get("intervalSeconds", 60)) * max(0, failures - 1)


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


def readiness_url(check: Json, app: Json, host: str, ports: list[int]) -> str | None:
    names = [d.get("name") for d in app.get("portDefinitions") or []]
    try:
        port = ports[names.index(check.get("portName"))]
    except (ValueError, IndexError):
        return None
    scheme = "https" if check.get("protocol") == "HTTPS" else "http"
    path = check.get("path") or "/"
    return f"{scheme}://{host}:{port}{path if path.startswith('/') else '/' + path}"
