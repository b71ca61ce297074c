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

Bad calls get 400 with a plain-text message and change nothing; a body that is not JSON
gets 415. Calls that come while the agent is still recovering from its checkpoint get 503
(the executor tries again). A bug in the agent while handling a call is logged with the call
and answered 500; the agent goes on. This module parses each call into a typed core event
(`dcos.agent.core.events`) and hands it to the shell's executor methods
(`AgentShell.executor_subscribe`, `executor_call`, `executor_stream_ended`); the decisions are
the core's (`dcos.agent.core.executor_calls`).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from dcos.agent.core.events import (
    ExecutorMessage,
    ExecutorStatus,
    ExecutorSubscribe,
    ExecutorUpdate,
)
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


def parse_call(body: Any) -> ExecutorSubscribe | ExecutorUpdate | ExecutorMessage | None:
    """A call's typed form (None for a HEARTBEAT); raises `BadCall`."""
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise BadCall("expecting a JSON object with a 'type'")
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


async def handle(request: web.Request) -> web.StreamResponse:
    """The endpoint: decode, check, hand the call to the shell, answer."""
    agent = request.app[AGENT_KEY]
    ctype = request.headers.get("Content-Type", "application/json").split(";")[0].strip()
    if ctype != "application/json":
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
    try:
        if isinstance(call, ExecutorSubscribe):
            return await _stream(agent, request, call)
        error = agent.executor_call(call) if call is not None else ""
    except Exception:
        log.exception("agent bug while handling executor call %.500r", body)
        return _bad(f"internal error while handling {body['type']}", 500)
    return _bad(error) if error else web.Response(status=202)


async def _stream(agent: AgentShell, request: web.Request,
                  call: ExecutorSubscribe) -> web.StreamResponse:  # fmt: skip
    stream = agent.executor_subscribe(call)
    if isinstance(stream, str):
        return _bad(stream)
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
