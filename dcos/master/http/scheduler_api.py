"""`POST /api/v1/scheduler`: the Mesos v1 scheduler HTTP API (JSON).

SUBSCRIBE answers 200 with a chunked RecordIO stream and a ``Mesos-Stream-Id`` header;
every other call answers 202 with an empty body, or 400 (malformed, plain-text message)
/ 403 (framework not subscribed) / 429 (``Retry-After``: the framework passed its call
rate, or the caller has too many streams open). With security on (`secure`) the caller is
authenticated and `dcos.master.authz` decides: a SUBSCRIBE or a call with another
principal's framework id, or a role it may not register, is a 403. Called by aiohttp for each request; parses the call into
a typed one (`dcos.master.core.calls.parse_call`) and hands it to the shell
(`MasterShell.subscribe_framework` / `scheduler_call`).
"""

from __future__ import annotations

from aiohttp import web

from dcos.master.core import CallError, MasterCore, Subscribe, parse_call
from dcos.master.core.calls import Acknowledge
from dcos.master.http import replies
from dcos.master.http.keys import MASTER
from dcos.master.http.secure import SECURITY
from dcos.master.http.streams import EventStream, set_nodelay
from dcos.master.registry_queue import NotLeading
from dcos.master.shell import MasterShell
from dcos.protocol.codec import DecodeError, dumps_json, loads_json
from dcos.protocol.ids import new_stream_id
from dcos.security.http import identity

PATH = "/api/v1/scheduler"


def _bad(message: str, status: int = 400) -> web.Response:
    return replies.text(message, status)


async def handle(request: web.Request) -> web.StreamResponse:
    shell = request.app[MASTER]
    sec = request.app[SECURITY]
    ctype = request.headers.get("Content-Type", "application/json")
    if "json" not in ctype:
        return _bad(f"Unsupported Content-Type '{ctype}'; expecting 'application/json'", 415)
    try:
        call = parse_call(loads_json(await request.read()))
    except (DecodeError, CallError) as exc:
        return _bad(f"Failed to validate scheduler::Call: {exc}")
    if isinstance(call, Subscribe):
        limited = sec.rate_limited(f"subscribe:{sec.stream_key(request)}")
        if limited is not None:
            return limited
        if sec.authz is not None:
            call, denied = sec.authz.subscribe(identity(request), call, _core(shell))
            if denied is not None:
                return _bad(denied.message, denied.status)
        return await _subscribe(shell, request, call)
    if not isinstance(call, Acknowledge):  # acks answer the master's own updates
        limited = sec.rate_limited(call.framework_id)
        if limited is not None:
            return limited
    if sec.authz is not None:
        denied = sec.authz.call(identity(request), call, _core(shell))
        if denied is not None:
            return _bad(denied.message, denied.status)
    outcome = shell.scheduler_call(call, request.headers.get("Mesos-Stream-Id"))
    if outcome.status != 202:
        return _bad(outcome.message, outcome.status)
    return web.Response(status=202)


def _core(shell: MasterShell) -> MasterCore:
    """The core to authorize against (`NotLeading`, answered by the guard, when none)."""
    if shell.core is None:
        raise NotLeading
    return shell.core


async def _subscribe(
    shell: MasterShell, request: web.Request, call: Subscribe
) -> web.StreamResponse:
    sec = request.app[SECURITY]
    key, refused = sec.open_stream(request)
    if refused is not None:
        return refused
    try:
        return await _stream(shell, request, call)
    finally:
        sec.close_stream(key)


async def _stream(
    shell: MasterShell, request: web.Request, call: Subscribe
) -> web.StreamResponse:
    stream_id = new_stream_id()
    stream = EventStream(dumps_json)
    outcome = shell.subscribe_framework(call, stream, stream_id)
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
    set_nodelay(request)
    try:
        await resp.prepare(request)
        await stream.run(resp)
    finally:
        shell.framework_stream_ended(fid, stream, stream_id)
    return resp
