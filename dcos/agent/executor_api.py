"""``POST /api/v1/executor``: the Mesos v1 executor HTTP API (JSON), served by the agent.

Registered by `dcos.agent.http.make_app` (`add_routes`). Calls (each names ``framework_id``
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
and answered 500; the agent goes on. The decisions are the agent core's (`dcos.agent.executors.ExecutorsMixin`); this
module holds the streams (`ExecutorStreams`, owned by the `Agent` shell).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dcos.agent.executors import ExecutorKey
from dcos.common.streams import RecordIOStream, set_nodelay
from dcos.protocol.codec import DecodeError, dumps_json, loads_json
from dcos.protocol.ids import ExecutorID, FrameworkID, unwrap

if TYPE_CHECKING:
    from dcos.agent.agent import Agent

log = logging.getLogger("dcos.agent.executor_api")

PATHS = ("/api/v1/executor", "/slave(1)/api/v1/executor")
HEARTBEAT_INTERVAL = 30.0


class ExecutorStream(RecordIOStream):
    """One executor's event stream of JSON records: `send` buffers (sync), `run` writes
    until closed, with a HEARTBEAT event whenever `heartbeat` seconds pass in silence."""

    def __init__(self) -> None:
        super().__init__(dumps_json, log, "executor stream", {"type": "HEARTBEAT"})


class ExecutorStreams:
    """The open stream of each subscribed executor (the shell applies `ToExecutor` here)."""

    def __init__(self) -> None:
        self._streams: dict[ExecutorKey, ExecutorStream] = {}

    def attach(self, key: ExecutorKey, stream: ExecutorStream) -> None:
        old = self._streams.get(key)
        if old is not None:
            old.close()
        self._streams[key] = stream

    def detach(self, key: ExecutorKey, stream: ExecutorStream) -> bool:
        """Forget `stream` if it is still the executor's; True when it was."""
        if self._streams.get(key) is stream:
            del self._streams[key]
            return True
        return False

    def send(self, key: ExecutorKey, event: dict[str, Any]) -> None:
        stream = self._streams.get(key)
        if stream is None:
            log.debug("no stream for executor %s; %s dropped", key, event.get("type"))
            return
        stream.send(event)

    def close(self, key: ExecutorKey) -> None:
        stream = self._streams.pop(key, None)
        if stream is not None:
            stream.close()

    def close_all(self) -> None:
        for key in list(self._streams):
            self.close(key)

    def __contains__(self, key: object) -> bool:
        return key in self._streams


def _bad(message: str, status: int = 400) -> web.Response:
    return web.Response(status=status, text=message)


def _ids(body: dict[str, Any]) -> tuple[FrameworkID, ExecutorID] | str:
    fid, eid = body.get("framework_id"), body.get("executor_id")
    if not isinstance(fid, dict) or not isinstance(unwrap(fid), str) or not unwrap(fid):
        return "expecting 'framework_id' ({\"value\": string})"
    if not isinstance(eid, dict) or not isinstance(unwrap(eid), str) or not unwrap(eid):
        return "expecting 'executor_id' ({\"value\": string})"
    return FrameworkID(str(unwrap(fid))), ExecutorID(str(unwrap(eid)))


async def handle(request: web.Request) -> web.StreamResponse:
    """The endpoint: decode, check, hand the call to the core, answer."""
    from dcos.agent.http import AGENT_KEY

    agent: Agent = request.app[AGENT_KEY]  # type: ignore[assignment]
    ctype = request.headers.get("Content-Type", "application/json").split(";")[0].strip()
    if ctype != "application/json":
        return _bad(f"unsupported Content-Type {ctype!r}: expecting application/json", 415)
    try:
        body = loads_json(await request.read())
    except DecodeError as exc:
        return _bad(f"failed to parse the body as JSON: {exc}")
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        return _bad("expecting a JSON object with a 'type'")
    ids = _ids(body)
    if isinstance(ids, str):
        return _bad(ids)
    if not getattr(agent, "recovered", True):
        return _bad("the agent is recovering; try again", 503)
    try:
        return await _dispatch(agent, request, body, *ids)
    except Exception:
        log.exception("agent bug while handling executor call %.500r", body)
        return _bad(f"internal error while handling {body['type']}", 500)


