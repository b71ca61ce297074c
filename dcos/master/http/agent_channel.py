"""`POST /internal/agent`: the internal master <-> agent channel (msgpack), exactly as
`dcos.protocol.internal` specifies it.

SUBSCRIBE answers 200 with a chunked RecordIO stream of msgpack events (first REGISTERED),
400 for a malformed call, 403 ``{"message"}`` when the agent is refused; UPDATE, PONG,
MESSAGE and EXITED_EXECUTOR answer 202, or 403 when the call does not carry the agent's
session secret (``Dcos-Agent-Secret``; a re-registration of a known agent id needs it too).
With security on only an agent (a certificate of kind agent) gets past the 403.
Called by aiohttp for each request; parses the call
into a typed message (`dcos.protocol.internal.parse_agent_call`) and hands it to the shell
(`MasterShell.subscribe_agent` / `agent_call`).
"""

from __future__ import annotations

from aiohttp import web

from dcos.master.http import replies
from dcos.master.http.keys import MASTER
from dcos.master.http.secure import MAX_INTERNAL_BODY, SECURITY, read_body
from dcos.master.http.streams import EventStream, set_nodelay
from dcos.master.shell import MasterShell
from dcos.protocol.codec import MSGPACK, DecodeError, dumps_msgpack, loads
from dcos.protocol.internal import SECRET_HEADER, AgentError, AgentSubscribe, parse_agent_call


def _bad(message: str, status: int = 400) -> web.Response:
    return replies.text(message, status)


async def handle(request: web.Request) -> web.StreamResponse:
    shell = request.app[MASTER]
    sec = request.app[SECURITY]
    refused = sec.not_an_agent(request)
    if refused is not None:
        return refused
    try:
        body = await read_body(request, MAX_INTERNAL_BODY)
        msg = parse_agent_call(loads(body, request.headers.get("Content-Type", MSGPACK)))
    except (DecodeError, AgentError) as exc:
        return _bad(str(exc))
    secret = request.headers.get(SECRET_HEADER)
    if isinstance(msg, AgentSubscribe):
        return await _subscribe(shell, request, msg, secret)
    outcome = shell.agent_call(msg, secret)
    if outcome.status != 202:
        return _bad(outcome.message, outcome.status)
    return web.Response(status=202)


async def _subscribe(
    shell: MasterShell, request: web.Request, msg: AgentSubscribe, secret: str | None
) -> web.StreamResponse:
    stream = EventStream(dumps_msgpack)
    outcome = shell.subscribe_agent(msg, stream, secret, request.remote)
    if outcome.agent_id is None:
        return web.Response(
            status=403, body=dumps_msgpack({"message": outcome.error}), content_type=MSGPACK
        )
    aid = outcome.agent_id
    resp = web.StreamResponse(status=200)
    resp.content_type = MSGPACK
    resp.enable_chunked_encoding()
    set_nodelay(request)
    try:
        await resp.prepare(request)
        await stream.run(resp)
    finally:
        shell.agent_stream_ended(aid, stream)
    return resp
