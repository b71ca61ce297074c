"""The installer's small HTTP client to an installed cluster (and ZooKeeper's ``srvr`` word).

Called by `dcos.installer.deploy` (wait until ZooKeeper has a quorum and a master leads before
the agents are installed), `dcos.installer.upgrade` (health of each restarted master, the
leader, whether an agent re-registered with the same id) and `dcos.installer.nodes` (operator
calls ``DEACTIVATE_AGENT``/``MARK_AGENT_GONE`` at the leading master; the webapp's ``/v2``
apps, tasks and queue while an agent is drained). One `ClusterApi` per step, used as an async
context manager (one aiohttp session). With security on it speaks mutual TLS with the
installer's own certificate (`dcos.installer.bundle.installer_identity`), verifying the
cluster CA; with security off, plain http.

The parsing of the answers is pure (`parse_agents`, `agent_at`, `parse_srvr_mode`,
`quorum_problem`) and unit-tested; the methods only fetch. Errors are one-line `ApiError`s.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from dcos.installer.config import ClusterConfig
from dcos.protocol.ids import AgentID

MASTER_PORT = 5050
WEBAPP_PORT = 8080
ZK_PORT = 2181
REQUEST_TIMEOUT_S = 10.0
SERVING_MODES = ("leader", "follower", "standalone")

T = TypeVar("T")


class ApiError(Exception):
    """A request to the cluster failed: unreachable, refused, or an unexpected answer (one line)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class AgentEntry:
    """One agent as the leading master's ``/master/slaves`` lists it."""

    agent_id: AgentID
    address: str  # the ip of its pid (``slave(1)@ip:port``): the address it registered from
    hostname: str
    active: bool
    registered_time: float
    reregistered_time: float | None

    @property
    def last_registration(self) -> float:
        return max(self.registered_time, self.reregistered_time or 0.0)


def _pid_ip(pid: str) -> str:
    """``slave(1)@10.0.0.1:5051`` -> ``10.0.0.1`` (``[::1]:5051`` -> ``::1``)."""
    hostport = pid.rpartition("@")[2]
    host = hostport.rpartition(":")[0] if ":" in hostport else hostport
    return host.strip("[]")


def parse_agents(doc: Any) -> list[AgentEntry]:
    """The agents of a ``/master/slaves`` answer (``{"slaves": [...]}``); bad entries skipped."""
    out: list[AgentEntry] = []
    items = doc.get("slaves") if isinstance(doc, dict) else None
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        pid = item.get("pid") if isinstance(item.get("pid"), str) else ""
        rereg = item.get("reregistered_time")
        out.append(AgentEntry(
            agent_id=AgentID(item["id"]),
            address=_pid_ip(pid) if pid else str(item.get("hostname", "")),
            hostname=str(item.get("hostname", "")),
            active=bool(item.get("active")),
            registered_time=float(item.get("registered_time") or 0.0),
            reregistered_time=float(rereg) if isinstance(rereg, int | float) else None,
        ))  # fmt: skip
    return out


def agent_at(agents: Iterable[AgentEntry], address: str) -> AgentEntry | None:
    """The agent registered from `address` (its pid's ip, else its hostname); the most
    recently registered one when several (an old entry of the same host)."""
    found = [a for a in agents if a.address == address or (not a.address and a.hostname == address)]
    if not found:
        found = [a for a in agents if a.hostname == address]
    return max(found, key=lambda a: a.last_registration) if found else None


