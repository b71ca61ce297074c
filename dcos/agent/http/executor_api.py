"""``POST /api/v1/executor``: the Mesos v1 executor HTTP API (JSON), served by the agent.

Registered by `dcos.agent.http.app.make_app` (`add_routes`). Calls (each names ``framework_id``
and ``executor_id``):

- ``SUBSCRIBE {"subscribe": {"unacknowledged_tasks", "unacknowledged_updates"}}``: 200 with a
  chunked RecordIO stream of JSON events that lasts as long as the executor's connection (a
  ``Connection: close`` request is fine): SUBSCRIBED first, then LAUNCH, LAUNCH_GROUP, KILL,
  ACKNOWLEDGED, MESSAGE, SHUTDOWN, ERROR and a HEARTBEAT every `HEARTBEAT_INTERVAL` seconds.
  A second SUBSCRIBE of the same executor replaces (closes) the first stream.
- ``UPDATE {"update": {"status": TaskStatus}}``: 202; forwarded to the master by the agent's
  status update manager with ``agent_id`` and ``executor_id`` added.
- ``MESSAGE {"message": {"data": base64}}``: 202; to the scheduler as a framework message.

Every call must come from an executor this agent launched, proven by the token it was given
in ``MESOS_EXECUTOR_AUTHENTICATION_TOKEN``, sent as ``Authorization: Bearer <token>`` (as
Mesos' executor libraries do); for a caller that sends no such header (pymesos cannot), the
token in the environment of the local process at the other end of the connection is taken
instead (`dcos.agent.executor_auth.peer_token`, looked up once per connection). A call for a
framework or executor the agent does not run is 400, without a token 401, with a wrong one
403 (`dcos.agent.core.executor_calls`); nothing is changed or checkpointed.

Bad calls get 400 with a plain-text message and change nothing; a body that is not JSON
gets 415. Calls that come while the agent is still recovering
from its checkpoint get 503 (the executor tries again). A bug in the agent while handling a call is logged with the call
and answered 500; the agent goes on. This module parses each call into a typed core event
(`dcos.agent.core.events`) and hands it to the shell's executor methods
(`AgentShell.executor_subscribe`, `executor_call`, `executor_stream_ended`); the decisions are
the core's (`dcos.agent.core.executor_calls`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import weakref
from typing import Any

from aiohttp import web

from dcos.agent.core.actions import Refuse
from dcos.agent.core.events import (
    ExecutorMessage,
    ExecutorStatus,
    ExecutorSubscribe,
    ExecutorUpdate,
)
from dcos.agent.executor_auth import bearer_token, peer_token
from dcos.agent.http.keys import AGENT_KEY
from dcos.agent.shell import AgentShell
from dcos.common.streams import set_nodelay
from dcos.protocol.codec import DecodeError, loads_json
from dcos.protocol.ids import ExecutorID, FrameworkID, TaskID, unwrap
from dcos.protocol.mesos import valid_status_uuid
from dcos.protocol.states import TaskState

log = logging.getLogger(__name__)

PATHS = ("/api/v1/executor", "/slave(1)/api/v1/executor")
HEARTBEAT_INTERVAL = 30.0
MAX_DEPTH = 32  # a TaskStatus or TaskInfo nests about 6 levels; msgpack packs at most 511

# the token found in the caller's environment, per connection (transport), so that a
# header-less executor's calls on a kept-alive connection cost one /proc lookup in all
_peer_tokens: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


class BadCall(ValueError):
    """A call that cannot be parsed (400, or the given status); the text says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _bad(message: str, status: int = 400) -> web.Response:
    return web.Response(status=status, text=message)


def _ids(body: dict[str, Any]) -> tuple[FrameworkID, ExecutorID]:
    fid, eid = body.get("framework_id"), body.get("executor_id")
    if not isinstance(fid, dict) or not isinstance(unwrap(fid), str) or not unwrap(fid):
        raise BadCall("expecting 'framework_id' ({\"value\": string})")
    if not isinstance(eid, dict) or not isinstance(unwrap(eid), str) or not unwrap(eid):
        raise BadCall("expecting 'executor_id' ({\"value\": string})")
    return FrameworkID(str(unwrap(fid))), ExecutorID(str(unwrap(eid)))


def parse_status(status: Any) -> ExecutorStatus:
    """An executor's TaskStatus, checked (raises `BadCall` naming what is wrong)."""
    if not isinstance(status, dict):
        raise BadCall("expecting 'update.status' (object)")
    tid = unwrap(status.get("task_id"))
    state = status.get("state")
    if not tid:
        raise BadCall("expecting 'update.status.task_id'")
    if not isinstance(state, str) or state not in TaskState.__members__ \
            or state == TaskState.TASK_STAGING:  # fmt: skip
        raise BadCall(f"invalid task state {state!r}")
    uuid = status.get("uuid")
    if not valid_status_uuid(uuid):
        raise BadCall("expecting 'update.status.uuid' (base64 of 16 bytes)")
    assert isinstance(uuid, str)
    return ExecutorStatus(TaskID(str(tid)), TaskState(state), uuid, status)


def _subscribe(body: dict[str, Any], fid: FrameworkID, eid: ExecutorID) -> ExecutorSubscribe:
    sub = body.get("subscribe") or {}
    if not isinstance(sub, dict):
        raise BadCall("expecting 'subscribe' (object)")
    for key in ("unacknowledged_tasks", "unacknowledged_updates"):
        items = sub.get(key)
        if items is not None and not (isinstance(items, list) and
                                      all(isinstance(i, dict) for i in items)):  # fmt: skip
            raise BadCall(f"expecting 'subscribe.{key}' (list of objects)")
    updates = []
    for u in sub.get("unacknowledged_updates") or []:
        try:
            updates.append(parse_status(u.get("status")))
        except BadCall as exc:
            log.info("dropping unacknowledged update from %s: %s", eid, exc)
    return ExecutorSubscribe(fid, eid, list(sub.get("unacknowledged_tasks") or []), updates)


