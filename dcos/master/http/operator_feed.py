"""The v1 operator API's ``SUBSCRIBE``: the live event stream of the leading master, in
Mesos' master v1 ``Event`` JSON (what the web UI, through the gateway's ``/mesos/api/v1``,
and any Mesos operator client follow).

`POST /api/v1` (and ``/api/v1/operator``, ``/master/api/v1``) with ``{"type":
"SUBSCRIBE"}`` answers 200, ``Content-Type: application/json``, chunked RecordIO
(``<length>\\n<json>``); `operator_api.operator_v1` hands the call to `subscribe` here. The
first record is ``SUBSCRIBED`` with ``get_state`` (the same JSON as GET_STATE) and
``heartbeat_interval_seconds`` (the master's ``--heartbeat-interval``, 15 s by default);
then ``TASK_ADDED {task}``, ``TASK_UPDATED {framework_id, status, state}``, ``AGENT_ADDED
{agent}``, ``AGENT_REMOVED {agent_id}``, ``FRAMEWORK_ADDED / FRAMEWORK_UPDATED
{framework}``, ``FRAMEWORK_REMOVED {framework_info}``, and a ``HEARTBEAT`` whenever an
interval passes with nothing else to send. Objects are rendered by the GET_STATE builders
(`state_json.v1_task`, `v1_agent`, `v1_framework`); a TASK_UPDATED's status always carries
``task_id``, ``agent_id``, ``state`` and ``timestamp``.

Where the events come from: the core makes `Observed` actions (`dcos.master.core.observed`)
only while `MasterShell.observe_operators` says someone subscribes; the shell hands each to
`OperatorFeed.publish`, which renders and encodes it once and queues it on every stream
whose snapshot does not already show it (`Observed.seq` against `OperatorStream.since`).
A subscriber that leaves more than `OperatorStream.limit` bytes unread is dropped (its
connection closed, a warning logged). When this master stops leading every stream is
closed (`close_all`, called by `MasterShell.step_down`): the subscriber re-subscribes to
the new leader.

With security on (`dcos.master.http.secure`) a subscriber's snapshot and events show only
the frameworks and tasks it may view (``view_frameworks`` / ``view_tasks``), and a
principal has at most ``--max-streams-per-principal`` streams open (429 past it).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from dcos.master.authz import Visibility
from dcos.master.core import Observed
from dcos.master.core.observed import (
    AgentAdded,
    AgentRemoved,
    FrameworkAdded,
    FrameworkRemoved,
    FrameworkUpdated,
    ObservedEvent,
    TaskAdded,
    TaskUpdated,
)
from dcos.master.http import replies
from dcos.master.http import state_json as sj
from dcos.master.http.secure import SECURITY, ReadScope
from dcos.master.http.streams import OPERATOR_QUEUE_BYTES, OperatorStream, set_nodelay
from dcos.master.shell import MasterShell, MasterView
from dcos.protocol import recordio
from dcos.protocol.codec import dumps_json
from dcos.protocol.ids import wrap

log = logging.getLogger(__name__)

FEED: web.AppKey[OperatorFeed] = web.AppKey("operator_feed")


def render(view: MasterView, event: ObservedEvent) -> dict[str, Any]:
    """One observed event as Mesos' master v1 ``Event`` JSON."""
    match event:
        case TaskAdded(task=task):
            return {"type": "TASK_ADDED", "task_added": {"task": sj.v1_task(task)}}
        case TaskUpdated(task=task, status=status, state=state):
            full = {**status, "task_id": wrap(task.task_id), "state": state}
            full.setdefault("agent_id", wrap(task.agent_id))
            full.setdefault("timestamp", view.now)
            return {"type": "TASK_UPDATED", "task_updated": {
                "framework_id": wrap(task.framework_id), "status": full, "state": state,
            }}  # fmt: skip
        case AgentAdded(agent=agent):
            return {"type": "AGENT_ADDED", "agent_added": {"agent": sj.v1_agent(view, agent)}}
        case AgentRemoved(agent_id=agent_id):
            return {"type": "AGENT_REMOVED", "agent_removed": {"agent_id": wrap(agent_id)}}
        case FrameworkAdded(framework=fw):
            return {
                "type": "FRAMEWORK_ADDED",
                "framework_added": {"framework": sj.v1_framework(fw)},
            }
        case FrameworkUpdated(framework=fw):
            return {
                "type": "FRAMEWORK_UPDATED",
                "framework_updated": {"framework": sj.v1_framework(fw)},
            }
        case FrameworkRemoved(info=info):
            return {"type": "FRAMEWORK_REMOVED", "framework_removed": {"framework_info": info}}
    raise TypeError(f"not an observed event: {event!r}")


def _record(event: dict[str, Any]) -> bytes:
    return recordio.encode(dumps_json(event))


