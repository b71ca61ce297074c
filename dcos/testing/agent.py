"""Test helpers for the agent, shipped with dcos-py.

- `FakeMaster`: a tiny master speaking the internal msgpack channel (`dcos.protocol.internal`)
  on a loopback port, for tests that run a real `dcos.agent.agent.Agent` against it.
- Driving an `AgentCore` directly (sans-IO tests): `feed` takes a typed event or a master
  event as its wire map (parsed as the shell parses it) and returns the actions, without the
  bookkeeping ones (`UpdatesDue`, `CheckpointChanges`); `launched`, `exited`, `tick`,
  `update_call`, `executor_subscribe`, `executor_update` and `reattach` are short forms of the
  common events; `checkpointer(core, store)` gives a `Checkpointer` that knows every change
  the core reported through these helpers (call ``flush()`` to write them).
"""

from __future__ import annotations

import asyncio
import dataclasses
import weakref
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from dcos.agent.checkpoint import Checkpointer
from dcos.agent.checkpoint_store import CheckpointStore
from dcos.agent.containerizer import ContainerConfig, LaunchResult, Termination
from dcos.agent.core import Action, AgentCore, CheckpointChanges, Refuse, SendUpdates, UpdatesDue
from dcos.agent.core import events as ev
from dcos.agent.core.custom_executor import executor_token
from dcos.agent.http.executor_api import BadCall, parse_call
from dcos.agent.master_events import parse_master_event
from dcos.protocol import internal, recordio
from dcos.protocol.codec import MSGPACK, dumps_msgpack, loads_msgpack
from dcos.protocol.ids import ContainerID, ExecutorID, FrameworkID, wrap


