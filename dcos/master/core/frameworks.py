"""Framework lifecycle in the master core: subscribe, failover, disconnect, teardown.

Called through the shell (`MasterShell.subscribe_framework` -> `subscribe`,
`framework_stream_ended` -> `framework_disconnected`), from `MasterCore`'s scheduler call
table (`Teardown`, `Revive`, `Suppress`) and by `tick` (failover timeouts, heartbeats).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dcos.master.core.base import CoreBase, log
from dcos.master.core.calls import Revive, Subscribe, Suppress, Teardown
from dcos.master.core.model import (
    Action,
    CloseFramework,
    Framework,
    Persist,
)
from dcos.master.core.observed import FrameworkAdded, FrameworkRemoved, FrameworkUpdated
from dcos.protocol import internal
from dcos.protocol.ids import FrameworkID, new_framework_id, wrap
from dcos.protocol.mesos import FrameworkInfo, framework_info
from dcos.protocol.states import TaskState
from dcos.state.registry import AddFramework, RemoveFramework


@dataclass(frozen=True)
class SubscribeOutcome:
    """`framework_id` on success; else `error` (sent as an ERROR event, stream closed)."""

    framework_id: FrameworkID | None
    error: str | None = None


class FrameworksMixin(CoreBase):
    def _recover_frameworks(
        self, frameworks: dict[str, dict[str, Any]], removed: list[str], now: float
    ) -> None:
        """At master start: frameworks of the registry wait to re-subscribe (their failover
        timeout runs from now)."""
        self.framework_book.removed.update(removed)
        for fid, info in frameworks.items():
            fw = self._new_framework(FrameworkID(fid), framework_info(info), info, now)
            fw.recovered = True
            fw.failover_deadline = now + fw.failover_timeout
            self.allocator.add_framework(
                fw.id, fw.roles, active=False, capabilities=fw.capabilities
            )

    def _new_framework(
        self, fid: FrameworkID, info: FrameworkInfo, json: dict[str, Any], now: float
    ) -> Framework:
        """A framework record with `info`; `json` (the FrameworkInfo to keep) gets the id."""
        fw = Framework(fid, {}, (), frozenset(), registered_time=now)
        fw.take_info(info, {**json, "id": wrap(fid)})
        self.frameworks[fid] = fw
        return fw

    def subscribe(
        self, call: Subscribe, stream_id: str, now: float
    ) -> tuple[SubscribeOutcome, list[Action]]:
        """SUBSCRIBE: a new framework, or a failover/re-subscription with its id."""
        self._begin()
        framework_id = call.framework_id
        json = dict(call.framework_info.json)
        json.setdefault("user", "")
        if framework_id is not None and framework_id in self.framework_book.removed:
            return SubscribeOutcome(None, "Framework has been removed"), self._end()
        fw = self.frameworks.get(framework_id) if framework_id else None
        known = fw is not None
        if fw is None:
            fid = framework_id or new_framework_id(self.master_id)
            fw = self._new_framework(fid, call.framework_info, json, now)
            self._out.append(Persist(AddFramework(fw.id, fw.info)))
            self.allocator.add_framework(fw.id, fw.roles, capabilities=fw.capabilities)
            if framework_id:
                fw.reregistered_time = now
            self._count("frameworks_subscribed")
        else:
            self._failover(fw, call.framework_info, json, now)
        fw.stream_id, fw.connected, fw.active = stream_id, True, True
        fw.failover_deadline = None
        fw.unregistered_time = None
        fw.next_heartbeat = now + self.settings.heartbeat_interval
        self._allocate()
        if self.observed:
            self._observe(FrameworkUpdated(fw) if known else FrameworkAdded(fw))
        hb = self.settings.heartbeat_interval
        self._to_framework(fw, {
            "type": "SUBSCRIBED",
            "subscribed": {
                "framework_id": wrap(fw.id),
                "heartbeat_interval_seconds": hb,
                "master_info": self.master_info.to_json(),
            },
        })  # fmt: skip
        log.info("framework %s (%s) subscribed", fw.id, fw.info.get("name"))
        return SubscribeOutcome(fw.id), self._end()

    def _failover(
        self, fw: Framework, info: FrameworkInfo, json: dict[str, Any], now: float
    ) -> None:
        """Re-subscription of a known framework: keep its tasks, take the new info."""
        self._rescind_offers(fw.offers, notify=False)
        new_info = {**json, "id": wrap(fw.id)}
        if new_info != fw.info:
            fw.take_info(info, new_info)
            self.allocator.update_framework(fw.id, fw.roles, capabilities=fw.capabilities)
            self._out.append(Persist(AddFramework(fw.id, fw.info)))
            for agent_id in {t.agent_id for t in fw.tasks.values()}:
                self._to_agent(
                    self.agents.get(agent_id),
                    {"type": internal.UPDATE_FRAMEWORK, "framework": fw.info},
                )
        elif fw.recovered:
            self._out.append(Persist(AddFramework(fw.id, fw.info)))
        fw.recovered = False
        fw.reregistered_time = now
        self.allocator.activate_framework(fw.id)

    def framework_disconnected(
        self, framework_id: FrameworkID, stream_id: str, now: float
    ) -> list[Action]:
        """The scheduler's stream ended: deactivate and start the failover timer. Ignored for
        a stream that was already replaced by a newer SUBSCRIBE."""
        self._begin()
        fw = self.frameworks.get(framework_id)
        if fw is None or fw.stream_id != stream_id or not fw.connected:
            return self._end()
        fw.connected = fw.active = False
        fw.stream_id = None
        fw.unregistered_time = now
        fw.failover_deadline = now + fw.failover_timeout
        self.allocator.deactivate_framework(fw.id)
        self._rescind_offers(fw.offers, notify=False)
        if self.observed:
            self._observe(FrameworkUpdated(fw))
        log.info("framework %s disconnected; failover timeout %.1fs", fw.id, fw.failover_timeout)
        return self._end()

    def _remove_framework(self, fw: Framework, now: float) -> None:
        """TEARDOWN or failover timeout: kill its tasks, forget it, record it as completed."""
        log.info("removing framework %s (%s)", fw.id, fw.info.get("name"))
        self._rescind_offers(fw.offers, notify=False)
        agents = {t.agent_id for t in fw.tasks.values()} | {
            t.agent_id for t in fw.unreachable_tasks.values()
        }
        for agent_id in agents:
            self._to_agent(
                self.agents.get(agent_id),
                {"type": internal.SHUTDOWN_FRAMEWORK, "framework_id": fw.id},
            )
        for task in list(fw.tasks.values()) + list(fw.unreachable_tasks.values()):
            self._set_task_status(task, {"state": TaskState.TASK_KILLED, "timestamp": now})
            self._release_task(task)
        self.allocator.remove_framework(fw.id)
        self._allocate()
        if fw.connected:
            self._out.append(CloseFramework(fw.id))
        fw.connected = fw.active = False
        fw.unregistered_time = now
        self.framework_book.complete(fw)
        self._out.append(Persist(RemoveFramework(fw.id)))
        if self.observed:
            self._observe(FrameworkRemoved(fw.info))

    def teardown(self, fw: Framework, call: Teardown, now: float) -> None:
        """TEARDOWN: remove the framework (its tasks are killed)."""
        self._remove_framework(fw, now)

    def suppress(self, fw: Framework, call: Suppress, now: float) -> None:
        """SUPPRESS: no offers for these roles (all of the framework's when none given)."""
        rs = list(call.roles) or None
        self.allocator.suppress(fw.id, rs)
        fw.suppressed_roles.update(rs if rs is not None else fw.roles)

    def revive(self, fw: Framework, call: Revive, now: float) -> None:
        """REVIVE: offers again for these roles (all when none given), and clear filters."""
        rs = list(call.roles) or None
        self.allocator.revive(fw.id, rs)
        fw.suppressed_roles.difference_update(rs if rs is not None else fw.roles)
        self._allocate()

    def _tick_frameworks(self, now: float) -> None:
        """Failover timeouts and heartbeats (called by `tick`)."""
        hb = self.settings.heartbeat_interval
        for fw in list(self.frameworks.values()):
            if fw.connected:
                if now >= fw.next_heartbeat:
                    self._to_framework(fw, {"type": "HEARTBEAT"})
                    fw.next_heartbeat = now + hb
            elif fw.failover_deadline is not None and now >= fw.failover_deadline:
                log.info("framework %s failover timeout expired", fw.id)
                self._remove_framework(fw, now)
