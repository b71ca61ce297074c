"""`dcos-py install --postflight`: wait until the installed cluster works, add the configured
package repositories, install the configured packages, and say where the cluster answers and
how to log in.

Called by `dcos.installer.main` (the last step of `dcos-py install`, or ``--postflight``
alone): ``await postflight(cfg, manifest, progress, say=...)`` -> one `HostResult` per host,
each with its conditions as `CheckResult`s (``host  postflight/<check>  reason`` for each
failed one). Waits at most `TIMEOUT_S` (180 s), polling every `POLL_S`, until on every host:

- ``leader`` (the first master's row): some master's ``/metrics/snapshot`` says
  ``master/elected`` 1;
- ``master``, ``webapp``, ``package``, ``gateway`` (each master): ``/metrics/snapshot`` on
  5050, the webapp's ``/ping`` on 8080, the package service's ``/health`` on 7070, the
  gateway's ``/gateway/health`` on 443 (80 with security off) answering ``healthy``;
- ``dns`` (each master): its DNS (UDP 53) answers ``leader.dcos`` A with the leading master's
  address (a dnslib client);
- ``agent`` (each agent and public agent): the leader's ``/master/slaves`` lists an agent
  registered from the host's own address (its pid's ip), connected and not deactivated.

Then (all healthy): each ``packages.repositories`` entry is added (``POST
/package/repository/add``; one already present is fine) and each ``packages.install`` entry
installed (``POST /package/install``; already installed is fine) through the package service
of the first master that answers, with the Cosmos media types; postflight waits (up to
`PACKAGE_TIMEOUT_S` each) until the installed app (or every app of the installed group) runs,
healthy where it has health checks (`dcos.cli.commands._pkg_wait.readiness`). These are the
checks ``repository <name>`` and ``package <name>`` of the first master's row.

HTTP goes through `dcos.installer.cluster_api.ClusterApi`: mutual TLS with the installer's
certificate (`dcos.installer.bundle.installer_identity`) when security is on, plain http
otherwise. The judgement is pure (`judge`: one poll's answers, `Seen`, in; results out) and
unit-tested with made-up answers; `observe` only fetches.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from dnslib import QTYPE, RCODE, DNSRecord

from dcos.installer.cluster_api import (
    AgentEntry,
    ApiError,
    ClusterApi,
    agent_at,
    host_url,
    parse_agents,
)
from dcos.installer.config import ClusterConfig, PackageRequest
from dcos.installer.progress import Progress, QuietProgress
from dcos.installer.roles import (
    DNS_PORT,
    GATEWAY_PLAIN_PORT,
    GATEWAY_PORT,
    MASTER_PORT,
    PACKAGE_PORT,
    WEBAPP_PORT,
)
from dcos.installer.runner import CheckResult, HostLog, HostResult, log_path
from dcos.packaging import mediatypes as mt

TIMEOUT_S = 180.0
POLL_S = 2.0
PACKAGE_TIMEOUT_S = 180.0
DNS_TIMEOUT_S = 2.0
LEADER_NAME = "leader.dcos"
MASTER_CHECKS = ("master", "webapp", "package", "gateway", "dns")
STEP = "postflight"

Say = Callable[[str], None]


@dataclass(frozen=True)
class Seen:
    """The answers of one poll. `elected`: master -> its ``/metrics/snapshot`` says it leads
    (None: it did not answer, `services` says why); `agents`: the leader's agents, or why
    there are none to show; `services`: (master, check) -> None when it answered well, else
    why not; `dns`: master -> the A answers to ``leader.dcos``, or why none came."""

    elected: dict[str, bool | None]
    agents: list[AgentEntry] | str
    services: dict[tuple[str, str], str | None]
    dns: dict[str, list[str] | str] = field(default_factory=dict)


def leader_of(seen: Seen) -> str | None:
    return next((m for m, e in seen.elected.items() if e), None)


def _check(host: str, check: str, why: str | None, ok_detail: str) -> CheckResult:
    return CheckResult(host, check, why is None, ok_detail if why is None else why)


def _dns_problem(answers: list[str] | str | None, leader: str | None) -> str | None:
    if isinstance(answers, str):
        return answers
    if leader is None:
        return "no master leads: nothing to resolve leader.dcos to yet"
    if not answers:
        return f"{LEADER_NAME} has no A record yet (the leader is {leader})"
    if leader not in answers:
        return f"{LEADER_NAME} -> {', '.join(answers)}, not the leader {leader}"
    return None


def _agent_problem(agents: list[AgentEntry] | str, address: str) -> tuple[str | None, str]:
    """(why the agent at `address` is not ready or None, the detail when it is)."""
    if isinstance(agents, str):
        return agents, ""
    entry = agent_at(agents, address)
    if entry is None:
        others = sorted({a.address for a in agents})
        seen = f" (registered: {', '.join(others)})" if others else " (no agent registered)"
        return f"no agent registered from {address}{seen}", ""
    if not entry.active:
        return f"agent {entry.agent_id} of {address} is registered but not connected", ""
    return None, f"registered as {entry.agent_id}"


def judge(cfg: ClusterConfig, seen: Seen) -> list[HostResult]:
    """One `HostResult` per host of `cfg` (masters, agents, public agents), with a
    `CheckResult` per condition (module docstring); ok when every condition holds."""
    leader = leader_of(seen)
    out: list[HostResult] = []
    for i, m in enumerate(cfg.masters):
        checks: list[CheckResult] = []
        if i == 0:
            why = None if leader else ("no master leads (no master's /metrics/snapshot says "
                                       "master/elected 1)")  # fmt: skip
            checks.append(_check(m, "leader", why, f"{leader} leads"))
        for name in MASTER_CHECKS:
            if name == "dns":
                checks.append(_check(m, "dns", _dns_problem(seen.dns.get(m), leader),
                                     f"{LEADER_NAME} -> {leader}"))  # fmt: skip
                continue
            why = seen.services.get((m, name), "not checked")
            ok = "answers" + (" (leading)" if name == "master" and m == leader else "")
            checks.append(_check(m, name, why, ok))
        out.append(_result(m, checks))
    for a in (*cfg.agents, *cfg.public_agents):
        why, ok_detail = _agent_problem(seen.agents, a)
        out.append(_result(a, [_check(a, "agent", why, ok_detail)]))
    return out


def _result(address: str, checks: list[CheckResult]) -> HostResult:
    failed = [c for c in checks if not c.ok]
    detail = ("; ".join(f"{c.check}: {c.detail}" for c in failed) if failed
              else "healthy: " + ", ".join(c.check for c in checks))  # fmt: skip
    return HostResult(address, not failed, detail, checks)


# --- fetching -------------------------------------------------------------------------------


def _dns_query(server: str, port: int, timeout: float) -> list[str] | str:
    """The A answers of `server`:`port` to ``leader.dcos`` (UDP), or why there are none."""
    try:
        raw = DNSRecord.question(LEADER_NAME, "A").send(server, port, timeout=timeout)
        reply = DNSRecord.parse(raw)
    except (OSError, ValueError) as exc:  # socket.timeout is an OSError
        return f"DNS on {server}:{port} did not answer {LEADER_NAME}: {type(exc).__name__} {exc}".strip()
    except Exception as exc:  # noqa: BLE001 - dnslib's own parse errors
        return f"DNS on {server}:{port} answered garbage: {exc}"
    if reply.header.rcode != RCODE.NOERROR:
        return f"DNS on {server}:{port} answered {RCODE.get(reply.header.rcode)} for {LEADER_NAME}"
    return [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]


async def _service(c: ClusterApi, url: str, *, healthy_key: str | None = None) -> str | None:
    try:
        body = await c.request("GET", url)
    except ApiError as exc:
        return exc.message
    if healthy_key is not None and not (isinstance(body, dict) and body.get(healthy_key)):
        return f"GET {url}: not healthy yet ({_short(body)})"
    return None


def _short(body: Any, limit: int = 160) -> str:
    text = " ".join(str(body).split())
    return text if len(text) <= limit else text[:limit] + "..."


async def _elected(c: ClusterApi, m: str) -> tuple[bool | None, str | None]:
    url = c.master_url(m, "/metrics/snapshot")
    try:
        snap = await c.request("GET", url)
    except ApiError as exc:
        return None, exc.message
    return isinstance(snap, dict) and snap.get("master/elected") == 1, None


async def observe(c: ClusterApi, cfg: ClusterConfig, *, dns_port: int = DNS_PORT) -> Seen:
    """One poll of every condition, all at once."""
    gw_port = GATEWAY_PORT if c.scheme == "https" else GATEWAY_PLAIN_PORT
    masters = list(cfg.masters)
    elected = await asyncio.gather(*(_elected(c, m) for m in masters))
    services: dict[tuple[str, str], str | None] = {
        (m, "master"): why for m, (_, why) in zip(masters, elected, strict=True)}
    probes = {}
    for m in masters:
        probes[(m, "webapp")] = _service(c, host_url(c.scheme, m, WEBAPP_PORT, "/ping"))
        probes[(m, "package")] = _service(c, host_url(c.scheme, m, PACKAGE_PORT, "/health"))
        probes[(m, "gateway")] = _service(c, host_url(c.scheme, m, gw_port, "/gateway/health"),
                                          healthy_key="healthy")  # fmt: skip
    answers = await asyncio.gather(*probes.values())
    services.update(zip(probes, answers, strict=True))
    dns = await asyncio.gather(*(asyncio.to_thread(_dns_query, m, dns_port, DNS_TIMEOUT_S)
                                 for m in masters))  # fmt: skip
    seen_elected = {m: e for m, (e, _) in zip(masters, elected, strict=True)}
    leader = next((m for m, e in seen_elected.items() if e), None)
    agents: list[AgentEntry] | str
    if not (cfg.agents or cfg.public_agents):
        agents = []
    elif leader is None:
        agents = "no master leads yet: no agent can register"
    else:
        try:
            agents = parse_agents(await c.request(
                "GET", host_url(c.scheme, leader, MASTER_PORT, "/master/slaves")))
        except ApiError as exc:
            agents = exc.message
    return Seen(seen_elected, agents, services, dict(zip(masters, dns, strict=True)))


# --- packages -------------------------------------------------------------------------------


class CosmosFailed(Exception):
    """The package service answered an error body (`kind` its Cosmos ``type``)."""

    def __init__(self, message: str, kind: str = "", data: Any = None) -> None:
        super().__init__(message)
        self.message, self.kind, self.data = message, kind, data


async def _cosmos(session: aiohttp.ClientSession, base: str, path: str, body: dict[str, Any],
                  request_type: str, accept: str) -> Any:  # fmt: skip
    """POST a Cosmos request; the decoded answer, `CosmosFailed` for an error body, `ApiError`
    when the service does not answer."""
    headers = {"Content-Type": request_type, "Accept": f"{accept},{mt.ERROR};q=0.9"}
    url = base + path
    try:
        async with session.post(url, data=json.dumps(body), headers=headers) as resp:
            text = await resp.text()
            status = resp.status
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise ApiError(f"POST {url}: {type(exc).__name__}: {exc}".rstrip(": ")) from None
    try:
        doc = json.loads(text) if text.strip() else None
    except ValueError:
        doc = text
    if status >= 500 and not isinstance(doc, dict):
        raise ApiError(f"POST {url}: {status} {_short(text)}", status)
    if status >= 400:
        if isinstance(doc, dict):
            raise CosmosFailed(f"{doc.get('type', status)}: {doc.get('message', '')}".strip(),
                               str(doc.get("type", "")), doc.get("data"))  # fmt: skip
        raise CosmosFailed(f"POST {url}: {status} {_short(text)}")
    return doc


def install_body(req: PackageRequest) -> dict[str, Any]:
    """The ``/package/install`` request of one ``packages.install`` entry."""
    body: dict[str, Any] = {"packageName": req.name}
    if req.version:
        body["packageVersion"] = req.version
    if req.options:
        body["options"] = req.options
    return body


async def _app_readiness(c: ClusterApi, app_id: str) -> Any:
    from dcos.cli.commands._pkg_wait import group_apps, readiness

    try:
        doc = await c.webapp("GET", f"/v2/apps{app_id}")
        apps = [doc["app"]] if isinstance(doc, dict) and isinstance(doc.get("app"), dict) else []
    except ApiError as exc:
        if exc.status != 404:
            raise
        group = await c.webapp("GET", "/v2/groups/" + app_id.strip("/"))
        apps = group_apps(group) if isinstance(group, dict) else []
    return readiness(apps)


async def wait_app(c: ClusterApi, app_id: str, timeout: float, poll_s: float) -> str | None:
    """None once `app_id` (an app or a group) is ready, else why not after `timeout`."""
    deadline = time.monotonic() + timeout
    detail = "not seen yet"
    while True:
        try:
            state = await _app_readiness(c, app_id)
            if state.done:
                return None
            detail = state.detail
        except ApiError as exc:
            detail = exc.message
        if time.monotonic() >= deadline:
            return f"{app_id} not running after {timeout:g} s ({detail})"
        await asyncio.sleep(poll_s)


async def _package_base(c: ClusterApi, cfg: ClusterConfig) -> str | None:
    """The package service URL of the first master whose ``/health`` answers."""
    for m in cfg.masters:
        if await _service(c, host_url(c.scheme, m, PACKAGE_PORT, "/health")) is None:
            return host_url(c.scheme, m, PACKAGE_PORT)
    return None


async def packages(c: ClusterApi, cfg: ClusterConfig, say: Say, *,
                   timeout: float = PACKAGE_TIMEOUT_S, poll_s: float = POLL_S) -> list[CheckResult]:  # fmt: skip
    """Add the configured repositories and install the configured packages (module
    docstring); one `CheckResult` each, on the first master."""
    host = cfg.masters[0]
    out: list[CheckResult] = []
    connector = aiohttp.TCPConnector(ssl=c.ssl if c.ssl is not None else False)
    async with aiohttp.ClientSession(connector=connector, trust_env=False,
                                     timeout=aiohttp.ClientTimeout(total=120)) as session:  # fmt: skip
        base = await _package_base(c, cfg)
        if base is None:
            why = "no master's package service answers /health"
            return [CheckResult(host, f"repository {n}", False, why) for n, _ in cfg.repositories] + \
                [CheckResult(host, f"package {p.name}", False, why) for p in cfg.packages]
        for name, uri in cfg.repositories:
            try:
                await _cosmos(session, base, "/package/repository/add", {"name": name, "uri": uri},
                              mt.REPOSITORY_ADD_REQUEST, mt.REPOSITORY_ADD_RESPONSE)  # fmt: skip
                out.append(CheckResult(host, f"repository {name}", True, f"added {uri}"))
                say(f"postflight: repository {name} added ({uri})")
            except CosmosFailed as exc:
                ok = exc.kind == mt.ErrorType.REPOSITORY_ALREADY_PRESENT
                out.append(CheckResult(host, f"repository {name}", ok,
                                       "already present" if ok else exc.message))  # fmt: skip
            except ApiError as exc:
                out.append(CheckResult(host, f"repository {name}", False, exc.message))
        for req in cfg.packages:
            out.append(await _install(c, session, base, host, req, say, timeout, poll_s))
    return out


async def _install(c: ClusterApi, session: aiohttp.ClientSession, base: str, host: str,
                   req: PackageRequest, say: Say, timeout: float, poll_s: float) -> CheckResult:  # fmt: skip
    check = f"package {req.name}"
    try:
        answer = await _cosmos(session, base, "/package/install", install_body(req),
                               mt.INSTALL_REQUEST, mt.INSTALL_RESPONSE_V2)  # fmt: skip
        app_id = answer.get("appId") if isinstance(answer, dict) else None
        done = "installed"
    except CosmosFailed as exc:
        if exc.kind != mt.ErrorType.PACKAGE_ALREADY_INSTALLED:
            return CheckResult(host, check, False, exc.message)
        app_id = exc.data.get("appId") if isinstance(exc.data, dict) else None
        done = "already installed"
    except ApiError as exc:
        return CheckResult(host, check, False, exc.message)
    app_id = app_id if isinstance(app_id, str) and app_id else "/" + req.name
    say(f"postflight: package {req.name} {done} as {app_id}; waiting until it runs")
    why = await wait_app(c, app_id, timeout, poll_s)
    return CheckResult(host, check, why is None, why or f"{done}, {app_id} running")


# --- the step -------------------------------------------------------------------------------


def login_lines(cfg: ClusterConfig) -> list[str]:
    """Where the cluster answers and how to log in with the CLI (the real commands)."""
    first = cfg.masters[0]
    host = f"[{first}]" if ":" in first else first
    # the CLI follows the leading master through ZooKeeper (any master may fail); a master's
    # URL works too (a standby redirects to the leader) but ties the CLI to that host
    masters = cfg.zk_url("/dcos")
    if not cfg.security.enabled:
        return [f"Web UI and API: http://{host}",
                f"CLI: dcos-py cluster setup {masters} --name {cfg.cluster_name}"]
    genconf = cfg.genconf_dir
    ca = genconf / "security" / "ca.crt"
    uid = cfg.security.bootstrap_uid
    lines = [f"Web UI and API: https://{host}  (the cluster CA for browsers: {ca})",
             f"CLI: dcos-py cluster setup {masters} --name {cfg.cluster_name} --ssl-verify {ca}"]
    password_file = genconf / "admin.password"
    if cfg.security.bootstrap_password_hash is None and password_file.is_file():
        lines.append(f"     dcos-py auth login --username {uid} --password-file {password_file}")
    else:
        lines.append(f"     dcos-py auth login --username {uid}   (the password whose hash is "
                     "security.bootstrap_user.password_hash)")
    return lines


async def postflight(cfg: ClusterConfig, manifest: Any = None, progress: Progress | None = None,
                     *, say: Say = print, timeout: float = TIMEOUT_S, poll_s: float = POLL_S,
                     package_timeout: float = PACKAGE_TIMEOUT_S, dns_port: int = DNS_PORT,
                     api: ClusterApi | None = None) -> list[HostResult]:  # fmt: skip
    """The step (module docstring). `manifest` is not needed (kept for the steps' common
    signature); `api` replaces the cluster client (tests). Raises `BundleError` when security
    is on and genconf has not made the installer's certificate."""
    client = api or ClusterApi(cfg)
    progress = progress or QuietProgress(say)
    addresses = [h.address for h in cfg.hosts()]
    logs = {a: HostLog(log_path(cfg, a), STEP) for a in addresses}
    progress.begin(STEP, addresses)
    async with client as c:
        results = await _wait_healthy(c, cfg, progress, logs, timeout, poll_s, dns_port)
        if all(r.ok for r in results) and (cfg.repositories or cfg.packages):
            progress.update(cfg.masters[0], "repositories and packages")
            extra = await packages(c, cfg, say, timeout=package_timeout, poll_s=poll_s)
            first = results[0]
            results[0] = _result(first.address, first.checks + extra)
    for r in results:
        logs[r.address](f"{'ok' if r.ok else 'FAILED'}: {r.detail}")
        progress.finish(r.address, r.ok, r.detail)
    progress.end()
    if all(r.ok for r in results):
        for line in login_lines(cfg):
            say(line)
    return results


async def _wait_healthy(c: ClusterApi, cfg: ClusterConfig, progress: Progress,
                        logs: dict[str, HostLog], timeout: float, poll_s: float,
                        dns_port: int) -> list[HostResult]:  # fmt: skip
    """Poll until every condition holds or `timeout` passes; the last judgement."""
    deadline = time.monotonic() + timeout
    last: dict[str, str] = {}
    while True:
        results = judge(cfg, await observe(c, cfg, dns_port=dns_port))
        for r in results:
            if last.get(r.address) != r.detail:
                last[r.address] = r.detail
                logs[r.address](r.detail)
                progress.update(r.address, r.detail if not r.ok else "healthy")
        if all(r.ok for r in results) or time.monotonic() >= deadline:
            return results
        await asyncio.sleep(poll_s)
