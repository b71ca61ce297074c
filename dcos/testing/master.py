"""Test helpers for the master: drive its sans-IO core directly, or talk to a real master
over loopback HTTP.

- `CoreHarness` drives `MasterCore` with plain `now` values (no I/O, no sleeps): it builds
  typed inputs from wire-shaped dicts exactly as the HTTP handlers do (`parse_call`,
  `parse_agent_call`) and keeps every action the core returned (`events`, `statuses`,
  `agent_events` read them). Used by the master core's unit tests.
- Over HTTP (the master's shell, restart and simulated-clock tests, and anyone who needs a
  master in-process): `master` starts one on a free port, `subscribe` / `call` speak the
  scheduler API (`launch` accepts an offer with tasks, `command_task` builds one),
  `agent_subscribe` / `agent_call` the internal agent channel (`send_status` forwards an
  `executor_status` as the agent would), `Stream` reads a RecordIO event stream in the
  background.

Agent session secrets (`dcos.protocol.internal`): both sides keep the secret of each agent
they registered (`CoreHarness.secrets`, and `AGENT_SECRETS` for the HTTP helpers, by agent
id) and send it with that agent's later calls and re-registrations unless a test passes
its own (`secret=`; `NO_SECRET` sends none).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aiohttp

from dcos.allocator import HierarchicalAllocator
from dcos.master.app import RunningMaster, start_master
from dcos.master.config import MasterConfig
from dcos.master.core import (
    Action,
    AgentOutcome,
    CallOutcome,
    MasterCore,
    MasterSettings,
    Subscribe,
    SubscribeOutcome,
    ToAgent,
    ToFramework,
    parse_call,
)
from dcos.protocol import internal, recordio
from dcos.protocol.codec import MSGPACK, dumps_msgpack, loads_json, loads_msgpack
from dcos.protocol.ids import AgentID, FrameworkID, wrap
from dcos.protocol.internal import AgentSubscribe, Pong, parse_agent_call
from dcos.protocol.resources import Resources
from dcos.state.leader import MasterInfo

WAIT = 10.0
T0 = 1_000.0
AGENT_RES = "cpus:4;mem:1024;disk:1000;ports:[31000-31010]"


async def master(tmp_path, **kw: Any) -> RunningMaster:
    cfg = MasterConfig(port=0, work_dir=str(tmp_path / "master"), allocation_interval=0.05, **kw)
    return await start_master(cfg)


class Stream:
    """A RecordIO event stream read in the background."""

    def __init__(self, resp: aiohttp.ClientResponse, decode) -> None:
        self.resp = resp
        self.events: asyncio.Queue[Any] = asyncio.Queue()
        self._decode = decode
        self.ended = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        dec = recordio.Decoder()
        try:
            async for chunk in self.resp.content.iter_any():
                for rec in dec.feed(chunk):
                    self.events.put_nowait(self._decode(rec))
        except (aiohttp.ClientError, asyncio.CancelledError, RuntimeError):
            pass
        finally:
            self.ended.set()

    async def next(self, etype: str | None = None) -> dict[str, Any]:
        while True:
            ev = await asyncio.wait_for(self.events.get(), WAIT)
            if etype is None or ev["type"] == etype:
                return ev

    async def close(self) -> None:
        self._task.cancel()
        self.resp.close()


async def subscribe(
    session: aiohttp.ClientSession,
    url: str,
    name: str = "fw",
    framework_id: str | None = None,
    caps: Sequence[str] = (),
) -> tuple[Stream, str, str]:
    body: dict[str, Any] = {
        "type": "SUBSCRIBE",
        "subscribe": {
            "framework_info": {
                "user": "u",
                "name": name,
                "failover_timeout": 100,
                "capabilities": [{"type": c} for c in caps],
            }
        },
    }
    if framework_id:
        body["framework_id"] = wrap(framework_id)
    resp = await session.post(
        f"{url}/api/v1/scheduler",
        json=body,
        headers={"Accept": "application/json", "Connection": "close"},
    )
    assert resp.status == 200, await resp.text()
    stream = Stream(resp, loads_json)
    ev = await stream.next()
    assert ev["type"] == "SUBSCRIBED", ev
    return stream, ev["subscribed"]["framework_id"]["value"], resp.headers["Mesos-Stream-Id"]


async def call(
    session: aiohttp.ClientSession, url: str, fid: str, sid: str | None, body: dict[str, Any]
) -> aiohttp.ClientResponse:
    headers = {"Mesos-Stream-Id": sid} if sid else {}
    async with session.post(
        f"{url}/api/v1/scheduler", json={"framework_id": wrap(fid), **body}, headers=headers
    ) as r:
        await r.read()
        return r


def command_task(
    task_id: str, agent_id: str, command: str = "true", cpus: float = 1
) -> dict[str, Any]:
    """A TaskInfo running `command` with `cpus` on `agent_id` (for `launch`)."""
    return {
        "name": "t",
        "task_id": wrap(task_id),
        "agent_id": wrap(agent_id),
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}}],
        "command": {"value": command},
    }


async def launch(
    session: aiohttp.ClientSession, url: str, fid: str, sid: str | None, offer_id: Any,
    tasks: Sequence[dict[str, Any]],
) -> aiohttp.ClientResponse:
    """ACCEPT the offer `offer_id` (its JSON id) with one LAUNCH of `tasks`."""
    return await call(session, url, fid, sid, {
        "type": "ACCEPT",
        "accept": {
            "offer_ids": [offer_id],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": list(tasks)}}],
        },
    })  # fmt: skip


# agent id -> the session secret its last REGISTERED carried (the HTTP helpers' memory)
AGENT_SECRETS: dict[str, str] = {}
NO_SECRET = ""  # pass as `secret=` to send a call without the header


def _secret_headers(agent_id: Any, secret: str | None) -> dict[str, str]:
    headers = {"Content-Type": MSGPACK}
    value = AGENT_SECRETS.get(agent_id) if secret is None and isinstance(agent_id, str) else secret
    if value:
        headers[internal.SECRET_HEADER] = value
    return headers


async def agent_subscribe(
    session: aiohttp.ClientSession,
    url: str,
    agent_id: str | None = None,
    tasks: Sequence[Any] = (),
    frameworks: Sequence[Any] = (),
    port: int = 5051,
    secret: str | None = None,
) -> tuple[Stream, str]:
    """Register (or re-register `agent_id`, with its remembered secret unless `secret` is
    given) an agent ``localhost:<port>``; its event stream (REGISTERED read) and id."""
    info: dict[str, Any] = {
        "id": agent_id,
        "hostname": "localhost",
        "ip": "127.0.0.1",
        "port": port,
        "resources": Resources.parse("cpus:2;mem:512;disk:100;ports:[31000-31009]").to_dict(),
        "attributes": {"zone": "a"},
        "version": "0.1.0",
        "capabilities": [],
    }
    msg = {
        "type": internal.SUBSCRIBE,
        "agent": info,
        "tasks": list(tasks),
        "frameworks": list(frameworks),
        "unacked": [],
    }
    resp = await session.post(
        f"{url}{internal.PATH}", data=dumps_msgpack(msg), headers=_secret_headers(agent_id, secret)
    )
    assert resp.status == 200, await resp.text()
    stream = Stream(resp, loads_msgpack)
    ev = await stream.next()
    assert ev["type"] == internal.REGISTERED
    AGENT_SECRETS[ev["agent_id"]] = ev["secret"]
    return stream, ev["agent_id"]


async def agent_call(
    session: aiohttp.ClientSession, url: str, msg: dict[str, Any], secret: str | None = None
) -> int:
    """Post an agent call (with the remembered secret of its ``agent_id`` unless `secret`
    is given); the answer's HTTP status."""
    headers = _secret_headers(msg.get("agent_id"), secret)
    async with session.post(
        f"{url}{internal.PATH}", data=dumps_msgpack(msg), headers=headers
    ) as r:
        await r.read()
        return r.status


