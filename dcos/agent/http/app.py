"""The agent's aiohttp application: every route, and the server `Agent.start` runs.

`start_http` is called by `dcos.agent.agent.Agent` (when ``config.serve_http``). Routes:
``/state`` (`state`), ``/metrics/snapshot`` (`state`), ``/metrics`` and
``/metrics/prometheus`` (`prometheus`), ``/monitor/statistics`` (`monitor`), ``/files/*``
(`files`), ``/api/v1/executor`` (`executor_api`), and here ``/health``, ``/version`` and
``GET /debug/stimuli?limit=N`` (the core's last events and the actions they gave).
Request bodies are limited to `MAX_BODY` (413). With security on the server speaks TLS and
every route but ``/health``, ``/openapi.json`` and the executor API needs an authenticated
caller (`dcos.agent.security`; 401 in plain text).
"""

from __future__ import annotations

from aiohttp import web

from dcos.agent.http import executor_api, monitor, prometheus
from dcos.agent.http.files import add_routes as add_files_routes
from dcos.agent.http.files import core_latest_run
from dcos.agent.http.keys import AGENT_KEY
from dcos.agent.http.openapi import agent_spec
from dcos.agent.http.state import json_response, metrics_snapshot, state, task_users
from dcos.agent.shell import AgentShell
from dcos.common.body_limit import body_limit_middleware
from dcos.common.metrics import add_prometheus_routes
from dcos.common.openapi import add_openapi_route
from dcos.common.version import version_info
from dcos.protocol.mesos import MESOS_VERSION
from dcos.security.acls import Action
from dcos.security.http import identity


async def _health(request: web.Request) -> web.Response:
    return web.Response(status=200)


async def _version(request: web.Request) -> web.Response:
    """Mesos' ``/version``: the API level in `version`, dcos-py's own version and build
    (git sha, commit date) from `dcos.common.version`."""
    return json_response(version_info().mesos_json(MESOS_VERSION))


async def _stimuli(request: web.Request) -> web.Response:
    """``GET /debug/stimuli?limit=N``: the newest N (default 100) core events and actions;
    with security on, only to a caller who may view every framework and task here (403)."""
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        return web.Response(status=400, text="limit must be an integer")
    agent = request.app[AGENT_KEY]
    if agent.security is not None:  # it shows every framework's tasks: only to who may see all
        who = identity(request)
        users = task_users(agent)
        acls = agent.security.ctx.acls
        hidden = [u for u in {str(fw.info.get("user") or "") for fw in agent.core.frameworks.values()}
                  if not acls.allows(Action.VIEW_FRAMEWORKS, who.principal, u)]
        hidden += [u for u in set(users.values())
                   if not acls.allows(Action.VIEW_TASKS, who.principal, u)]
        if hidden:
            return web.Response(status=403, text=f"principal '{who.principal or 'anonymous'}' "
                                f"may not view the tasks of user '{sorted(hidden)[0]}'\n")
    log = agent.stimuli
    return json_response({"capacity": log.capacity, "recorded": log.recorded,
                          "entries": log.entries(limit)})  # fmt: skip


MAX_BODY = 1024 * 1024  # larger request bodies get 413 (plain text)


def _text_error(status: int, message: str) -> web.Response:
    """A Mesos-style plain-text error (the body-limit middleware's 413)."""
    return web.Response(status=status, text=message)


def make_app(agent: AgentShell) -> web.Application:
    """The app; with security on (`dcos.agent.security`) behind its authentication
    middleware, the files API checking ``access_sandboxes``."""
    security = agent.security
    middlewares = [body_limit_middleware(_text_error)]  # oversized bodies refused unread
    if security is not None:
        middlewares.append(security.middleware())
    app = web.Application(client_max_size=MAX_BODY, middlewares=middlewares)
    app[AGENT_KEY] = agent
    for path in ("/state", "/state.json", "/slave(1)/state", "/slave(1)/state.json"):
        app.router.add_get(path, state)
    for path in ("/health", "/slave(1)/health"):
        app.router.add_get(path, _health)
    app.router.add_get("/version", _version)
    app.router.add_get("/metrics/snapshot", metrics_snapshot)
    add_prometheus_routes(app, prometheus.collector(agent), paths=("/metrics", "/metrics/prometheus"))
    for path in ("/monitor/statistics", "/monitor/statistics.json"):
        app.router.add_get(path, monitor.handle)
    app.router.add_get("/debug/stimuli", _stimuli)
    add_files_routes(app, agent.core.work_dir, core_latest_run(agent.core), agent.config.log_file,
                     security=security)
    executor_api.add_routes(app)
    add_openapi_route(app, agent_spec())
    return app


async def start_http(agent: AgentShell, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Bind and serve; returns the runner (call ``cleanup()`` to stop) and the bound port."""
    runner = web.AppRunner(make_app(agent), access_log=None)
    await runner.setup()
    tls = agent.security.server_ssl if agent.security is not None else None
    site = web.TCPSite(runner, host, port, reuse_address=True, ssl_context=tls)
    await site.start()
    bound = port
    for addr in runner.addresses:
        if isinstance(addr, tuple) and len(addr) >= 2:
            bound = int(addr[1])
            break
    return runner, bound
