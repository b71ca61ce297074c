"""The gateway's cluster directory: who serves what, read from the master and the webapp.

Called by: `dcos.gateway.app` (`snapshot()` before routing a request, `refresh_after(t)`
when a service or agent was not found, `health()` for ``/gateway/health``).

A `Snapshot` (`dcos.gateway.routes`) holds the leading master's URL (`dcos.gateway.leader`),
the active frameworks by name with their ``webui_url`` and the agents by id with their base
URL, both from one ``GET <leader>/master/state-summary``, and the apps of the webapp
framework labelled ``DCOS_SERVICE_NAME`` (``GET <webapp>/v2/apps?embed=apps.tasks``, read
only once a request asked for a name no framework has). A snapshot is reused for `ttl`
(~1 s), then re-read in the background while requests go on with it (up to `stale` s); a
miss re-reads at once (`refresh_after`) and waits; one read at a time: requests arriving
during a read share it. When the master cannot be read, the snapshot says why
(``master_error``) and keeps no leader, so routes answer 503 with that reason.

The parsers (`frameworks_of`, `agents_of`, `app_services`) are pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import aiohttp
import orjson

from dcos.common.sse import fetch_apps
from dcos.gateway.leader import LeaderSource
from dcos.gateway.routes import COMPONENT_FRAMEWORKS, WEBAPP_FRAMEWORK, Snapshot

log = logging.getLogger(__name__)

SERVICE_NAME = "DCOS_SERVICE_NAME"
SERVICE_PORT_INDEX = "DCOS_SERVICE_PORT_INDEX"
SERVICE_SCHEME = "DCOS_SERVICE_SCHEME"


def frameworks_of(summary: Any, components: frozenset[str] | None = None) -> dict[str, str]:
    """Active framework name -> ``webui_url`` ('' when none) from a state-summary (or
    ``/master/frameworks``) body; of two active frameworks with one name, the later one.
    `components` (security on): the principals of the cluster's component certificates; a
    framework named as one of the cluster's own (`COMPONENT_FRAMEWORKS`: it gets the users'
    credentials) counts only when one of them registered it, so no other principal can take
    that name's route."""
    out: dict[str, tuple[float, str]] = {}
    for fw in _list(summary, "frameworks"):
        if not isinstance(fw, dict) or not fw.get("active") or not isinstance(fw.get("name"), str):
            continue
        if components is not None and fw["name"] in COMPONENT_FRAMEWORKS \
                and fw.get("principal") not in components:
            continue
        url = fw.get("webui_url")
        when = _seconds(fw.get("registered_time"))
        name = fw["name"]
        if name not in out or when >= out[name][0]:
            out[name] = (when, url if isinstance(url, str) else "")
    return {name: url for name, (_, url) in out.items()}


def agent_url(agent: Mapping[str, Any], scheme: str = "http") -> str | None:
    """An agent's base URL from its Mesos JSON: the ``pid`` ``slave(1)@ip:port``, else
    ``hostname`` + ``port``; `scheme` https when the cluster's security is on."""
    pid = agent.get("pid")
    if isinstance(pid, str) and "@" in pid:
        hostport = pid.rpartition("@")[2]
        if hostport:
            return f"{scheme}://{hostport}"
    host, port = agent.get("hostname"), agent.get("port")
    if isinstance(host, str) and host and isinstance(port, int):
        return f"{scheme}://{host}:{port}"
    return None


def agents_of(summary: Any, scheme: str = "http") -> dict[str, str]:
    """Agent id -> base URL from a state-summary (or ``/master/slaves``) body."""
    out = {}
    for agent in _list(summary, "slaves"):
        if isinstance(agent, dict) and isinstance(agent.get("id"), str):
            url = agent_url(agent, scheme)
            if url is not None:
                out[agent["id"]] = url
    return out


def app_services(apps: Any) -> dict[str, str]:
    """``DCOS_SERVICE_NAME`` -> base URL of one running task (``host`` + its port at
    ``DCOS_SERVICE_PORT_INDEX``, default 0; scheme ``DCOS_SERVICE_SCHEME``, default http) for
    the apps of a ``/v2/apps?embed=apps.tasks`` list. Apps with no running task are left out."""
    out = {}
    for app in apps if isinstance(apps, list) else []:
        labels = app.get("labels") if isinstance(app, dict) else None
        if not isinstance(labels, dict) or not isinstance(labels.get(SERVICE_NAME), str):
            continue
        try:
            index = int(labels.get(SERVICE_PORT_INDEX, 0))
        except (TypeError, ValueError, OverflowError):
            continue
        scheme = labels.get(SERVICE_SCHEME) or "http"
        tasks = app.get("tasks")
        for task in tasks if isinstance(tasks, list) else []:
            if not isinstance(task, dict) or task.get("state", "TASK_RUNNING") != "TASK_RUNNING":
                continue
            ports, host = task.get("ports") or [], task.get("host")
            if isinstance(host, str) and isinstance(ports, list) and 0 <= index < len(ports):
                out[labels[SERVICE_NAME].strip("/")] = f"{scheme}://{host}:{ports[index]}"
                break
    return out


