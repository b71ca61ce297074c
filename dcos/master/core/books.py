"""Small registries the master core keeps, each with the state transitions it allows:
`AgentBook` (agents in every state), `FrameworkBook` (live, completed and removed
frameworks), `MasterUpdates` (uuids of master-generated status updates awaiting
acknowledgement).

Owned by `MasterCore` (`CoreBase.__init__` makes one of each); changed only by the core's
mixins, read by the JSON views through the core's `agents`, `frameworks` ... attributes,
which are the books' own dicts.
"""

from __future__ import annotations

from collections import OrderedDict
from enum import Enum
from typing import Any

from dcos.master.core.model import MAX_COMPLETED_FRAMEWORKS, Agent, Framework, Task
from dcos.protocol.ids import AgentID, FrameworkID
from dcos.protocol.mesos import new_status_uuid

MAX_MASTER_UUIDS = 100_000


class Whereabouts(Enum):
    """What the master knows of an agent id (answers reconciliation of unknown tasks)."""

    REGISTERED = "registered"
    EXPECTED = "expected"  # admitted before a master restart, not yet re-registered
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"


class AgentBook:
    """Agents by state: `registered` (connected or not), `expected` to re-register after a
    master restart (id -> deadline), `unreachable` (id -> since), `removed` ids, the
    tasks each unreachable agent had (`unreachable_tasks`), and the hash of the session
    secret of every agent the master admitted (`secret_hashes`: calls and re-registrations
    of that id must carry the secret)."""

    def __init__(self) -> None:
        self.registered: dict[AgentID, Agent] = {}
        self.expected: dict[AgentID, float] = {}
        self.unreachable: dict[AgentID, float] = {}
        self.removed: set[str] = set()
        self.unreachable_tasks: dict[AgentID, list[Task]] = {}
        self.secret_hashes: dict[AgentID, str] = {}

    def recover(
        self, agents: dict[str, dict[str, Any]], removed: list[str], deadline: float
    ) -> None:
        """At master start, from the registry: admitted agents are expected by `deadline`;
        unreachable ones stay unreachable until they return."""
        self.removed.update(removed)
        for aid, entry in agents.items():
            if isinstance(entry.get("secret_hash"), str):
                self.secret_hashes[AgentID(aid)] = entry["secret_hash"]
            if entry.get("unreachable_time") is not None:
                self.unreachable[AgentID(aid)] = float(entry["unreachable_time"])
            else:
                self.expected[AgentID(aid)] = deadline

    def admitted(self, agent_id: AgentID) -> bool:
        """The agent (re-)registered: no longer expected or unreachable. True when it was
        unreachable (its return must be persisted)."""
        self.expected.pop(agent_id, None)
        return self.unreachable.pop(agent_id, None) is not None

    def lost(self, agent: Agent, now: float, *, unreachable: bool) -> None:
        """A registered agent is gone: unreachable since `now`, or replaced."""
        del self.registered[agent.id]
        if unreachable:
            self.unreachable[agent.id] = now

    def overdue(self, now: float) -> list[AgentID]:
        """Expected agents whose deadline passed: they become unreachable now."""
        late = [aid for aid, deadline in self.expected.items() if now >= deadline]
        for aid in late:
            del self.expected[aid]
            self.unreachable[aid] = now
        return late

    def whereabouts(self, agent_id: AgentID) -> Whereabouts:
        if agent_id in self.expected:
            return Whereabouts.EXPECTED
        if agent_id in self.registered:
            return Whereabouts.REGISTERED
        if agent_id in self.unreachable:
            return Whereabouts.UNREACHABLE
        return Whereabouts.UNKNOWN


class FrameworkBook:
    """Frameworks by state: `live` (subscribed, disconnected within their failover timeout,
    or recovered and waiting to re-subscribe), `completed` (the last
    `MAX_COMPLETED_FRAMEWORKS`, for the JSON views) and `removed` ids (never again)."""

    def __init__(self) -> None:
        self.live: dict[FrameworkID, Framework] = {}
        self.completed: OrderedDict[FrameworkID, Framework] = OrderedDict()
        self.removed: set[str] = set()

    def complete(self, fw: Framework) -> None:
        """The framework was removed (TEARDOWN or failover timeout)."""
        self.live.pop(fw.id, None)
        self.removed.add(fw.id)
        self.completed[fw.id] = fw
        while len(self.completed) > MAX_COMPLETED_FRAMEWORKS:
            self.completed.popitem(last=False)


class MasterUpdates:
    """Uuids of the status updates the master itself sent (bounded, oldest dropped): their
    acknowledgements end at the master instead of going to an agent."""

    def __init__(self) -> None:
        self._uuids: OrderedDict[str, None] = OrderedDict()

    def issue(self) -> str:
        uuid = new_status_uuid()
        self._uuids[uuid] = None
        if len(self._uuids) > MAX_MASTER_UUIDS:
            self._uuids.popitem(last=False)
        return uuid

    def acknowledge(self, uuid: str) -> bool:
        """True (and forgotten) when `uuid` is one of the master's own updates."""
        return self._uuids.pop(uuid, 0) is None