def parse_srvr_mode(text: str) -> str | None:
    """The ``Mode:`` of ZooKeeper's ``srvr`` answer (leader, follower, standalone, ...)."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "mode":
            return value.strip().lower() or None
    return None


def quorum_problem(modes: dict[str, str | None]) -> str | None:
    """Why the ensemble whose members answered `modes` (host -> mode, None: no answer) has no
    quorum, or None when it has one: a majority serving and one leader (or standalone)."""
    serving = [h for h, m in modes.items() if m in SERVING_MODES]
    leads = [h for h, m in modes.items() if m in ("leader", "standalone")]
    need = len(modes) // 2 + 1
    if len(serving) >= need and leads:
        return None
    down = sorted(h for h, m in modes.items() if m not in SERVING_MODES)
    detail = ", ".join(f"{h} {modes[h] or 'not serving'}" for h in down)
    return (f"ZooKeeper has no quorum: {len(serving)} of {len(modes)} serving (need {need})"
            + (f"; {detail}" if detail else ""))  # fmt: skip


def host_url(scheme: str, host: str, port: int, path: str = "") -> str:
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{scheme}://{host}:{port}{path}"


def client_ssl(identity: tuple[Path, Path, Path] | None) -> ssl.SSLContext | None:
    """The TLS context presenting the installer certificate and trusting the cluster CA, or
    None (security off: plain http)."""
    if identity is None:
        return None
    ca, cert, key = identity
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


async def wait_until(probe: Callable[[], Awaitable[str | None]], timeout: float, *,
                     interval: float = 1.0) -> str | None:
    """Call `probe` (None: done, else why not yet) until it returns None or `timeout` passes;
    returns None, or the last reason."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            why = await probe()
        except ApiError as exc:
            why = exc.message
        if why is None:
            return None
        if time.monotonic() >= deadline:
            return why
        await asyncio.sleep(interval)