class FakeMaster:
    """Accepts SUBSCRIBE (answers REGISTERED with a fixed agent id), records calls.

    `send(event)` pushes an event down the current stream; `auto_ack` acknowledges every
    update it receives. `restart()` drops every connection and listens again on the same port.
    """

    def __init__(self, agent_id: str = "agent-1", auto_ack: bool = True) -> None:
        self.agent_id = agent_id
        self.auto_ack = auto_ack
        self.subscribes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.pongs: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.update_calls: list[dict[str, Any]] = []
        self.refuse_next = False
        self.port = 0
        self._stream: asyncio.Queue[dict[str, Any] | None] | None = None
        self._runner: web.AppRunner | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(internal.PATH, self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._stream is not None:
            self._stream.put_nowait(None)
            self._stream = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def send(self, event: dict[str, Any]) -> None:
        assert self._stream is not None, "no agent subscribed"
        self._stream.put_nowait(event)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = loads_msgpack(await request.read())
        kind = body.get("type")
        if kind == internal.SUBSCRIBE:
            if self.refuse_next:
                self.refuse_next = False
                self.subscribes.put_nowait(body)
                return web.json_response({"message": "agent removed"}, status=403)
            return await self._subscribe(request, body)
        if kind == internal.UPDATE:
            self.update_calls.append(body)
            for u in body["updates"]:
                self.updates.put_nowait(u)
                if self.auto_ack and self._stream is not None:
                    s = u["status"]
                    self._stream.put_nowait(
                        {"type": internal.ACKNOWLEDGE, "framework_id": u["framework_id"],
                         "task_id": s["task_id"]["value"], "uuid": s["uuid"]}
                    )  # fmt: skip
        elif kind == internal.PONG:
            self.pongs.put_nowait(body)
        return web.Response(status=202)

    async def _subscribe(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        self.subscribes.put_nowait(body)
        resp = web.StreamResponse(status=200, headers={"Content-Type": MSGPACK})
        await resp.prepare(request)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        if self._stream is not None:
            self._stream.put_nowait(None)
        self._stream = queue
        queue.put_nowait(
            {"type": internal.REGISTERED, "agent_id": self.agent_id, "master_id": "m-1",
             "ping_interval": 15}
        )  # fmt: skip
        while True:
            event = await queue.get()
            if event is None:
                break
            await resp.write(recordio.encode(dumps_msgpack(event)))
        return resp


# -- driving an AgentCore ------------------------------------------------------------------

_changes: weakref.WeakKeyDictionary[AgentCore, list[CheckpointChanges]] = (
    weakref.WeakKeyDictionary()
)  # reported before the core had a checkpointer
_checkpointers: weakref.WeakKeyDictionary[AgentCore, Checkpointer] = weakref.WeakKeyDictionary()


def feed(core: AgentCore, event: ev.Event | dict[str, Any], now: float) -> list[Action]:
    """Hand `event` to the core (a master wire map is parsed first; an unknown one gives
    []); the actions, less `UpdatesDue` and `CheckpointChanges` (kept for `checkpointer`)."""
    if isinstance(event, dict):
        parsed = parse_master_event(event)
        if parsed is None:
            return []
        event = parsed
    out: list[Action] = []
    for a in core.handle(event, now):
        if isinstance(a, CheckpointChanges):
            cpr = _checkpointers.get(core)
            if cpr is not None:
                cpr.note(a)
            else:
                _changes.setdefault(core, []).append(a)
        elif not isinstance(a, UpdatesDue):
            out.append(a)
    return out


def launched(core: AgentCore, cid: ContainerID, result: LaunchResult, now: float) -> list[Action]:
    return feed(core, ev.ContainerLaunched(cid, result), now)


def exited(core: AgentCore, cid: ContainerID, term: Termination, now: float) -> list[Action]:
    return feed(core, ev.ContainerExited(cid, term), now)


def tick(core: AgentCore, now: float) -> list[Action]:
    return feed(core, ev.Tick(), now)


def update_call(core: AgentCore, now: float) -> dict[str, Any] | None:
    """The UPDATE call the agent would send now (None when nothing is due)."""
    for a in feed(core, ev.SendDueUpdates(), now):
        if isinstance(a, SendUpdates):
            return a.body
    return None


AUTO_TOKEN = "<the executor's own token>"


def executor_token_of(core: AgentCore, fid: FrameworkID, eid: ExecutorID) -> str | None:
    """The token the agent gave executor `eid` of `fid` in its environment (None if the core
    does not run it), as a real executor would present it."""
    ex = core.executors.get((fid, eid))
    if ex is None:
        return None
    return executor_token(core.site.executor_secret, fid, eid, ex.container_id)


def _executor_call(core: AgentCore, body: dict[str, Any], now: float,
                   token: str | None = AUTO_TOKEN) -> tuple[str, list[Action]]:  # fmt: skip
    try:
        call = parse_call(body)
    except BadCall as exc:
        return str(exc), []
    if call is None:
        return "", []
    if token == AUTO_TOKEN:
        token = executor_token_of(core, call.framework_id, call.executor_id)
    actions = feed(core, dataclasses.replace(call, token=token), now)
    refused = [a.reason for a in actions if isinstance(a, Refuse)]
    return (refused[0], []) if refused else ("", actions)


def executor_subscribe(core: AgentCore, fid: FrameworkID, eid: ExecutorID,
                       subscribe: dict[str, Any], now: float,
                       token: str | None = AUTO_TOKEN) -> tuple[str, list[Action]]:  # fmt: skip
    """SUBSCRIBE as the executor API parses it: (error or "", actions); with the executor's
    own token unless `token` says otherwise (None: no token)."""
    return _executor_call(core, {"type": "SUBSCRIBE", "framework_id": wrap(fid),
                                 "executor_id": wrap(eid), "subscribe": subscribe}, now,
                          token)  # fmt: skip


def executor_update(core: AgentCore, fid: FrameworkID, eid: ExecutorID, status: Any,
                    now: float, token: str | None = AUTO_TOKEN) -> tuple[str, list[Action]]:  # fmt: skip
    """UPDATE as the executor API parses it: (error or "", actions); token as for SUBSCRIBE."""
    return _executor_call(core, {"type": "UPDATE", "framework_id": wrap(fid),
                                 "executor_id": wrap(eid), "update": {"status": status}}, now,
                          token)  # fmt: skip


def reattach(core: AgentCore, expected: Mapping[ContainerID, ContainerConfig],
             outcomes: Mapping[ContainerID, Termination | None] | None,
             now: float) -> list[Action]:  # fmt: skip
    return feed(core, ev.Reattach(expected, outcomes), now)


def checkpointer(core: AgentCore, store: CheckpointStore) -> Checkpointer:
    """A `Checkpointer` that has noted every change `feed` saw the core report, and notes
    those to come (as the shell's does); the same one again for the same directory."""
    cpr = _checkpointers.get(core)
    if cpr is not None and cpr.store.root == store.root:
        return cpr
    cpr = Checkpointer(core, store)
    for changes in _changes.pop(core, []):
        cpr.note(changes)
    _checkpointers[core] = cpr
    return cpr