def _seconds(value: Any) -> float:
    """A JSON time in seconds, 0.0 when it is none."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    try:
        return float(value)
    except OverflowError:
        return 0.0


def _list(body: Any, key: str) -> list[Any]:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, list) else []


class Directory:
    """The cached `Snapshot` (see the module docstring)."""

    def __init__(self, leaders: LeaderSource, *, package: str | None, dns: str | None,
                 ttl: float = 1.0, stale: float = 10.0, read_timeout: float = 3.0,
                 ssl_context: ssl.SSLContext | None = None,
                 components: frozenset[str] | None = None) -> None:  # fmt: skip
        """`ssl_context`: the gateway's client context when security is on (agents are
        https then, and every read presents the gateway's certificate); `components`: the
        component principals (security on, see `frameworks_of`)."""
        self.leaders = leaders
        self.ssl_context = ssl_context
        self.components = components
        self.agent_scheme = "https" if ssl_context is not None else "http"
        self.stale = stale
        self._session: aiohttp.ClientSession | None = None
        self.ttl = ttl
        self.read_timeout = read_timeout
        self._snap = Snapshot(package=package, dns=dns, master_error="not read yet")
        self._at = float("-inf")  # monotonic time the snapshot's read began
        self._apps_wanted = False
        self._reading: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.read_timeout),
            connector=aiohttp.TCPConnector(ssl=self.ssl_context or True))

    async def close(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reading
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "Directory.start() first"
        return self._session

    @property
    def current(self) -> Snapshot:
        """The last snapshot, however old."""
        return self._snap

    async def snapshot(self) -> Snapshot:
        """A snapshot at most `ttl` old, or, while one is read in the background, the last
        one (if at most `stale` old: requests never wait for the routine re-read)."""
        age = time.monotonic() - self._at
        if age >= self.stale:
            await self._read()
        elif age >= self.ttl:
            self._start_read()
        return self._snap

    async def refresh_after(self, since: float, *, apps: bool = False) -> Snapshot:
        """A snapshot whose read began at or after `since` (monotonic): after a miss.
        `apps`: the miss was a service name, so read the webapp's apps too from now on."""
        if apps and not self._apps_wanted:
            self._apps_wanted = True
            self._at = float("-inf")
        if self._at < since:
            await self._read()
        if self._at < since:  # a read already under way began before `since`
            await self._read()
        return self._snap

    def master_failed(self) -> None:
        """The leader refused a proxied request: find it again on the next read."""
        self.leaders.invalidate()
        self._at = float("-inf")

    def _start_read(self) -> asyncio.Task[None]:
        if self._reading is None or self._reading.done():
            self._reading = asyncio.get_running_loop().create_task(self._load())
        return self._reading

    async def _read(self) -> None:
        await asyncio.shield(self._start_read())

    async def _load(self) -> None:
        began = time.monotonic()
        leader = await self.leaders.leader()
        snap = replace(self._snap, leader=leader, master_error=None)
        if leader is None:
            snap = replace(snap, master_error=self.leaders.why_none())
        else:
            try:
                summary = await self._get_json(leader + "/master/state-summary")
                snap = replace(snap, frameworks=frameworks_of(summary, self.components),
                               agents=agents_of(summary, self.agent_scheme))
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError, RuntimeError) as exc:
                self.leaders.invalidate()
                why = str(exc) or type(exc).__name__
                log.warning("cannot read the master at %s: %s", leader, why)
                snap = replace(snap, master_error=f"the leading master at {leader} is not "
                                                  f"answering: {why}")  # fmt: skip
        webapp = snap.frameworks.get(WEBAPP_FRAMEWORK)
        if self._apps_wanted and webapp:
            try:
                snap = replace(snap, apps=app_services(await fetch_apps(self.session, webapp)))
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError, RuntimeError) as exc:
                log.warning("cannot read the apps at %s: %s", webapp, exc)
        self._snap, self._at = snap, began

    async def _get_json(self, url: str) -> Any:
        async with self.session.get(url, allow_redirects=False,
                                    headers={"Accept": "application/json"}) as r:  # fmt: skip
            if r.status != 200:
                raise RuntimeError(f"GET {url} answered {r.status}")
            return orjson.loads(await r.read())


__all__ = ["Directory", "agent_url", "agents_of", "app_services", "frameworks_of"]
