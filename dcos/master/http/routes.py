"""Every route of the master's HTTP side. Called once by `dcos.master.app.create_master`."""

from __future__ import annotations

import logging
from types import ModuleType

from aiohttp import web

from dcos.common.body_limit import body_limit_middleware
from dcos.common.metrics import add_prometheus_routes
from dcos.common.openapi import add_openapi_route
from dcos.master.http import (
    agent_channel,
    files,
    operator_api,
    prometheus,
    replies,
    scheduler_api,
    secure,
)
from dcos.master.http.guard import leader_only
from dcos.master.http.keys import MASTER
from dcos.master.http.openapi import master_spec
from dcos.master.shell import MasterShell
from dcos.protocol import internal

log = logging.getLogger(__name__)


def _iam_module() -> ModuleType | None:
    """`dcos.master.http.iam` (the IAM and secrets routes), or None where it is missing."""
    try:
        from dcos.master.http import iam
    except ImportError as exc:
        log.warning("IAM routes not available: %s", exc)
        return None
    return iam


def add_routes(app: web.Application, shell: MasterShell) -> None:
    """Put `shell` under `MASTER` and route the scheduler API, the agent channel, the
    operator endpoints, the Prometheus metrics (``/metrics``, ``/metrics/prometheus``) and
    the files API for the master's log (``/files/*``, path ``/master/log``). With security
    on (`MasterShell.security`): the authentication middleware (`secure.install`) and the
    IAM / secrets routes (`dcos.master.http.iam`)."""
    app[MASTER] = shell
    # oversized bodies refused unread, before authentication (the agent channel reads its own)
    app.middlewares.append(body_limit_middleware(lambda status, message: replies.text(message, status),
                                                 exempt=(internal.PATH,)))
    iam = _iam_module() if shell.security is not None else None
    secure.install(app, shell.config, shell.security, iam)
    # looked up at call time: the control-plane benchmark wraps these two handlers first
    # both answer on the leader only (307 to it, or 503, elsewhere: `guard`)
    app.router.add_post(scheduler_api.PATH, leader_only(scheduler_api.handle))
    app.router.add_post("/master" + scheduler_api.PATH, leader_only(scheduler_api.handle))
    app.router.add_post(internal.PATH, leader_only(agent_channel.handle))
    operator_api.add_routes(app)
    files.add_routes(app, shell.config.log_file)
    add_openapi_route(app, master_spec())
    add_prometheus_routes(
        app, lambda: prometheus.collect(shell), paths=("/metrics", "/metrics/prometheus")
    )
    if iam is not None:
        iam.add_routes(app, shell)
