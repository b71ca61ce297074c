"""The batch dispatcher: runs cluster-mode drivers as tasks on the cluster (``dcos-py batch
submit``), like Spark's MesosClusterDispatcher.

Design (the simplest robust one): one small dcos.sdk framework process, ``batch-dispatcher``,
started by ``dcos-py batch submit`` when none is registered with the master, by ``dcos-py up``
(or by hand)::

    python -m frameworks.batch.cluster.dispatcher --master HOST:PORT --work-dir DIR [--port P]
        [--ip ADDRESS] [--allow-scripts DIR_OR_FILE[:...]] [--framework-name NAME] [--role ROLE]

- Several dispatchers may share a cluster (a team's own, e.g. the ``batch-dispatcher``
  package): each registers under its ``--framework-name`` (default ``batch-dispatcher``, the
  one ``dcos-py batch submit`` looks for) and subscribes with its ``--role`` (default ``*``),
  so it is offered that role's share and reservations (its SUPPRESS/REVIVE name the role and its
  driver tasks use resources allocated to it). A dispatcher with a role other than ``*`` hands
  it to its drivers as their default ``spark.mesos.role`` (a submission's own conf wins), so a
  team's jobs run under the team's role too. Each needs its own ``--work-dir``.

- HA masters: ``--master zk://h1:2181,h2:2181/dcos`` (or Spark's ``mesos://zk://...``). The SDK
  driver finds the leading master in ZooKeeper and follows a failover by re-subscribing with
  the same framework id (its failover timeout is a week), then reconciles its drivers;
  submissions are stored locally and keep being accepted meanwhile (they launch once offers
  come from the new leader). Driver tasks get ``MASTER=mesos://zk://...``, so the drivers
  follow the leader too.

- Its API binds ``--ip`` only (``--host`` is the same flag): by default the loopback address
  when the master is on this machine, else this machine's address on the route to the master;
  never 0.0.0.0 unless given. Flags come from `dcos.common.flags` (``DCOS_<FLAG>`` too).
- It runs only code a submission ships (``script`` a file name and ``script_content`` the
  program, what ``dcos-py batch submit`` sends; stored under ``DIR/scripts/<id>/``), or a host
  script under ``--allow-scripts``; any other path is refused with 403 and nothing runs
  (`frameworks.batch.cluster.submission_checks`).

- Submissions live in a `SQLiteStateStore` under ``DIR`` (``/submissions/<id>`` JSON), so a
  restarted dispatcher knows them; its framework id is stored too and it re-registers with it
  (failover timeout one week) and reconciles its drivers.
- The Mesos side is the SDK's framework layer: a `FrameworkScheduler` (reconciliation of the
  drivers it knows on every subscription, SUPPRESS / REVIVE with its `SuppressionTracker`),
  offers matched with the placement chain (`dcos.sdk.placement.place`, oldest submission
  first) and the decisions sent as framework actions (``driver.apply``).
- Each submission becomes one Mesos task running ``<python> <script> [args]`` in a sandbox: the
  script is fetched there through a ``file://`` URI; the task's environment carries the master
  (``DCOS_BATCH_MASTER`` and ``MASTER`` = ``mesos://host:port`` or ``mesos://zk://...``), the executor settings
  (``DCOS_BATCH_CONF``, JSON of ``spark.*`` keys, read by `ClusterConf`), the submission id and
  this dispatcher's URL (the driver reports its job page URL back).
- Its HTTP API (the framework's ``webui_url``), JSON:
  ``POST /v1/submissions`` {script, script_content, args, conf, driver_cpus, driver_mem, name}
  -> {id};
  ``GET /v1/submissions``; ``GET /v1/submissions/{id}``; ``POST /v1/submissions/{id}/kill``;
  ``POST /v1/submissions/{id}/driver`` {ui_url, framework_id} (from the driver); ``GET /health``.
  Bad input answers 400 (a script it may not run 403) with a plain-text message and changes
  nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from dcos.common import flags
from dcos.common.openapi import add_openapi_route
from dcos.protocol.ids import role_error
from dcos.sdk import (
    Decline,
    FrameworkAction,
    FrameworkScheduler,
    Kill,
    Launch,
    Offer,
    SchedulerDriver,
    TaskNeeds,
    TaskStatus,
    framework_info,
    task_info,
)
from dcos.sdk.framework import TaskRef
from dcos.sdk.placement import Slot, place
from dcos.sdk.util import parse_master
from dcos.security.acls import Action
from dcos.security.context import SecurityContext
from dcos.security.http import PolicyFeed, auth_middleware, identity
from dcos.security.options import add_security_args, base_url, context_from_args
from dcos.state import SQLiteStateStore, StateStore, VersionConflict
from dcos.state.zk import is_zk_url
from frameworks.batch.cluster.backend import master_target, route_to
from frameworks.batch.cluster.openapi import batch_spec
from frameworks.batch.cluster.security import (
    DRIVER_PRINCIPAL,
    driver_conf,
    publish_driver_secret,
    secret_path,
    secret_volume,
)
from frameworks.batch.cluster.submission_checks import ScriptPolicy, check_submission

log = logging.getLogger(__name__)
NAME = "batch-dispatcher"
PREFIX = "/submissions/"
QUEUED, LAUNCHED, RUNNING = "QUEUED", "LAUNCHED", "RUNNING"
ENDED = {"FINISHED", "FAILED", "KILLED", "ERROR", "LOST"}


class Dispatcher(FrameworkScheduler):
    """Submissions, their driver tasks, and the HTTP API."""

    def __init__(self, store: StateStore, master: str, python: str = sys.executable,
                 scripts_dir: Path | None = None, policy: ScriptPolicy | None = None,
                 name: str = NAME, role: str = "*",
                 security: SecurityContext | None = None) -> None:  # fmt: skip
        super().__init__(roles=[role])
        self.security = security  # security on (see frameworks.batch.cluster.security)
        self.driver_secret = _driver_secret(security)
        self.name = name  # the framework name it registers under
        self.role = role  # the role it subscribes with (its offers' allocation role)
        self.store = store
        self.master = master
        self.python = python
        self.scripts_dir = scripts_dir  # where shipped scripts are kept (None: not accepted)
        self.policy = policy or ScriptPolicy()
        self.subs: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, int] = {}
        self.driver: SchedulerDriver | None = None
        self.url = ""

    async def load(self) -> None:
        for key in await self.store.list(PREFIX):
            v = await self.store.get(key)
            if v is not None:
                sub = orjson.loads(v.value)
                self.subs[sub["id"]] = sub
                self.versions[sub["id"]] = v.version

    async def save(self, sub: dict[str, Any]) -> None:
        sid = sub["id"]
        for _ in range(3):
            try:
                self.versions[sid] = await self.store.put(
                    PREFIX + sid, orjson.dumps(sub), self.versions.get(sid, 0)
                )
                return
            except VersionConflict as exc:
                self.versions[sid] = exc.actual

    # ---- submissions ------------------------------------------------------------------

    def validate(self, body: Any) -> tuple[int, str] | None:
        """Why a submission body is refused (HTTP status, message), or None; see
        `submission_checks`. Called by the ``POST /v1/submissions`` handler."""
        refusal = check_submission(body, self.policy)
        if refusal is not None:
            return refusal.status, refusal.message
        if body.get("script_content") is not None and self.scripts_dir is None:
            return 400, "this dispatcher keeps no scripts (it has no work dir)"
        return None

    def _keep_script(self, sid: str, name: str, content: str) -> str:
        """Write a shipped script under the work dir; its path (what the driver task fetches)."""
        assert self.scripts_dir is not None  # validate() refused the submission otherwise
        folder = self.scripts_dir / sid
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(content.encode("utf-8", "surrogatepass"))
        return str(path)

    async def submit(self, body: dict[str, Any], principal: str | None = None) -> dict[str, Any]:
        """Queue a validated submission (the caller ran `validate`); `principal` is who
        submitted it (security on)."""
        sid = f"driver-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
        script = body["script"]
        if body.get("script_content") is not None:
            script = self._keep_script(sid, script, body["script_content"])
        sub = {
            "id": sid,
            "name": body.get("name") or Path(script).name,
            "script": script,
            "args": [str(a) for a in body.get("args", [])],
            "conf": {str(k): str(v) for k, v in body.get("conf", {}).items()},
            "driver_cpus": float(body.get("driver_cpus", 0.5)),
            "driver_mem": float(body.get("driver_mem", 512)),
            "state": QUEUED,
            "message": "",
            "task_id": sid,
            "agent_id": "",
            "submitted": time.time(),
            "started": None,
            "finished": None,
            "driver_ui": "",
            "driver_framework_id": "",
            "user": body.get("user") or None,
            "principal": principal,
        }
        self.subs[sid] = sub
        await self.save(sub)
        if self.driver is not None:
            await self.driver.apply(self.suppression.update(True))  # REVIVE if suppressed
        return sub

    async def kill(self, sid: str) -> dict[str, Any] | None:
        """Kill a submission's driver (or drop it while queued); None for unknown ids. Raises
        `web.HTTPServiceUnavailable` when the KILL could not be sent to the master."""
        sub = self.subs.get(sid)
        if sub is None:
            return None
        if sub["state"] == QUEUED:
            sub.update(state="KILLED", message="killed before it started", finished=time.time())
            await self.save(sub)
        elif sub["state"] not in ENDED and self.driver is not None:
            [err] = await self.driver.apply([Kill(sub["task_id"], sub["agent_id"] or None)])
            if err is not None:
                raise web.HTTPServiceUnavailable(text=f"kill not sent to the master: {err}")
        return sub

    # ---- scheduler --------------------------------------------------------------------

    def known_tasks(self) -> list[TaskRef]:
        """The drivers to reconcile after (re)subscribing: every one not known to be over."""
        return [
            (s["task_id"], s["agent_id"] or None)
            for s in self.subs.values()
            if s["state"] in (LAUNCHED, RUNNING)
        ]

    async def subscribed(self, driver: SchedulerDriver, first: bool) -> None:
        await self._publish_driver_secret(driver)
        if not first:
            return
        framework_id = driver.framework_id or ""
        await self.store.put("/framework_id", framework_id.encode(), await self._fid_version())
        log.info("dispatcher registered as %s", framework_id)

    async def _publish_driver_secret(self, driver: SchedulerDriver) -> None:
        """Security on: store the drivers' secret in the master's secret store (each
        (re)subscription: a new leader, or a rotated credentials.json)."""
        if self.security is None or self.driver_secret is None or driver.master is None:
            return
        async with aiohttp.ClientSession(**self.security.client_kwargs()) as session:
            problem = await publish_driver_secret(session, driver.master.url,
                                                  secret_path(self.name), self.driver_secret)  # fmt: skip
        if problem is not None:
            log.warning("drivers' secret not stored (they cannot register): %s", problem)

    async def _fid_version(self) -> int:
        v = await self.store.get("/framework_id")
        return v.version if v else 0

    async def resource_offers(self, driver: SchedulerDriver, offers: list[Offer]) -> None:
        """Launch queued drivers, oldest first, each where the placement chain puts it; stop
        at the first one that fits no offer. Offers left unused are declined for 30 s."""
        slots = [Slot.of(o) for o in offers]
        tasks: dict[str, list[dict[str, Any]]] = {}  # offer id -> driver tasks
        for sub in [s for s in self.subs.values() if s["state"] == QUEUED]:
            needs = TaskNeeds.of(cpus=sub["driver_cpus"], mem=sub["driver_mem"])
            placed = place(slots, needs, 1).placements
            if not placed:
                break
            offer, fit = placed[0].slot.offer, placed[0].fit
            tasks.setdefault(offer.id, []).append(self._driver_task(sub, offer, fit.resources))
            sub.update(state=LAUNCHED, agent_id=offer.agent_id, started=time.time())
            await self.save(sub)
        actions: list[FrameworkAction] = [
            Launch([o.id], tasks[o.id], refuse_seconds=1) for o in offers if o.id in tasks
        ]
        unused = [o.id for o in offers if o.id not in tasks]
        if unused:
            actions.append(Decline(unused, refuse_seconds=30))
        actions += self.suppression.update(any(s["state"] == QUEUED for s in self.subs.values()))
        await driver.apply(actions)

    def _driver_task(
        self, sub: dict[str, Any], offer: Offer, resources: list[Any]
    ) -> dict[str, Any]:
        script = Path(sub["script"])
        conf = dict(sub["conf"])
        if self.role != "*":  # a team's dispatcher: its drivers register under its role
            conf.setdefault("spark.mesos.role", self.role)
        if self.security is not None:
            conf.update(driver_conf())  # the principal and the secret's file, never the secret
        env = {
            "DCOS_BATCH_MASTER": f"mesos://{self.master}",
            "MASTER": f"mesos://{self.master}",
            "DCOS_BATCH_CONF": orjson.dumps(conf).decode(),
            "DCOS_BATCH_SUBMISSION_ID": sub["id"],
            "DCOS_BATCH_DISPATCHER": self.url,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(script.parent),
        }
        argv = [self.python, script.name, *sub["args"]]
        command = {"value": self.python, "arguments": argv, "shell": False}
        info = task_info(
            name=sub["name"],
            task_id=sub["task_id"],
            agent_id=offer.agent_id,
            command=command,
            resources=resources,
            environment=env,
            uris=[f"file://{script}"],
            kill_grace_period=5.0,
            user=sub.get("user") or None,
        )
        if self.security is not None and self.driver_secret is not None:
            info["container"] = {"type": "MESOS", "volumes": [secret_volume(secret_path(self.name))]}
        return info

    async def status_update(self, driver: SchedulerDriver, status: TaskStatus) -> None:
        sub = self.subs.get(status.task_id)
        if sub is None or sub["state"] in ENDED:
            return
        state = status.state.removeprefix("TASK_")
        if state in ("STARTING", "RUNNING"):
            sub["state"] = RUNNING
        elif status.terminal:
            sub.update(
                state=state if state in ENDED else "FAILED",
                finished=time.time(),
                message=status.message or status.reason or "",
            )
        elif state in ("UNKNOWN", "DROPPED", "GONE"):
            sub.update(state="LOST", finished=time.time(), message=status.message)
        else:
            return
        await self.save(sub)

    # ---- HTTP API -----------------------------------------------------------------------

    def app(self) -> web.Application:
        middlewares = []
        if self.security is not None:  # plain-text 401s, as the API's other errors
            middlewares.append(auth_middleware(
                self.security, error=lambda status, text: web.Response(status=status, text=text),
                open_paths=frozenset({"/health", "/openapi.json"})))  # fmt: skip
        app = web.Application(client_max_size=8 * 1024 * 1024, middlewares=middlewares)  # shipped scripts
        app.router.add_post("/v1/submissions", self._post)
        app.router.add_get("/v1/submissions", self._list)
        app.router.add_get("/v1/submissions/{id}", self._get)
        app.router.add_post("/v1/submissions/{id}/kill", self._kill)
        app.router.add_post("/v1/submissions/{id}/driver", self._driver_report)
        app.router.add_get("/health", self._health)
        add_openapi_route(app, batch_spec())
        return app

    async def _body(self, request: web.Request) -> Any:
        try:
            return orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return None

    async def _post(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        refused = self.validate(body)
        if refused is None:
            refused = self._authorize_user(request, body.get("user"))
        if refused is not None:
            status, why = refused
            log.warning("submission refused (%d): %s", status, why)
            return web.Response(status=status, text=why)
        return _json(await self.submit(body, identity(request).principal))

    def _authorize_user(self, request: web.Request, user: str | None) -> tuple[int, str] | None:
        """Security on: the submitter must itself be allowed ``run_tasks`` as the driver's
        `user` (the master checks the dispatcher's own principal, which may run as more)."""
        if self.security is None or not user:
            return None
        who = identity(request)
        if self.security.allows(who, Action.RUN_TASKS, user):
            return None
        return 403, f"principal '{who.principal or 'anonymous'}' may not run tasks as user '{user}'"

    def _may_kill(self, request: web.Request, sub: dict[str, Any]) -> bool:
        """Security on: the submitter, or a principal allowed ``kill_tasks`` of the
        submitter's jobs (the ACL object: the submitter's principal)."""
        if self.security is None:
            return True
        who = identity(request)
        owner = sub.get("principal")
        return (owner is not None and who.principal == owner) or self.security.allows(
            who, Action.KILL_TASKS, owner)

    async def _list(self, request: web.Request) -> web.Response:
        subs = sorted(self.subs.values(), key=lambda s: s["submitted"], reverse=True)
        return _json({"submissions": subs})

    async def _get(self, request: web.Request) -> web.Response:
        sub = self.subs.get(request.match_info["id"])
        if sub is None:
            return web.Response(status=404, text=f"no submission {request.match_info['id']}")
        return _json(sub)

    async def _kill(self, request: web.Request) -> web.Response:
        known = self.subs.get(request.match_info["id"])
        if known is not None and not self._may_kill(request, known):
            return web.Response(status=403, text=f"not allowed to kill {known['id']}")
        sub = await self.kill(request.match_info["id"])
        if sub is None:
            return web.Response(status=404, text=f"no submission {request.match_info['id']}")
        return _json(sub)

    async def _driver_report(self, request: web.Request) -> web.Response:
        sub = self.subs.get(request.match_info["id"])
        body = await self._body(request)
        if sub is None or not isinstance(body, dict):
            return web.Response(status=400, text="unknown submission or bad body")
        sub["driver_ui"] = str(body.get("ui_url", ""))
        sub["driver_framework_id"] = str(body.get("framework_id", ""))
        await self.save(sub)
        return _json(sub)

    async def _health(self, request: web.Request) -> web.Response:
        return _json({"name": self.name, "role": self.role, "pid": os.getpid(),
                      "master": self.master})  # fmt: skip


def _json(body: Any) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def start_api(d: Dispatcher, ip: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve `d`'s HTTP API on `ip`:`port` only (0: a free port; HTTPS when security is on);
    the runner and the port."""
    runner = web.AppRunner(d.app(), access_log=None)
    await runner.setup()
    tls = d.security.server_ssl if d.security is not None else None
    site = web.TCPSite(runner, ip, port, reuse_address=True, ssl_context=tls)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, int(bound)


def dispatcher_framework_info(d: Dispatcher, framework_id: str | None,
                              hostname: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The FrameworkInfo `d` subscribes with: its name and role, its API as ``webui_url``, the
    `hostname` it serves on (the DC/OS CLI's `dcos service` HOST column), checkpointing, and
    `framework_id` (the stored one: a restart fails over). Called by `serve`."""
    info = framework_info(d.name, roles=[d.role], webui_url=d.url + "/", checkpoint=True,
                          framework_id=framework_id, hostname=hostname)  # fmt: skip
    if d.security is not None:  # registered by its certificate; drivers without a user: nobody
        info.update(principal=d.security.name, user="nobody")
    return info


async def serve(master: str, work_dir: Path, port: int, ip: str, hostname: str,
                policy: ScriptPolicy | None = None, name: str = NAME, role: str = "*",
                security: SecurityContext | None = None) -> int:  # fmt: skip
    """Run the dispatcher until SIGTERM/SIGINT (failover: drivers keep running). Called by
    `main`."""
    work_dir.mkdir(parents=True, exist_ok=True)
    store = SQLiteStateStore(str(work_dir / "dispatcher.db"))
    d = Dispatcher(store, master, scripts_dir=work_dir / "scripts", policy=policy, name=name,
                   role=role, security=security)  # fmt: skip
    await d.load()
    runner, bound = await start_api(d, ip, port)
    d.url = base_url(hostname, bound, security)
    feed = None
    if security is not None:
        if security.reloader is not None:
            security.reloader.start()
        feed = PolicyFeed(security, lambda: [d.driver.master.url] if d.driver and d.driver.master else [],
                          aiohttp.ClientSession(**security.client_kwargs()))  # fmt: skip
        feed.start()
    log.info("dispatcher API on %s (bound to %s)", d.url, ip)
    saved = await store.get("/framework_id")
    info = dispatcher_framework_info(d, saved.value.decode() if saved is not None else None,
                                     hostname)  # fmt: skip
    d.driver = SchedulerDriver(d, info, master, failover_timeout=7 * 24 * 3600.0,
                               ssl=security.client_ssl if security is not None else None)  # fmt: skip
    await d.driver.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await d.driver.stop(failover=True)
    await runner.cleanup()
    await store.close()
    if feed is not None:
        await feed.stop()
        await feed.session.close()
    if security is not None and security.reloader is not None:
        await security.reloader.stop()
    return 0


def _driver_secret(ctx: SecurityContext | None) -> str | None:
    """The `DRIVER_PRINCIPAL`'s secret from credentials.json (None, with a warning, when
    security is on and it is missing: drivers then cannot register)."""
    if ctx is None:
        return None
    for entry in ctx.credentials.to_json().get("credentials", []):
        if entry.get("principal") == DRIVER_PRINCIPAL:
            return str(entry.get("secret"))
    log.warning("no %s principal in %s: job drivers will not be able to register",
                DRIVER_PRINCIPAL, ctx.dir.credentials)  # fmt: skip
    return None


def parser() -> flags.DaemonParser:
    """The dispatcher's flags (`dcos.common.flags`: each also ``DCOS_<FLAG>``)."""
    p = flags.DaemonParser("python -m frameworks.batch.cluster.dispatcher",
                           "dcos-py batch dispatcher (cluster-mode drivers)")
    p.shared("master", "port", "hostname", "log_level", "log_format", "log_file")
    p.flag("--ip", "--host", dest="ip", default=None, type=flags.ip_address,
           help="address the API binds (default: 127.0.0.1 when the master is on this "
           "machine, else this machine's address on the route to the master; never 0.0.0.0 "
           "unless given)")
    p.flag("--work-dir", default=os.path.expanduser("~/.dcos-py/batch-dispatcher"),
           help="directory of the submissions and shipped scripts (created if missing)")
    p.flag("--allow-scripts", default="",
           help="host scripts a submission may name by path: files or directories, separated "
           "by ':' (default: none; submissions ship their script)")
    p.flag("--framework-name", default=NAME,
           help="name it registers under (`dcos-py batch submit` looks for batch-dispatcher)")
    p.flag("--role", default="*",
           help="role it subscribes with; also its drivers' default spark.mesos.role")
    add_security_args(p)
    return p


def dispatcher_master(text: str) -> tuple[str, str]:
    """(the master the dispatcher registers with and hands its drivers, a host on the masters'
    network) for ``--master``: ``host:port`` for an address (``mesos://``, ``http(s)://``,
    ``host:port``, ``[v6]:port``), the ``zk://`` URL for ``zk://...`` or Spark's
    ``mesos://zk://...``. Raises ValueError for a bad one. Called by `main`."""
    target, host = master_target(text)
    return (target if is_zk_url(target) else parse_master(text).hostport), host


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not args.framework_name.strip():
        p.error("--framework-name must not be empty")
    why = role_error(args.role)
    if why is not None:
        p.error(f"--role: {why}")
    flags.setup_from(args)
    try:
        master, master_host = dispatcher_master(args.master)
    except ValueError as exc:
        p.error(f"--master: {exc}")
    ip = args.ip or route_to(master_host)
    hostname = args.hostname or (route_to(master_host) if ip in ("0.0.0.0", "::") else ip)
    work = Path(args.work_dir).expanduser().resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)
    policy = ScriptPolicy.parse(args.allow_scripts)
    try:
        security = context_from_args(args, "batch")
    except (OSError, ValueError) as exc:
        p.error(f"--security-dir: {exc}")
    return asyncio.run(serve(master, work, args.port, ip, hostname, policy,
                             name=args.framework_name.strip(), role=args.role, security=security))


if __name__ == "__main__":
    sys.exit(main())
