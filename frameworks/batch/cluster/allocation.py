"""Executor allocation: how many executors the driver wants, which offers it takes, when it
declines, suppresses and revives, and which idle executors it gives back.

A sans-IO core owned by `ClusterBackend`: the Mesos scheduler callbacks feed it offers and
task statuses, the placement core tells it the demand, and it returns decisions the backend
carries out with the SDK driver. Unit tests call it with plain dicts and numbers.

Policy (Spark on Mesos, coarse-grained, with dynamic allocation):

- The driver wants `max_executors` executors (``--executors`` / ``spark.executor.instances``,
  or ``spark.cores.max`` / executor cores) of `cores` cpus and `mem_mb` memory each, at most
  `per_agent` per agent (1 by default: one warm executor per agent). With dynamic allocation
  (the default) it wants only as many as the outstanding tasks can use
  (``ceil(outstanding / cores)``), never fewer than `min_executors`.
- An offer is accepted for one executor per agent while more are wanted and it fits; every
  other offer is declined with a long filter (`decline_refuse_seconds`, 120 s), so a driver
  with enough executors is not offered the same resources again and again.
- When the driver wants no more executors it SUPPRESSes offers; when it wants more again it
  REVIVEs (which also clears the decline filters).
- An agent where two executors died is not used again by this driver (Spark on Mesos does
  the same), so a broken agent cannot make the driver relaunch forever.
- Executors with nothing to do for `idle_timeout` (``spark.dynamicAllocation.
  executorIdleTimeout``, 60 s) are released, down to `min_executors`, so webapp services and
  other jobs get their share of the cluster under DRF.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from dcos.protocol.resources import Resources

LAUNCHING, RUNNING, RELEASING = "launching", "running", "releasing"
MAX_AGENT_FAILURES = 2  # executors that died on one agent before the driver avoids it


@dataclass(frozen=True, slots=True)
class ExecutorSpec:
    """What each executor is and how many the driver may have."""

    cores: int = 1
    mem_mb: float = 512.0
    max_executors: int = 2
    min_executors: int = 0
    per_agent: int = 1
    dynamic: bool = True
    idle_timeout: float = 60.0
    decline_refuse_seconds: float = 120.0


@dataclass(slots=True)
class ExecutorRecord:
    """One executor the driver launched (its Mesos task id is its executor id)."""

    executor_id: str
    agent_id: str
    hostname: str
    state: str = LAUNCHING
    launched_at: float = 0.0


@dataclass(slots=True)
class OfferDecision:
    """What to do with one batch of offers: `launch` holds (offer, executor id) pairs, one
    executor per offer; `decline` the offers to decline with `refuse_seconds`; `suppress`
    whether to SUPPRESS afterwards."""

    launch: list[tuple[Any, str]] = field(default_factory=list)
    decline: list[Any] = field(default_factory=list)
    refuse_seconds: float = 120.0
    suppress: bool = False


class Allocation:
    """Executor bookkeeping and offer decisions for one driver."""

    def __init__(self, spec: ExecutorSpec, app_id: str) -> None:
        self.spec = spec
        self.app_id = app_id
        self.executors: dict[str, ExecutorRecord] = {}
        self.suppressed = False
        self.failures = 0  # executors that died
        self.agent_failures: dict[str, int] = {}
        # Until the first idle release the driver wants all its executors (Spark's
        # initialExecutors): jobs start at full width and default_parallelism is stable.
        self.floor = spec.max_executors
        self._seq = 0

    # ---- demand --------------------------------------------------------------------------

    def target(self, outstanding: int) -> int:
        """How many executors the driver wants for `outstanding` tasks (pending + running)."""
        s = self.spec
        if not s.dynamic:
            return s.max_executors
        want = math.ceil(outstanding / max(1, s.cores)) if outstanding > 0 else 0
        return max(s.min_executors, self.floor, min(s.max_executors, want))

    def live(self) -> list[ExecutorRecord]:
        return [e for e in self.executors.values() if e.state != RELEASING]

    def wanted(self, outstanding: int) -> int:
        """How many more executors to launch now."""
        return max(0, self.target(outstanding) - len(self.live()))

    # ---- offers --------------------------------------------------------------------------

    def fits(self, offer: Any) -> str | None:
        """Why `offer` cannot hold one executor, or None when it can."""
        res = (
            offer.resources
            if hasattr(offer, "resources")
            else Resources.from_mesos(offer.get("resources") or [])
        )
        if res.scalar("cpus") + 1e-9 < self.spec.cores:
            return f"insufficient cpus: need {self.spec.cores}"
        if res.scalar("mem") + 1e-9 < self.spec.mem_mb:
            return f"insufficient mem: need {self.spec.mem_mb:g}"
        return None

    def on_offers(self, offers: list[Any], outstanding: int, now: float) -> OfferDecision:
        """Decide for a batch of offers (called from `Scheduler.resource_offers`). Offers are
        dicts or `dcos.sdk.Offer`s. The executors it launches are recorded as LAUNCHING."""
        out = OfferDecision(refuse_seconds=self.spec.decline_refuse_seconds)
        need = self.wanted(outstanding)
        per_agent: dict[str, int] = {}
        for e in self.live():
            per_agent[e.agent_id] = per_agent.get(e.agent_id, 0) + 1
        for offer in offers:
            agent = _agent_id(offer)
            usable = (
                per_agent.get(agent, 0) < self.spec.per_agent
                and self.agent_failures.get(agent, 0) < MAX_AGENT_FAILURES
                and not self.fits(offer)
            )
            if need > 0 and usable:
                eid = self._new_id()
                self.executors[eid] = ExecutorRecord(eid, agent, _hostname(offer), LAUNCHING, now)
                per_agent[agent] = per_agent.get(agent, 0) + 1
                out.launch.append((offer, eid))
                need -= 1
            else:
                out.decline.append(offer)
        if need == 0 and not self.suppressed:
            out.suppress = True
            self.suppressed = True
        return out

    def should_revive(self, outstanding: int) -> bool:
        """True (and marks offers revived) when suppressed and more executors are wanted;
        the backend calls it whenever work arrives or an executor is lost."""
        if self.suppressed and self.wanted(outstanding) > 0:
            self.suppressed = False
            return True
        return False

    # ---- executor lifecycle --------------------------------------------------------------

    def registered(self, executor_id: str) -> ExecutorRecord | None:
        """The executor connected back to the driver."""
        rec = self.executors.get(executor_id)
        if rec is not None and rec.state == LAUNCHING:
            rec.state = RUNNING
        return rec

    def lost(self, executor_id: str) -> ExecutorRecord | None:
        """The executor's task ended or its agent is gone; returns the record if it was ours.
        One released on purpose does not count as a failure."""
        rec = self.executors.pop(executor_id, None)
        if rec is not None and rec.state != RELEASING:
            self.failures += 1
            self.agent_failures[rec.agent_id] = self.agent_failures.get(rec.agent_id, 0) + 1
        return rec

    def agent_lost(self, agent_id: str) -> list[str]:
        """Executor ids that lived on a lost agent (each is then `lost`)."""
        return [e.executor_id for e in self.executors.values() if e.agent_id == agent_id]

    def release_idle(self, idle: list[str]) -> list[str]:
        """Of the executors placement found idle, those to release now (keeping at least
        `min_executors`); they are marked RELEASING. The backend kills their Mesos tasks."""
        if not self.spec.dynamic:
            return []
        keep = self.spec.min_executors
        running = [e for e in self.live() if e.state == RUNNING]
        out = []
        for eid in idle:
            rec = self.executors.get(eid)
            if rec is None or rec.state != RUNNING or len(running) - len(out) <= keep:
                continue
            rec.state = RELEASING
            out.append(eid)
        if out:
            self.floor = self.spec.min_executors
        return out

    def _new_id(self) -> str:
        self._seq += 1
        return f"{self.app_id}-exec-{self._seq}"


def _agent_id(offer: Any) -> str:
    v = offer.get("agent_id") or {}
    return v.get("value", "") if isinstance(v, dict) else str(v)


def _hostname(offer: Any) -> str:
    return str(offer.get("hostname", ""))


def parse_memory(text: str | int | float) -> float:
    """Spark-style memory sizes in MB: ``512m``, ``1g``, ``2048`` (MB), ``1.5g``."""
    if isinstance(text, int | float):
        return float(text)
    s = str(text).strip().lower()
    units = {"k": 1 / 1024, "m": 1.0, "g": 1024.0, "t": 1024.0 * 1024}
    if s.endswith("b"):
        s = s[:-1]
    if s and s[-1] in units:
        return float(s[:-1]) * units[s[-1]]
    return float(s)