def _too_deep(obj: Any, limit: int) -> bool:
    """True when `obj` nests lists/objects deeper than `limit` (checked without recursion)."""
    stack = [(obj, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            if depth >= limit:
                return True
            stack.extend((v, depth + 1) for v in item)
    return False


def parse_call(body: Any) -> ExecutorSubscribe | ExecutorUpdate | ExecutorMessage | None:
    """A call's typed form (None for a HEARTBEAT); raises `BadCall`."""
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise BadCall("expecting a JSON object with a 'type'")
    if _too_deep(body, MAX_DEPTH):  # what it carries goes on to the master and the checkpoint
        raise BadCall(f"the call nests objects or lists deeper than {MAX_DEPTH} levels")
    fid, eid = _ids(body)
    kind = body["type"]
    if kind == "SUBSCRIBE":
        return _subscribe(body, fid, eid)
    if kind == "UPDATE":
        update = body.get("update")
        if not isinstance(update, dict):
            raise BadCall("expecting 'update' (object)")
        return ExecutorUpdate(fid, eid, parse_status(update.get("status")))
    if kind == "MESSAGE":
        message = body.get("message")
        if not isinstance(message, dict):
            raise BadCall("expecting 'message' (object)")
        data = message.get("data")
        if not isinstance(data, str):
            raise BadCall("expecting 'message.data' (base64 string)")
        return ExecutorMessage(fid, eid, data)
    if kind == "HEARTBEAT":
        return None
    raise BadCall(f"unknown call type {kind!r}")


async def _caller_token(
    agent: AgentShell,
    request: web.Request,
    call: ExecutorSubscribe | ExecutorUpdate | ExecutorMessage,
) -> str | None:
    """The token the caller presents: its ``Authorization: Bearer`` header, else the one in
    its own environment when it is a local process and the call names a live executor that
    has a token (so that calls for unknown executors never cost a /proc lookup)."""
    token = bearer_token(request.headers.get("Authorization"))
    if token is not None:
        return token
    ex = agent.core.executors.get((call.framework_id, call.executor_id))
    transport = request.transport
    if ex is None or not ex.token_auth or ex.kind != "custom" or transport is None:
        return None
    try:
        cached = _peer_tokens.get(transport)
    except TypeError:  # a transport that cannot be weakly referenced: no cache
        cached = None
    if cached is not None:
        return cached
    sockname, peername = transport.get_extra_info("sockname"), transport.get_extra_info("peername")
    if not isinstance(peername, tuple) or not isinstance(sockname, tuple) \
            or peername[0] != sockname[0]:  # fmt: skip
        return None  # not from this host (a local caller connects from the address it calls)
    token = await asyncio.to_thread(peer_token, sockname, peername)
    if token is not None:
        try:
            _peer_tokens[transport] = token
        except TypeError:
            pass
    return token


async def handle(request: web.Request) -> web.StreamResponse:
    """The endpoint: decode, check, hand the call to the shell, answer."""
    agent = request.app[AGENT_KEY]
    ctype = request.headers.get("Content-Type", "application/json").split(";")[0].strip()
    if ctype.lower() != "application/json":
        return _bad(f"unsupported Content-Type {ctype!r}: expecting application/json", 415)
    try:
        body = loads_json(await request.read())
    except DecodeError as exc:
        return _bad(f"failed to parse the body as JSON: {exc}")
    try:
        call = parse_call(body)
    except BadCall as exc:
        return _bad(str(exc), exc.status)
    if not agent.recovered:
        return _bad("the agent is recovering; try again", 503)
    if call is None:
        return web.Response(status=202)  # HEARTBEAT
    call = dataclasses.replace(call, token=await _caller_token(agent, request, call))
    try:
        if isinstance(call, ExecutorSubscribe):
            return await _stream(agent, request, call)
        refused = agent.executor_call(call)
    except Exception:
        log.exception("agent bug while handling executor call %.500r", body)
        return _bad(f"internal error while handling {body['type']}", 500)
    return _refused(refused) if refused is not None else web.Response(status=202)


def _refused(refusal: Refuse) -> web.Response:
    """The answer to a call the core refused: 400, or 401 (with the scheme to use) / 403."""
    resp = _bad(refusal.reason, refusal.status)
    if refusal.status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="mesos-agent-executor"'
    return resp


async def _stream(agent: AgentShell, request: web.Request,
                  call: ExecutorSubscribe) -> web.StreamResponse:  # fmt: skip
    stream = agent.executor_subscribe(call)
    if isinstance(stream, Refuse):
        return _refused(stream)
    key = (call.framework_id, call.executor_id)
    resp = web.StreamResponse(status=200)
    resp.content_type = "application/json"
    resp.enable_chunked_encoding()
    set_nodelay(request)
    log.info("executor %s of framework %s subscribed", call.executor_id, call.framework_id)
    try:
        await resp.prepare(request)
        await stream.run(resp, HEARTBEAT_INTERVAL)
    finally:
        try:
            agent.executor_stream_ended(key, stream)
        except Exception:
            log.exception("agent bug while handling the end of %s's stream", call.executor_id)
    return resp


def add_routes(app: web.Application) -> None:
    for path in PATHS:
        app.router.add_post(path, handle)
