"""Marathon JSON helpers: timestamps and the strict key sets Marathon clients accept.

Called by the API renderers (`frameworks.webapp.api.render`) and the core when it stamps
versions. Timestamps are ISO-8601 UTC with milliseconds and a ``Z`` (``%Y-%m-%dT%H:%M:%S.%fZ``
cut to milliseconds), the only forms marathon-python parses.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache

import orjson


def iso(ts: float | None) -> str | None:
    """``1700000000.5`` -> ``"2023-11-14T22:13:20.500Z"``; None stays None. Cached: task
    timestamps are rendered again on every GET."""
    if ts is None:
        return None
    return _iso(ts)


@lru_cache(maxsize=200_000)
def _iso(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> float | None:
    """The inverse of `iso` (also accepts no fraction); None for anything else."""
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
        except (ValueError, TypeError):
            continue
    return None


def now_iso() -> str:
    return iso(time.time()) or ""


def dumps(obj: object) -> bytes:
    """orjson with non-str dict keys allowed (used for every API response body)."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


# Keys marathon-python 0.13.0 accepts on an App (anything else raises TypeError there).
APP_KEYS = frozenset(
    "acceptedResourceRoles args backoffFactor backoffSeconds cmd constraints container cpus "
    "dependencies deployments disk env executor healthChecks id role instances killSelection "
    "labels lastTaskFailure maxLaunchDelaySeconds mem ports requirePorts storeUrls "
    "taskRateLimit tasks tasksRunning tasksStaged tasksHealthy taskKillGracePeriodSeconds "
    "tasksUnhealthy upgradeStrategy unreachableStrategy uris user version versionInfo ipAddress "
    "fetch taskStats readinessChecks readinessCheckResults secrets portDefinitions residency "
    "gpus networks".split()
)

TASK_KEYS = frozenset(
    "appId healthCheckResults host id ports servicePorts slaveId stagedAt startedAt version "
    "ipAddresses state localVolumes region zone role".split()
)


# Deepest nesting a request body may have. Definitions are far shallower (an app nested in 30
# groups is about 65 levels); the store's encoder stops at 255 and Python's recursion (copy,
# validation) at about 1,000, so deeper bodies are refused before anything reads them.
MAX_DEPTH = 100


def too_deep(value: object, limit: int = MAX_DEPTH) -> str | None:
    """The JSON path of the top-level member of `value` (``/labels``; ``(0)/labels`` in a list
    of apps) that nests deeper than `limit` levels, "/" when `value` itself does; None when it
    is shallow enough. Iterative, so any depth orjson parses (up to 1,024) is safe to check.
    Called by the API's body parser before a body reaches the models."""
    keep = 2 if isinstance(value, list) else 1  # path segments kept: the member, per app
    stack: list[tuple[object, int, str]] = [(value, 1, "")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict):
            items: list[tuple[object, str]] = [(v, f"/{k}") for k, v in node.items()]
        elif isinstance(node, list):
            items = [(v, f"({i})") for i, v in enumerate(node)]
        else:
            continue
        if depth > limit:
            return path or "/"
        for child, name in items:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1, path + name if depth <= keep else path))
    return None