def executor_status(
    task_id: str, agent_id: str, state: str = "TASK_RUNNING",
    uuid: str = "AAAAAAAAAAAAAAAAAAAAAA==",
) -> dict[str, Any]:
    """A TaskStatus as an executor on `agent_id` reports it (for `send_status`)."""
    return {
        "task_id": wrap(task_id),
        "state": state,
        "source": "SOURCE_EXECUTOR",
        "timestamp": 1.0,
        "uuid": uuid,
        "agent_id": wrap(agent_id),
    }


async def send_status(
    session: aiohttp.ClientSession, url: str, agent_id: str, fid: str, status: dict[str, Any]
) -> int:
    """Forward `status` of framework `fid` on the agent channel as agent `agent_id` does;
    the answer's HTTP status."""
    return await agent_call(session, url, {
        "type": internal.UPDATE,
        "agent_id": agent_id,
        "updates": [{"framework_id": fid, "status": status}],
    })  # fmt: skip


# -- the sans-IO core, driven directly ------------------------------------------------------


def agent_info(
    port: int = 5051,
    res: str = AGENT_RES,
    agent_id: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An AgentInfo map as an agent sends it in SUBSCRIBE (host ``h<port>``)."""
    return {
        "id": agent_id,
        "hostname": f"h{port}",
        "ip": "127.0.0.1",
        "port": port,
        "resources": Resources.parse(res).to_dict(),
        "attributes": {"rack": "r1"} if attributes is None else attributes,
        "version": "0.1.0",
        "capabilities": [],
    }


class CoreHarness:
    """A `MasterCore` (HierarchicalAllocator with seed 1, master id ``m1``) and every action
    it returned so far (`actions`)."""

    def __init__(self, **settings: Any) -> None:
        info = MasterInfo("m1", "127.0.0.1", 5050, "localhost", "1.11.0")
        self.core = MasterCore(MasterSettings(**settings), HierarchicalAllocator(seed=1), info, T0)
        self.actions: list[Action] = []
        self.streams: dict[str, str] = {}
        self.secrets: dict[str, str] = {}  # agent id -> its session secret (REGISTERED)
        self.last_outcome: CallOutcome | None = None  # of the last `agent_call`
        self._n = 0

    def run(self, acts: list[Action]) -> list[Action]:
        """Keep `acts` (the result of a core call) and return them; remember the session
        secret of each REGISTERED."""
        self.actions.extend(acts)
        for a in acts:
            if isinstance(a, ToAgent) and a.event["type"] == internal.REGISTERED:
                self.secrets[a.agent_id] = a.event["secret"]
        return acts

    def agent_subscribe(
        self, info: dict[str, Any], tasks: Sequence[Any] = (), frameworks: Sequence[Any] = (),
        now: float = T0, token: object = None, secret: str | None = None,
        peer: str | None = None,
    ) -> AgentOutcome:
        """An internal SUBSCRIBE from wire-shaped parts, parsed as the agent channel does;
        a re-registration carries the agent's secret unless `secret` is given."""
        self._n += 1
        msg = parse_agent_call({
            "type": internal.SUBSCRIBE, "agent": info, "tasks": list(tasks),
            "frameworks": list(frameworks), "unacked": [],
        })  # fmt: skip
        assert isinstance(msg, AgentSubscribe)
        if secret is None and info.get("id"):
            secret = self.secrets.get(info["id"])
        out, acts = self.core.agent_subscribe(
            msg, token or ("tok", self._n), now, secret=secret or None, peer=peer
        )
        self.run(acts)
        return out

    def agent(
        self,
        now: float = T0,
        res: str = AGENT_RES,
        port: int = 5051,
        agent_id: str | None = None,
        tasks: Sequence[Any] = (),
        frameworks: Sequence[Any] = (),
    ) -> AgentID:
        """Register (or re-register) an agent; its id."""
        out = self.agent_subscribe(agent_info(port, res, agent_id), tasks, frameworks, now)
        assert out.agent_id is not None, out.error
        return out.agent_id

    def subscribe_call(
        self, body: dict[str, Any], now: float = T0, stream_id: str | None = None
    ) -> SubscribeOutcome:
        """A scheduler SUBSCRIBE call (wire-shaped `body`) on a new stream."""
        self._n += 1
        call = parse_call(body)
        assert isinstance(call, Subscribe)
        sid = stream_id or f"s{self._n}"
        out, acts = self.core.subscribe(call, sid, now)
        self.run(acts)
        if out.framework_id is not None:
            self.streams[out.framework_id] = sid
        return out

    def subscribe(
        self,
        name: str = "fw",
        caps: tuple[str, ...] = (),
        now: float = T0,
        framework_id: str | None = None,
        failover_timeout: float = 60,
    ) -> FrameworkID:
        """Subscribe a framework; its id."""
        info = {
            "user": "u",
            "name": name,
            "failover_timeout": failover_timeout,
            "capabilities": [{"type": c} for c in caps],
        }
        body: dict[str, Any] = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        if framework_id:
            body["framework_id"] = wrap(framework_id)
        out = self.subscribe_call(body, now)
        assert out.framework_id is not None, out.error
        return out.framework_id

    def call(self, fid: str, body: dict[str, Any], now: float = T0) -> CallOutcome:
        """Any scheduler call but SUBSCRIBE, on the framework's current stream."""
        call = parse_call({"framework_id": wrap(fid), **body})
        assert not isinstance(call, Subscribe)
        res, acts = self.core.scheduler_call(call, self.streams.get(fid), now)
        self.run(acts)
        return res

    def allocate(self, now: float = T0) -> list[dict[str, Any]]:
        """One allocation cycle; the offers it made (JSON)."""
        acts = self.run(self.core.allocate(now))
        return [
            o
            for a in acts
            if isinstance(a, ToFramework) and a.event["type"] == "OFFERS"
            for o in a.event["offers"]["offers"]
        ]

    def tick(self, now: float) -> list[Action]:
        return self.run(self.core.tick(now))

    def events(
        self, fid: str, etype: str | None = None, clear: bool = True
    ) -> list[dict[str, Any]]:
        """Scheduler events sent to `fid` (of type `etype`); forgotten unless `clear` is
        False."""
        evs = [
            a.event
            for a in self.actions
            if isinstance(a, ToFramework)
            and a.framework_id == fid
            and (etype is None or a.event["type"] == etype)
        ]
        if clear:
            self.actions = [
                a
                for a in self.actions
                if not (isinstance(a, ToFramework) and a.framework_id == fid)
            ]
        return evs

    def statuses(self, fid: str) -> list[dict[str, Any]]:
        return [e["update"]["status"] for e in self.events(fid, "UPDATE")]

    def agent_events(self, aid: str, etype: str | None = None) -> list[dict[str, Any]]:
        """Internal events sent to agent `aid` (of type `etype`); forgotten once read."""
        evs = [
            a.event
            for a in self.actions
            if isinstance(a, ToAgent)
            and a.agent_id == aid
            and (etype is None or a.event["type"] == etype)
        ]
        self.actions = [
            a for a in self.actions if not (isinstance(a, ToAgent) and a.agent_id == aid)
        ]
        return evs

    def launch(
        self,
        fid: str,
        offer: dict[str, Any],
        task_ids: list[str],
        res: str = "cpus:1;mem:128",
        now: float = T0,
        refuse: float | None = None,
    ) -> CallOutcome:
        """ACCEPT `offer` with one LAUNCH of command tasks `task_ids`, each using `res`."""
        infos = [
            {
                "name": t,
                "task_id": wrap(t),
                "agent_id": offer["agent_id"],
                "resources": Resources.parse(res).to_mesos(),
                "command": {"value": "true"},
            }
            for t in task_ids
        ]
        body: dict[str, Any] = {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": infos}}],
        }
        if refuse is not None:
            body["filters"] = {"refuse_seconds": refuse}
        return self.call(fid, {"type": "ACCEPT", "accept": body}, now)

    def agent_call(
        self, msg: dict[str, Any], now: float = T0, secret: str | None = None
    ) -> list[Action]:
        """An agent -> master call (UPDATE, PONG, MESSAGE, EXITED_EXECUTOR), wire-shaped,
        with the agent's secret unless `secret` is given (`last_outcome` keeps the answer)."""
        parsed = parse_agent_call(msg)
        assert not isinstance(parsed, AgentSubscribe)
        if secret is None:
            secret = self.secrets.get(parsed.agent_id)
        self.last_outcome, acts = self.core.agent_call(parsed, now, secret or None)
        return self.run(acts)

    def pong(self, aid: str, now: float = T0) -> list[Action]:
        out, acts = self.core.agent_call(Pong(AgentID(aid)), now, self.secrets.get(aid))
        return self.run(acts)

    def update(
        self,
        aid: str,
        fid: str,
        tid: str,
        state: str,
        now: float = T0,
        uuid: str = "AAAAAAAAAAAAAAAAAAAAAA==",
    ) -> None:
        """A status update of task `tid` from agent `aid`, as its executor reports it."""
        status = executor_status(tid, aid, state, uuid)
        status["timestamp"] = now
        self.agent_call({
            "type": internal.UPDATE, "agent_id": aid,
            "updates": [{"framework_id": fid, "status": status}],
        }, now)  # fmt: skip
