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
from collections.abc import Iterable
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
    master restart (id -> deadline), `unreachable` (id -> since), `removed` ids (gone for
    good), `deactivated` ids (the operator's DEACTIVATE_AGENT, in any of those states), the
    tasks each unreachable agent had (`unreachable_tasks`), and the hash of the session
    secret of every agent the master admitted (`secret_hashes`: calls and re-registrations
    of that id must carry the secret).

    It also remembers what the registry holds for each admitted agent (`admission_changes`:
    a re-registration that changes nothing there writes nothing, so 10,000 agents coming
    back to a new leader cost no registry write) and indexes the registered agents by
    address (`at_address`: a new registration looks for the agent it replaces without a
    scan of every agent)."""

    def __init__(self) -> None:
        self.registered: dict[AgentID, Agent] = {}
        self.expected: dict[AgentID, float] = {}
        self.unreachable: dict[AgentID, float] = {}
        self.removed: set[str] = set()
        self.deactivated: set[AgentID] = set()
        self.unreachable_tasks: dict[AgentID, list[Task]] = {}
        self.secret_hashes: dict[AgentID, str] = {}
        # id -> (AgentInfo map, secret hash) as the registry holds them
        self._stored: dict[AgentID, tuple[dict[str, Any], str | None]] = {}
        self._by_address: dict[tuple[str, int], dict[AgentID, None]] = {}

    def add(self, agent: Agent) -> None:
        """`agent` (re-)registered: it replaces any registered agent with its id."""
        old = self.registered.get(agent.id)
        if old is not None:
            self._unindex(old)
        self.registered[agent.id] = agent
        self._by_address.setdefault((agent.ip, agent.port), {})[agent.id] = None

    def at_address(self, ip: str, port: int) -> list[Agent]:
        """The registered agents at `ip`:`port` (a new registration from there replaces them)."""
        ids = self._by_address.get((ip, port))
        return [self.registered[aid] for aid in ids] if ids else []

    def _unindex(self, agent: Agent) -> None:
        ids = self._by_address.get((agent.ip, agent.port))
        if ids is not None:
            ids.pop(agent.id, None)
            if not ids:
                del self._by_address[(agent.ip, agent.port)]

    def admission_changes(
        self, agent_id: AgentID, info: dict[str, Any], secret_hash: str | None
    ) -> bool:
        """Whether admitting `agent_id` with `info` and `secret_hash` changes its registry
        entry (then the caller persists `AdmitAgent`); the book takes it as stored."""
        entry = (info, secret_hash)
        if self._stored.get(agent_id) == entry:
            return False
        self._stored[agent_id] = entry
        return True

    def recover(
        self, agents: dict[str, dict[str, Any]], removed: list[str], deadline: float,
        deactivated: Iterable[str] = (),
    ) -> None:
        """At master start, from the registry: admitted agents are expected by `deadline`;
        unreachable ones stay unreachable until they return; deactivated ones stay so."""
        self.removed.update(removed)
        self.deactivated.update(AgentID(a) for a in deactivated)
        for aid, entry in agents.items():
            hashed = entry.get("secret_hash")
            if isinstance(hashed, str):
                self.secret_hashes[AgentID(aid)] = hashed
            if isinstance(entry.get("info"), dict):
                self._stored[AgentID(aid)] = (entry["info"], hashed)
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
        self._unindex(agent)
        if unreachable:
            self.unreachable[agent.id] = now

    def overdue(self, now: float) -> list[AgentID]:
        """Expected agents whose deadline passed: they become unreachable now."""
        late = [aid for aid, deadline in self.expected.items() if now >= deadline]
        for aid in late:
            del self.expected[aid]
            self.unreachable[aid] = now
        return late

    def known(self, agent_id: AgentID) -> bool:
        """Registered, expected after a master restart, or unreachable (not removed)."""
        return (
            agent_id in self.registered
            or agent_id in self.expected
            or agent_id in self.unreachable
        )

    def forget(self, agent_id: AgentID) -> None:
        """The agent is gone for good (MARK_AGENT_GONE): only its id stays, in `removed`."""
        agent = self.registered.pop(agent_id, None)
        if agent is not None:
            self._unindex(agent)
        self.expected.pop(agent_id, None)
        self.unreachable.pop(agent_id, None)
        self.deactivated.discard(agent_id)
        self.secret_hashes.pop(agent_id, None)
        self._stored.pop(agent_id, None)
        self.removed.add(agent_id)

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
