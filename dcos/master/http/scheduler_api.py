"""`POST /api/v1/scheduler`: the Mesos v1 scheduler HTTP API (JSON).

SUBSCRIBE answers 200 with a chunked RecordIO stream and a ``Mesos-Stream-Id`` header;
every other call answers 202 with an empty body, or 400 (malformed, plain-text message)
/ 403 (framework not subscribed). Called by aiohttp for each request; hands validated
calls to the master core through the shell (`dcos.master.app.MasterShell`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from dcos.master.core import CallError, parse_call
from dcos.master.http import MASTER
from dcos.master.http.streams import EventStream, set_nodelay
from dcos.protocol.codec import DecodeError, dumps_json, loads_json
from dcos.protocol.ids import new_stream_id

if TYPE_CHECKING:
    from dcos.master.app import MasterShell

PATH = "/api/v1/scheduler"


def _bad(message: str, status: int = 400) -> web.Response:
    return web.Response(status=status, text=message)


async def handle(request: web.Request) -> web.StreamResponse:
    shell: MasterShell = request.app[MASTER]
    ctype = request.headers.get("Content-Type", "application/json")
    if "json" not in ctype:
        return _bad(f"Unsupported Content-Type '{ctype}'; expecting 'application/json'", 415)
    try:
        call = parse_call(loads_json(await request.read()))
    except (DecodeError, CallError) as exc:
        return _bad(f"Failed to validate scheduler::Call: {exc}")
    if call.type == "SUBSCRIBE":
        return await _subscribe(shell, request, call.framework_id, call.body["framework_info"])
    outcome, actions = shell.core.scheduler_call(
        call, request.headers.get("Mesos-Stream-Id"), shell.now()
    )
    shell.dispatch(actions)
    if outcome.status != 202:
        return _bad(outcome.message, outcome.status)
    return web.Response(status=202)


async def _subscribe(
    shell: MasterShell, request: web.Request, framework_id: str | None, info: dict
) -> web.StreamResponse:
    stream_id = new_stream_id()
    stream = EventStream(dumps_json)
    outcome, actions = shell.core.subscribe(framework_id, info, stream_id, shell.now())
    resp = web.StreamResponse(status=200, headers={"Mesos-Stream-Id": stream_id})
    resp.content_type = "application/json"
    resp.enable_chunked_encoding()
    if outcome.framework_id is None:
        stream.send({"type": "ERROR", "error": {"message": outcome.error}})
        stream.close()
        await resp.prepare(request)
        await stream.run(resp)
        return resp
    fid = outcome.framework_id
    shell.attach_framework(fid, stream)
    shell.dispatch(actions)
    set_nodelay(request)
    try:
        await resp.prepare(request)
        await stream.run(resp)
    finally:
        shell.detach_framework(fid, stream, stream_id)
    return resp