class OperatorFeed:
    """The operator subscribers of one master (made by `operator_api.add_routes`, which
    sets it as the shell's `observer`)."""

    def __init__(self, shell: MasterShell, limit: int = OPERATOR_QUEUE_BYTES) -> None:
        self.shell = shell
        self.limit = limit
        self.streams: list[OperatorStream] = []
        shell.observer = self

    def subscribe(self, scope: ReadScope | None = None) -> OperatorStream:
        """A new subscriber: its stream with the SUBSCRIBED snapshot queued; `scope` (security
        on) limits it to the frameworks and tasks the subscriber may see. Raises
        `NotLeading` while this master does not lead."""
        shell = self.shell
        since = shell.observe_operators(True)
        try:
            view = shell.view()
            state = sj.get_state(view if scope is None else scope.view(view))
        except BaseException:
            if not self.streams:
                shell.observe_operators(False)
            raise
        stream = OperatorStream(since, self.limit)
        stream.visibility = scope.visibility if scope is not None else None
        subscribed = {
            "get_state": state,
            "heartbeat_interval_seconds": shell.config.heartbeat_interval,
        }
        stream.push(_record({"type": "SUBSCRIBED", "subscribed": subscribed}), counted=False)
        self.streams.append(stream)
        return stream

    def ended(self, stream: OperatorStream) -> None:
        """The subscriber's stream ended (closed by either side, or dropped)."""
        if stream in self.streams:
            self.streams.remove(stream)
        log.info("operator subscriber %s: stream ended", stream.peer)
        if not self.streams and self.shell.leading:
            self.shell.observe_operators(False)

    def publish(self, action: Observed) -> None:
        """Called by the shell for each `Observed` action it carries out: render and
        encode once, queue on every stream that does not show it yet."""
        seq = action.seq
        streams = [s for s in self.streams if s.since < seq]
        if not streams:
            return
        record = _record(render(self.shell.view(), action.event))
        for s in streams:
            if s.visibility is not None and not self._shows(s.visibility, action.event):
                continue
            if not s.push(record):
                log.warning("operator subscriber %s dropped: %s", s.peer, s.dropped)
                self.streams.remove(s)
        if not self.streams:
            self.shell.observe_operators(False)

    def _shows(self, vis: Visibility, event: ObservedEvent) -> bool:
        """Whether a subscriber that sees `vis` gets `event` (agents: always)."""
        match event:
            case TaskAdded(task=task) | TaskUpdated(task=task):
                core = self.shell.core
                fw = None
                if core is not None:
                    fid = task.framework_id
                    fw = core.frameworks.get(fid) or core.completed_frameworks.get(fid)
                info = fw.info if fw is not None else {}
                return vis.framework(info) and vis.task(task, info)
            case FrameworkAdded(framework=fw) | FrameworkUpdated(framework=fw):
                return vis.framework(fw.info)
            case FrameworkRemoved(info=info):
                return vis.framework(info)
        return True

    def close_all(self, reason: str) -> None:
        """End every stream (this master stops leading, or shuts down)."""
        streams, self.streams = self.streams, []
        if streams:
            log.info("closing %d operator subscriber streams: %s", len(streams), reason)
        for s in streams:
            s.close()


def accepts_json(accept: str) -> bool:
    """Whether an ``Accept`` header admits JSON (absent, ``*/*``, ``application/*`` or
    ``application/json``, with q > 0)."""
    if not accept.strip():
        return True
    for part in accept.split(","):
        media, _, params = part.partition(";")
        if media.strip().lower() not in ("application/json", "application/*", "*/*"):
            continue
        q = "1"
        for p in params.split(";"):
            name, _, value = p.partition("=")
            if name.strip().lower() == "q":
                q = value.strip()
        try:
            if float(q) > 0:
                return True
        except ValueError:
            continue
    return False


async def subscribe(request: web.Request) -> web.StreamResponse:
    """``SUBSCRIBE`` (called by `operator_api.operator_v1`): stream until the subscriber
    leaves, is dropped, or this master stops leading."""
    feed = request.app[FEED]
    sec = request.app[SECURITY]
    key, refused = sec.open_stream(request)
    if refused is not None:
        return refused
    try:
        return await _follow(request, feed, sec.read_scope(request))
    finally:
        sec.close_stream(key)


async def _follow(
    request: web.Request, feed: OperatorFeed, scope: ReadScope | None
) -> web.StreamResponse:
    stream = feed.subscribe(scope)  # NotLeading: the guard answers 307 / 503
    stream.peer = request.remote or "?"
    transport = request.transport
    if transport is not None:
        stream.abort = transport.abort
    resp = web.StreamResponse(status=200)
    resp.content_type = "application/json"
    resp.enable_chunked_encoding()
    set_nodelay(request)
    log.info("operator subscriber %s subscribed", stream.peer)
    try:
        await resp.prepare(request)
        await stream.run(resp, heartbeat=feed.shell.config.heartbeat_interval)
    finally:
        feed.ended(stream)
    return resp


def not_acceptable(accept: str) -> web.Response:
    """406 for an ``Accept`` header without JSON (no protobuf here)."""
    return replies.text(
        f"Unsupported 'Accept' header '{accept}': this master answers 'application/json' only",
        406,
    )
