"""`POST /internal/agent`: the internal master <-> agent channel (msgpack), exactly as
`dcos.protocol.internal` specifies it.

SUBSCRIBE answers 200 with a chunked RecordIO stream of msgpack events (first REGISTERED),
400 for a malformed call, 403 ``{"message"}`` when the agent is refused; UPDATE, PONG,
MESSAGE and EXITED_EXECUTOR answer 202.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from dcos.master.core import AgentError
from dcos.master.http import MASTER
from dcos.master.http.streams import EventStream, set_nodelay
from dcos.protocol import internal
from dcos.protocol.codec import MSGPACK, DecodeError, dumps_msgpack, loads

if TYPE_CHECKING:
    from dcos.master.app import MasterShell

ACCEPTED = web.Response(status=202)


def _bad(message: str, status: int = 400) -> web.Response:
    return web.Response(status=status, text=message)


async def handle(request: web.Request) -> web.StreamResponse:
    shell: MasterShell = request.app[MASTER]
    try:
        msg = loads(await request.read(), request.headers.get("Content-Type", MSGPACK))
    except DecodeError as exc:
        return _bad(str(exc))
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        return _bad("expecting a map with a 'type'")
    mtype = msg["type"]
    if mtype == internal.SUBSCRIBE:
        return await _subscribe(shell, request, msg)
    agent_id = msg.get("agent_id")
    if not isinstance(agent_id, str):
        return _bad("expecting 'agent_id' (string)")
    core, now = shell.core, shell.now()
    if mtype == internal.UPDATE:
        updates = msg.get("updates")
        if not isinstance(updates, list):
            return _bad("expecting 'updates' (list)")
        shell.dispatch(core.agent_updates(agent_id, updates, now))
    elif mtype == internal.PONG:
        core.agent_seen(agent_id, now)
    elif mtype == internal.MESSAGE:
        shell.dispatch(core.agent_message(agent_id, msg, now))
    elif mtype == internal.EXITED_EXECUTOR:
        shell.dispatch(core.agent_exited_executor(agent_id, msg, now))
    else:
        return _bad(f"unknown call type '{mtype}'")
    return web.Response(status=202)


async def _subscribe(
    shell: MasterShell, request: web.Request, msg: dict[str, Any]
) -> web.StreamResponse:
    stream = EventStream(dumps_msgpack)
    try:
        outcome, actions = shell.core.agent_subscribe(msg, stream, shell.now())
    except AgentError as exc:
        return _bad(str(exc))
    if outcome.agent_id is None:
        return web.Response(
            status=403, body=dumps_msgpack({"message": outcome.error}), content_type=MSGPACK
        )
    aid = outcome.agent_id
    shell.attach_agent(aid, stream)
    shell.dispatch(actions)
    resp = web.StreamResponse(status=200)
    resp.content_type = MSGPACK
    resp.enable_chunked_encoding()
    set_nodelay(request)
    try:
        await resp.prepare(request)
        await stream.run(resp)
    finally:
        shell.detach_agent(aid, stream)
    return resp