def _subscribe_error(sub: Any) -> str:
    if not isinstance(sub, dict):
        return "expecting 'subscribe' (object)"
    for key in ("unacknowledged_tasks", "unacknowledged_updates"):
        items = sub.get(key)
        if items is not None and not (isinstance(items, list) and
                                      all(isinstance(i, dict) for i in items)):  # fmt: skip
            return f"expecting 'subscribe.{key}' (list of objects)"
    return ""


async def _dispatch(agent: Agent, request: web.Request, body: dict[str, Any],
                    fid: FrameworkID, eid: ExecutorID) -> web.StreamResponse:  # fmt: skip
    core, now, kind = agent.core, agent.clock.time(), body["type"]
    if kind == "SUBSCRIBE":
        sub = body.get("subscribe") or {}
        error = _subscribe_error(sub)
        if error:
            return _bad(error)
        return await _subscribe(agent, request, fid, eid, sub)
    if kind == "UPDATE":
        update = body.get("update")
        if not isinstance(update, dict):
            return _bad("expecting 'update' (object)")
        error, actions = core.executor_update(fid, eid, update.get("status"), now)
    elif kind == "MESSAGE":
        message = body.get("message")
        if not isinstance(message, dict):
            return _bad("expecting 'message' (object)")
        error, actions = core.executor_message(fid, eid, message.get("data"))
    elif kind == "HEARTBEAT":
        error, actions = "", []
    else:
        return _bad(f"unknown call type {kind!r}")
    if error:
        return _bad(error)
    agent.apply_actions(actions)
    return web.Response(status=202)


async def _subscribe(agent: Agent, request: web.Request, fid: FrameworkID, eid: ExecutorID,
                     sub: dict[str, Any]) -> web.StreamResponse:  # fmt: skip
    error, actions = agent.core.executor_subscribe(fid, eid, sub, agent.clock.time())
    if error:
        return _bad(error)
    key = (fid, eid)
    stream = ExecutorStream()
    agent.executor_streams.attach(key, stream)
    agent.apply_actions(actions)
    resp = web.StreamResponse(status=200)
    resp.content_type = "application/json"
    resp.enable_chunked_encoding()
    set_nodelay(request)
    log.info("executor %s of framework %s subscribed", eid, fid)
    try:
        await resp.prepare(request)
        await stream.run(resp, HEARTBEAT_INTERVAL)
    finally:
        if agent.executor_streams.detach(key, stream):
            try:
                agent.apply_actions(agent.core.executor_disconnected(key, agent.clock.time()))
            except Exception:
                log.exception("agent bug while handling the end of %s's stream", eid)
    return resp


def executors_json(
    core: Any, fw: Any, agent_id: str | None, task_json: Callable[[Any, str | None], Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The framework's custom and default executors as agent /state shows them:
    (executors, completed_executors), each with its tasks, queued and completed tasks."""
    live: list[dict[str, Any]] = []
    done: list[dict[str, Any]] = []
    records = [(ex, False) for ex in core.executors.values() if ex.framework_id == fw.id]
    records += [(ex, True) for ex in core.completed_executors if ex.framework_id == fw.id]
    for ex, completed in records:
        mine = [r for r in fw.tasks.values() if r.executor_id == ex.executor_id]
        running = [r for r in mine if r.launched or ex.kind == "default"]
        queued = [r for r in mine if r not in running]
        finished = [r for r in fw.completed if r.executor_id == ex.executor_id]
        name = ex.info.get("name") or (
            "Default Executor" if ex.kind == "default" else f"Executor {ex.executor_id}"
        )
        (done if completed else live).append({
            "id": ex.executor_id,
            "name": name,
            "source": ex.info.get("source", ""),
            "container": ex.container_id,
            "directory": ex.sandbox,
            "framework_id": ex.framework_id,
            "type": "DEFAULT" if ex.kind == "default" else "CUSTOM",
            "state": ex.state,
            "resources": ex.resources.to_summary(),
            "tasks": [task_json(r, agent_id) for r in running],
            "queued_tasks": [task_json(r, agent_id) for r in queued],
            "completed_tasks": [task_json(r, agent_id) for r in finished],
        })  # fmt: skip
    return live, done


def add_routes(app: web.Application) -> None:
    for path in PATHS:
        app.router.add_post(path, handle)
