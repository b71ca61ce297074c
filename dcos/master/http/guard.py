"""Endpoints only the leading master answers, as Mesos does: on any other master they answer
``307 Temporary Redirect`` with ``Location: //<leader hostname>:<port><same path and query>``
(the protocol-relative form of Mesos' ``Master::Http::redirect``; the hostname is the
leader's MasterInfo hostname, its ip unless ``--hostname`` says otherwise), or ``503`` with
a plain-text message while no leader is known.

Called by `dcos.master.http.routes` and `operator_api.add_routes`, which wrap the scheduler
API, the internal agent channel, the v1 operator API and the state reads in `leader_only`.
The guard checks before the handler runs and again if the shell raises `NotLeading` while
the handler runs (the master stepped down between reading the body and handing it over).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from dcos.master.http import replies
from dcos.master.http.keys import MASTER
from dcos.master.registry_queue import NotLeading
from dcos.master.shell import MasterShell
from dcos.state import MasterInfo

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def leader_only(handler: Handler) -> Handler:
    """`handler` on the leading master; a redirect to the leader (or 503) elsewhere."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        shell = request.app[MASTER]
        if shell.core is None:
            return not_leading(request, shell)
        try:
            return await handler(request)
        except NotLeading:
            return not_leading(request, shell)

    guarded.__name__ = getattr(handler, "__name__", "guarded")
    guarded.__doc__ = handler.__doc__
    return guarded


def base_url(leader: MasterInfo) -> str:
    """``//host:port`` of `leader` (IPv6 literals bracketed)."""
    host = leader.hostname
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"//{host}:{leader.port}"


def is_self(shell: MasterShell, leader: MasterInfo) -> bool:
    """Whether `leader` is this master (elected, and not leading yet or any more)."""
    cfg = shell.config
    return leader.ip == cfg.ip and leader.port == cfg.port


def not_leading(request: web.Request, shell: MasterShell) -> web.Response:
    """307 to the leader with the same path and query, or 503 saying why there is none."""
    leader = shell.leader()
    here = f"{shell.config.ip}:{shell.config.port}"
    if leader is None:
        return replies.text(
            f"No leading master: this master ({here}) is not the leader and no leader is "
            "elected at the moment; retry shortly",
            503,
        )
    if is_self(shell, leader):
        return replies.text(
            f"No leading master at the moment: this master ({here}) holds the lowest election "
            "znode but does not serve as leader (recovering the registry, or stepping down); "
            "retry shortly",
            503,
        )
    return web.Response(status=307, headers={"Location": base_url(leader) + request.raw_path})


async def redirect(request: web.Request) -> web.Response:
    """``GET /master/redirect`` (and ``/redirect``) on any master: 307 to the leader's base
    URL ``//host:port`` (Mesos' form, no path: no redirect loop), 503 when none is known."""
    leader = request.app[MASTER].leader()
    if leader is None:
        return replies.text("No leading master: no leader is elected at the moment", 503)
    return web.Response(status=307, headers={"Location": base_url(leader)})
