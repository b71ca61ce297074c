"""Helpers to drive `MasterCore` directly with plain `now` values (no I/O, no sleeps)."""

from __future__ import annotations

from typing import Any

from dcos.allocator import HierarchicalAllocator
from dcos.master.core import MasterCore, MasterSettings, ToAgent, ToFramework, parse_call
from dcos.protocol.ids import wrap
from dcos.protocol.resources import Resources
from dcos.state.leader import MasterInfo

T0 = 1_000.0
AGENT_RES = "cpus:4;mem:1024;disk:1000;ports:[31000-31010]"


class Harness:
    def __init__(self, **settings: Any) -> None:
        info = MasterInfo("m1", "127.0.0.1", 5050, "localhost", "1.11.0")
        self.core = MasterCore(MasterSettings(**settings), HierarchicalAllocator(seed=1), info, T0)
        self.actions: list[Any] = []
        self.streams: dict[str, str] = {}
        self._n = 0

    def run(self, acts: list[Any]) -> list[Any]:
        self.actions.extend(acts)
        return acts

    def agent(
        self,
        now: float = T0,
        res: str = AGENT_RES,
        port: int = 5051,
        agent_id: str | None = None,
        tasks: list[Any] = (),
        frameworks: list[Any] = (),
    ) -> str:
        self._n += 1
        info = {
            "id": agent_id,
            "hostname": f"h{port}",
            "ip": "127.0.0.1",
            "port": port,
            "resources": Resources.parse(res).to_dict(),
            "attributes": {"rack": "r1"},
            "version": "0.1.0",
            "capabilities": [],
        }
        out, acts = self.core.agent_subscribe(
            {
                "type": "SUBSCRIBE",
                "agent": info,
                "tasks": list(tasks),
                "frameworks": list(frameworks),
            },
            token=("tok", self._n),
            now=now,
        )
        self.run(acts)
        assert out.error is None, out.error
        return out.agent_id

    def subscribe(
        self,
        name: str = "fw",
        caps: tuple[str, ...] = (),
        now: float = T0,
        framework_id: str | None = None,
        failover_timeout: float = 60,
    ) -> str:
        self._n += 1
        info = {
            "user": "u",
            "name": name,
            "failover_timeout": failover_timeout,
            "capabilities": [{"type": c} for c in caps],
        }
        body: dict[str, Any] = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        if framework_id:
            body["framework_id"] = wrap(framework_id)
        call = parse_call(body)
        sid = f"s{self._n}"
        out, acts = self.core.subscribe(call.framework_id, call.body["framework_info"], sid, now)
        self.run(acts)
        assert out.error is None, out.error
        self.streams[out.framework_id] = sid
        return out.framework_id

    def call(self, fid: str, body: dict[str, Any], now: float = T0) -> Any:
        call = parse_call({"framework_id": wrap(fid), **body})
        res, acts = self.core.scheduler_call(call, self.streams.get(fid), now)
        self.run(acts)
        return res

    def allocate(self, now: float = T0) -> list[dict[str, Any]]:
        acts = self.run(self.core.allocate(now))
        return [
            o
            for a in acts
            if isinstance(a, ToFramework) and a.event["type"] == "OFFERS"
            for o in a.event["offers"]["offers"]
        ]

    def events(
        self, fid: str, etype: str | None = None, clear: bool = True
    ) -> list[dict[str, Any]]:
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
    ) -> Any:
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

    def update(
        self,
        aid: str,
        fid: str,
        tid: str,
        state: str,
        now: float = T0,
        uuid: str = "AAAAAAAAAAAAAAAAAAAAAA==",
    ) -> None:
        status = {
            "task_id": wrap(tid),
            "state": state,
            "source": "SOURCE_EXECUTOR",
            "timestamp": now,
            "uuid": uuid,
            "agent_id": wrap(aid),
        }
        self.run(self.core.agent_updates(aid, [{"framework_id": fid, "status": status}], now))