class ClusterApi:
    """HTTP calls to the masters and the webapp framework of the cluster `cfg` describes."""

    def __init__(self, cfg: ClusterConfig, *, identity: tuple[Path, Path, Path] | None = None,
                 use_identity: bool = True, timeout: float = REQUEST_TIMEOUT_S) -> None:
        """`identity` (ca, cert, key) defaults to genconf's installer identity when security
        is on (`use_identity` False: none, for tests of a plain cluster); `BundleError` when
        genconf has not made it."""
        self.cfg = cfg
        if identity is None and use_identity and cfg.security.enabled:
            from dcos.installer.bundle import installer_identity

            identity = installer_identity(cfg)
        self.ssl = client_ssl(identity)
        self.scheme = "https" if self.ssl is not None else "http"
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ClusterApi:
        connector = aiohttp.TCPConnector(ssl=self.ssl if self.ssl is not None else False)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout),
            trust_env=False)  # fmt: skip
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- plumbing ------------------------------------------------------------------------------

    async def request(self, method: str, url: str, body: Any = None, *,
                      ok: Sequence[int] = (200, 201, 202, 204)) -> Any:
        """`method` `url` with a JSON `body`; the JSON answer (None when empty). An answer
        outside `ok`, or no answer, raises `ApiError` (with the status when there was one)."""
        if self._session is None:
            raise RuntimeError("ClusterApi used outside `async with`")
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        try:
            async with self._session.request(method, url, data=data, headers=headers,
                                             allow_redirects=True) as resp:  # fmt: skip
                text = await resp.text()
                if resp.status not in ok:
                    raise ApiError(f"{method} {url}: {resp.status} {text.strip()[:200]}",
                                   resp.status)  # fmt: skip
        except (TimeoutError, aiohttp.ClientError, OSError, ssl.SSLError) as exc:
            raise ApiError(f"{method} {url}: {type(exc).__name__}: {exc}".rstrip(": ")) from None
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text

    def master_url(self, address: str, path: str = "") -> str:
        return host_url(self.scheme, address, MASTER_PORT, path)

    def webapp_url(self, address: str, path: str = "") -> str:
        return host_url(self.scheme, address, WEBAPP_PORT, path)

    # -- masters -------------------------------------------------------------------------------

    async def master_healthy(self, address: str) -> bool:
        try:
            await self.request("GET", self.master_url(address, "/health"))
        except ApiError:
            return False
        return True

    async def master_elected(self, address: str) -> bool:
        try:
            snap = await self.request("GET", self.master_url(address, "/metrics/snapshot"))
        except ApiError:
            return False
        return isinstance(snap, dict) and snap.get("master/elected") == 1

    async def leading_master(self, masters: Sequence[str] | None = None) -> str | None:
        """The address of the master that says it leads (``master/elected`` 1), or None."""
        masters = list(masters if masters is not None else self.cfg.masters)
        elected = await asyncio.gather(*(self.master_elected(m) for m in masters))
        return next((m for m, e in zip(masters, elected, strict=True) if e), None)

    async def _leader(self) -> str:
        leader = await self.leading_master()
        if leader is None:
            raise ApiError("no master leads (no master's /metrics/snapshot says master/elected 1)")
        return leader

    async def agents(self) -> list[AgentEntry]:
        """The agents the leading master knows (``/master/slaves``)."""
        leader = await self._leader()
        return parse_agents(await self.request("GET", self.master_url(leader, "/master/slaves")))

    async def agent(self, address: str) -> AgentEntry | None:
        return agent_at(await self.agents(), address)

    async def operator_call(self, call_type: str, agent_id: AgentID) -> None:
        """A Mesos v1 operator call about one agent at the leading master, e.g.
        ``DEACTIVATE_AGENT`` / ``MARK_AGENT_GONE``."""
        leader = await self._leader()
        field = call_type.lower()
        body = {"type": call_type, field: {"agent_id": {"value": agent_id}}}
        await self.request("POST", self.master_url(leader, "/api/v1"), body)

    # -- ZooKeeper -----------------------------------------------------------------------------

    async def zk_mode(self, hostport: str, timeout: float = 3.0) -> str | None:
        """The ``Mode`` of the ZooKeeper server at `hostport` (``srvr``), None when it does
        not answer (down, or not serving)."""
        host, _, port = hostport.rpartition(":")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host.strip("[]"), int(port)), timeout)
            try:
                writer.write(b"srvr")
                await writer.drain()
                data = await asyncio.wait_for(reader.read(4096), timeout)
            finally:
                writer.close()
        except (TimeoutError, OSError, ValueError):
            return None
        return parse_srvr_mode(data.decode("utf-8", "replace"))

    async def zk_modes(self) -> dict[str, str | None]:
        hosts = self.cfg.zk_hosts()
        modes = await asyncio.gather(*(self.zk_mode(h) for h in hosts))
        return dict(zip(hosts, modes, strict=True))

    async def masters_problem(self, masters: Sequence[str] | None = None) -> str | None:
        """None when ZooKeeper (the masters' ensemble) has a quorum and a master leads; else
        what is missing (one line). External ZooKeeper is not probed (not ours to watch)."""
        if not self.cfg.zk_external:
            why = quorum_problem(await self.zk_modes())
            if why is not None:
                return why
        if await self.leading_master(masters) is None:
            return "no master leads yet"
        return None

    # -- webapp (Marathon-like /v2) ------------------------------------------------------------

    async def webapp(self, method: str, path: str, body: Any = None, *,
                     ok: Sequence[int] = (200, 201, 202, 204)) -> Any:
        """`path` at the first master's webapp that answers (followers proxy to the leader)."""
        last: ApiError | None = None
        for m in self.cfg.masters:
            try:
                return await self.request(method, self.webapp_url(m, path), body, ok=ok)
            except ApiError as exc:
                if exc.status is not None and exc.status < 500:
                    raise
                last = exc
        raise last or ApiError("no master configured")

    async def tasks(self) -> list[dict[str, Any]]:
        doc = await self.webapp("GET", "/v2/tasks")
        tasks = doc.get("tasks") if isinstance(doc, dict) else None
        return [t for t in tasks or [] if isinstance(t, dict)]

    async def app(self, app_id: str) -> dict[str, Any]:
        doc = await self.webapp("GET", f"/v2/apps{app_id}")
        app = doc.get("app") if isinstance(doc, dict) else None
        if not isinstance(app, dict):
            raise ApiError(f"GET /v2/apps{app_id}: no app in the answer")
        return app

    async def scale(self, app_id: str, instances: int) -> None:
        await self.webapp("PUT", f"/v2/apps{app_id}", {"instances": instances})

    async def delete_tasks(self, task_ids: Sequence[str], *, scale: bool = True) -> None:
        path = "/v2/tasks/delete" + ("?scale=true" if scale else "")
        await self.webapp("POST", path, {"ids": list(task_ids)})

    async def queue(self) -> list[dict[str, Any]]:
        doc = await self.webapp("GET", "/v2/queue?embed=lastUnusedOffers")
        items = doc.get("queue") if isinstance(doc, dict) else None
        return [q for q in items or [] if isinstance(q, dict)]
