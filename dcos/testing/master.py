"""Test helpers for talking to a real master over loopback HTTP.

Used by the master's shell, restart and simulated-clock tests (and usable by anyone who
needs a master in-process): `master` starts one on a free port, `subscribe` / `call` speak
the scheduler API (`launch` accepts an offer with tasks, `command_task` builds one),
`agent_subscribe` / `agent_call` the internal agent channel (`send_status` forwards an
`executor_status` as the agent would), `Stream` reads a RecordIO event stream in the background.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aiohttp

from dcos.master.app import RunningMaster, start_master
from dcos.master.config import MasterConfig
from dcos.protocol import internal, recordio
from dcos.protocol.codec import MSGPACK, dumps_msgpack, loads_json, loads_msgpack
from dcos.protocol.ids import wrap
from dcos.protocol.resources import Resources

WAIT = 10.0


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


async def agent_subscribe(
    session: aiohttp.ClientSession,
    url: str,
    agent_id: str | None = None,
    tasks: Sequence[Any] = (),
    frameworks: Sequence[Any] = (),
    port: int = 5051,
) -> tuple[Stream, str]:
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
        f"{url}{internal.PATH}", data=dumps_msgpack(msg), headers={"Content-Type": MSGPACK}
    )
    assert resp.status == 200, await resp.text()
    stream = Stream(resp, loads_msgpack)
    ev = await stream.next()
    assert ev["type"] == internal.REGISTERED
    return stream, ev["agent_id"]


async def agent_call(session: aiohttp.ClientSession, url: str, msg: dict[str, Any]) -> int:
    async with session.post(
        f"{url}{internal.PATH}", data=dumps_msgpack(msg), headers={"Content-Type": MSGPACK}
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
