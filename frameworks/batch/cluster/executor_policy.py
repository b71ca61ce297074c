"""The executor policy: how many executors the driver wants, which offers it takes, when it
declines, suppresses and revives, and which idle executors it gives back.

A sans-IO core owned by `ClusterBackend`: the Mesos scheduler callbacks feed it offers and
task statuses, the task scheduler tells it the demand, and it returns decisions the backend
carries out with the SDK driver. Unit tests call it with `dcos.sdk.Offer`s and numbers.
(Spark calls this the ExecutorAllocationManager; "allocation" is the master's word here.)

Policy (Spark on Mesos, coarse-grained, with dynamic allocation):

- The driver wants `max_executors` executors (``--executors`` / ``spark.executor.instances``,
  or ``spark.cores.max`` / executor cores) of `mem_mb` memory each, at most `per_agent` per
  agent (1 by default: one warm executor per agent). With dynamic allocation (the default) it
  wants only as many as the outstanding tasks can use (``ceil(outstanding / cores)``), never
  fewer than `min_executors`.
- Executor cpus. When ``spark.executor.cores`` is set (`fixed_cores`), every executor gets
  exactly `cores` cpus and smaller offers are declined. When it is not set (Spark's
  coarse-grained Mesos rule), an executor gets the cpus its offer has, fractions included,
  bounded by what ``spark.cores.max`` (`max_cores`) still allows -- or, when that is not set
  either, by `cores` (1) per executor, so that the default driver wants about
  ``spark.executor.instances`` cpus and leaves the rest of a shared cluster alone. Offers
  with less than `min_cores` cpus are declined. An executor of `c` cpus runs
  ``max(1, floor(c))`` tasks at once (`task_slots`).
- An offer is accepted for one executor per agent while more are wanted and it fits; every
  other offer is declined with a long filter (`decline_refuse_seconds`, 120 s), so a driver
  with enough executors is not offered the same resources again and again. Whether it fits
  is the SDK's placement chain (`dcos.sdk.placement.check`) over the `dcos.sdk.Offer`:
  `ExecutorSizeFilter` (the cpus rule below and memory, with the messages the driver shows),
  `AgentFilter` (avoided agents, `per_agent`), then the SDK's role and resource filters; the
  executor's resources are then taken from the offer once (`Slot.take`), and only a fit that
  is ``ok`` launches.
- While the driver has no running executor but wants some, `waiting_reason` says why (no
  offer yet, the best offer seen and what it lacks, an executor that launched but has not
  connected, the last executor failure) and `warning` returns it every `WARN_INTERVAL`
  seconds for the backend's log (Spark's "Initial job has not accepted any resources").
- `wants_offers` says whether the driver wants more executors: the Mesos side SUPPRESSes
  offers when it does not and REVIVEs when it does again (which also clears the decline
  filters), with the SDK's `SuppressionTracker`.
- An agent where two executors died is not used again by this driver (Spark on Mesos does
  the same), so a broken agent cannot make the driver relaunch forever.
- Executors with nothing to do for `idle_timeout` (``spark.dynamicAllocation.
  executorIdleTimeout``, 60 s) are released, down to `min_executors`, so webapp services and
  other jobs get their share of the cluster under DRF.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from dcos.protocol.ids import OfferID
from dcos.sdk import Fit, Offer, TaskNeeds
from dcos.sdk.placement import DEFAULT_FILTERS, OK, Filter, Slot, Verdict, check

LAUNCHING, RUNNING, RELEASING = "launching", "running", "releasing"
MAX_AGENT_FAILURES = 2  # executors that died on one agent before the driver avoids it
WARN_INTERVAL = 10.0  # seconds between "waiting for executors" warnings


def task_slots(cpus: float) -> int:
    """Tasks an executor of `cpus` cpus runs at once: ``max(1, floor(cpus))`` (a fraction of a
    cpu still runs one task, just more slowly)."""
    return max(1, int(math.floor(cpus + 1e-9)))


@dataclass(frozen=True, slots=True)
class ExecutorSpec:
    """What each executor is and how many the driver may have."""

    cores: int = 1  # cpus per executor (fixed_cores) or the per-executor cap (not fixed)
    mem_mb: float = 512.0
    max_executors: int = 2
    min_executors: int = 0
    per_agent: int = 1
    dynamic: bool = True
    idle_timeout: float = 60.0
    decline_refuse_seconds: float = 120.0
    fixed_cores: bool = True  # spark.executor.cores was set: exactly `cores` cpus
    max_cores: float | None = None  # spark.cores.max: total cpus of all executors
    min_cores: float = 0.1  # smallest offer (cpus) a flexible executor takes
    explicit_mem: bool = True  # spark.executor.memory was set (only changes the messages)

    def requested_slots(self) -> int:
        """Task slots the driver asks for in all (its default parallelism)."""
        if not self.fixed_cores and self.max_cores is not None:
            return max(1, int(self.max_cores))
        return self.cores * self.max_executors

    def describe(self) -> str:
        """One executor as the messages name it, e.g. ``1 cpus / 512 MB``."""
        if self.fixed_cores:
            cpus = f"{self.cores:g}"
        elif self.max_cores is not None:
            cpus = f"{self.min_cores:g}-{self.max_cores:g}"
        else:
            cpus = f"{self.min_cores:g}-{self.cores:g}"
        return f"{cpus} cpus / {self.mem_mb:g} MB"


@dataclass(slots=True)
class BestOffer:
    """The largest offer seen while waiting for executors (for the messages)."""

    cpus: float
    mem: float
    hostname: str
    why: str


@dataclass(slots=True)
class ExecutorRecord:
    """One executor the driver launched (its Mesos task id is its executor id)."""

    executor_id: str
    agent_id: str
    hostname: str
    state: str = LAUNCHING
    launched_at: float = 0.0
    cpus: float = 1.0

    @property
    def slots(self) -> int:
        return task_slots(self.cpus)


class ExecutorLaunch(NamedTuple):
    """Start executor `executor_id` from `offer` with the resources of `fit` (``fit.ok``)."""

    offer: Offer
    executor_id: str
    fit: Fit


@dataclass(slots=True)
class OfferDecision:
    """What to do with one batch of offers: `launch` one executor per launched offer;
    `decline` the other offers with `refuse_seconds`; `unfit` says, for declined offers that
    cannot hold one executor of the spec, why (shown when the driver has to explain itself)."""

    launch: list[ExecutorLaunch] = field(default_factory=list)
    decline: list[Offer] = field(default_factory=list)
    unfit: dict[OfferID, str] = field(default_factory=dict)
    refuse_seconds: float = 120.0


@dataclass(frozen=True, slots=True)
class ExecutorDemand:
    """One executor as the placement chain sees it (a `dcos.sdk.placement.Demand`): the
    `cpus` it would get from the offer at hand (0: the offer is too small) and its `needs`."""

    cpus: float
    needs: TaskNeeds


SIZE, AVOIDED, PER_AGENT = "ExecutorSize", "AgentAvoided", "PerAgentLimit"  # verdict codes


class ExecutorSizeFilter:
    """The offer can hold one executor of the spec: cpus by the ``spark.executor.cores``
    rule (`ExecutorPolicy.executor_cpus`), and ``spark.executor.memory``."""

    def __init__(self, policy: ExecutorPolicy) -> None:
        self.policy = policy

    def check(self, slot: Slot, task: ExecutorDemand) -> Verdict:
        reason = self.policy.size_problem(task.cpus, slot.left.scalar("mem"))
        return OK if reason is None else Verdict(False, reason, SIZE, lasting=True)


class AgentFilter:
    """At most `limit` executors of this driver per agent, none on an agent where
    `MAX_AGENT_FAILURES` of its executors died."""

    def __init__(self, per_agent: Counter[str], limit: int, failures: dict[str, int]) -> None:
        self.per_agent, self.limit, self.failures = per_agent, limit, failures

    def check(self, slot: Slot, task: ExecutorDemand) -> Verdict:
        agent, host = slot.agent.agent_id, slot.agent.hostname or slot.agent.agent_id
        if self.failures.get(agent, 0) >= MAX_AGENT_FAILURES:
            return Verdict(False, f"{host}: avoided after {MAX_AGENT_FAILURES} executor "
                           "failures", AVOIDED)  # fmt: skip
        if self.per_agent[agent] >= self.limit:
            return Verdict(False, f"{host}: runs {self.limit} executor(s) of this driver already",
                           PER_AGENT)  # fmt: skip
        return OK


class ExecutorPolicy:
    """Executor bookkeeping and offer decisions for one driver."""

    def __init__(self, spec: ExecutorSpec, app_id: str) -> None:
        self.spec = spec
        self.app_id = app_id
        self.executors: dict[str, ExecutorRecord] = {}
        self.failures = 0  # executors that died
        self.agent_failures: dict[str, int] = {}
        # Until the first idle release the driver wants all its executors (Spark's
        # initialExecutors): jobs start at full width and default_parallelism is stable.
        self.floor = spec.max_executors
        self._seq = 0
        # Why the driver is waiting for executors (see waiting_reason).
        self.waiting_since: float | None = None
        self.offers_seen = 0
        self.best_offer: BestOffer | None = None
        self.avoided: set[str] = set()  # agents whose offers were declined after failures
        self.last_failure = ""
        self._warned_at: float | None = None

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

    def acquired_cpus(self) -> float:
        return sum(e.cpus for e in self.live())

    def wanted(self, outstanding: int) -> int:
        """How many more executors to launch now."""
        s = self.spec
        if s.max_cores is not None and s.max_cores - self.acquired_cpus() < (
            s.cores if s.fixed_cores else s.min_cores
        ) - 1e-9:
            return 0
        return max(0, self.target(outstanding) - len(self.live()))

    # ---- offers --------------------------------------------------------------------------

    def executor_cpus(self, offer_cpus: float) -> float:
        """The cpus an executor started from an offer of `offer_cpus` gets (0 when the
        offer is too small): `cores` when fixed, else what the offer has, bounded by the
        per-executor cap or what ``spark.cores.max`` still allows."""
        s = self.spec
        if s.fixed_cores:
            return float(s.cores) if offer_cpus + 1e-9 >= s.cores else 0.0
        cap = offer_cpus
        if s.max_cores is None:
            cap = min(cap, float(s.cores))
        else:
            cap = min(cap, s.max_cores - self.acquired_cpus())
        cap = math.floor(cap * 1000 + 1e-6) / 1000  # Mesos scalars have 3 decimals
        return cap if cap + 1e-9 >= s.min_cores else 0.0

    def wants_offers(self, outstanding: int) -> bool:
        """Whether more executors are wanted now (else offers may be suppressed)."""
        return self.wanted(outstanding) > 0

    def demand(self, offer_cpus: float) -> ExecutorDemand:
        """The executor an offer of `offer_cpus` cpus would start."""
        cpus = self.executor_cpus(offer_cpus)
        return ExecutorDemand(cpus, TaskNeeds.of(cpus=cpus, mem=self.spec.mem_mb))

    def size_problem(self, cpus: float, mem: float) -> str | None:
        """Why an offer whose executor would get `cpus` cpus (0: too few), with `mem` MB,
        cannot hold one executor; None when it can."""
        s = self.spec
        if not cpus:
            if s.fixed_cores:
                return f"insufficient cpus: need {s.cores}"
            if s.max_cores is not None and s.max_cores - self.acquired_cpus() < s.min_cores:
                return f"spark.cores.max={s.max_cores:g} reached"
            return f"insufficient cpus: need at least {s.min_cores:g}"
        if mem + 1e-9 < s.mem_mb:
            return f"insufficient mem: need {s.mem_mb:g}"
        return None

    def fits(self, offer: Offer) -> str | None:
        """Why `offer` cannot hold one executor, or None when it can."""
        slot = Slot.of(offer)
        chain: tuple[Filter[ExecutorDemand], ...] = (ExecutorSizeFilter(self), *DEFAULT_FILTERS)
        verdict = check(slot, self.demand(slot.left.scalar("cpus")), chain)
        return None if verdict.ok else verdict.reason

    def on_offers(self, offers: Sequence[Offer], outstanding: int, now: float) -> OfferDecision:
        """Decide for a batch of offers (called from `Scheduler.resource_offers`): one
        executor per offer that passes the chain while more are wanted, the rest declined.
        The executors it launches are recorded as LAUNCHING."""
        out = OfferDecision(refuse_seconds=self.spec.decline_refuse_seconds)
        need = self.wanted(outstanding)
        per_agent: Counter[str] = Counter(e.agent_id for e in self.live())
        chain: tuple[Filter[ExecutorDemand], ...] = (
            ExecutorSizeFilter(self),
            AgentFilter(per_agent, self.spec.per_agent, self.agent_failures),
            *DEFAULT_FILTERS,
        )
        slots = [Slot.of(o) for o in offers]
        if not self.spec.fixed_cores:  # the largest offers give the largest executors
            slots.sort(key=lambda sl: -sl.left.scalar("cpus"))
        self.offers_seen += len(slots)
        for slot in slots:
            demand = self.demand(slot.left.scalar("cpus"))
            verdict = check(slot, demand, chain)
            if need > 0 and verdict.ok:
                fit = slot.take(demand.needs)
                if fit.ok:
                    eid = self._record(slot, demand, now)
                    out.launch.append(ExecutorLaunch(slot.offer, eid, fit))
                    per_agent[slot.agent.agent_id] += 1
                    need -= 1
                    continue
                verdict = Verdict(False, fit.reason, SIZE)
            if not verdict.ok and verdict.code not in (AVOIDED, PER_AGENT):
                out.unfit[slot.offer.id] = verdict.reason
                if need > 0:
                    self._note_offer(slot, verdict.reason)
            elif need > 0 and verdict.code == AVOIDED:
                self.avoided.add(slot.agent.hostname or slot.agent.agent_id)
            out.decline.append(slot.offer)
        return out

    def _record(self, slot: Slot, demand: ExecutorDemand, now: float) -> str:
        eid = self._new_id()
        agent = slot.agent
        self.executors[eid] = ExecutorRecord(
            eid, agent.agent_id, agent.hostname, LAUNCHING, now, demand.cpus
        )
        return eid

    def _note_offer(self, slot: Slot, why: str) -> None:
        cpus, mem = slot.left.scalar("cpus"), slot.left.scalar("mem")
        best = self.best_offer
        if best is None or (cpus, mem) > (best.cpus, best.mem):
            self.best_offer = BestOffer(cpus, mem, slot.agent.hostname, why)

    # ---- why the driver is waiting -------------------------------------------------------

    def waiting_reason(self, outstanding: int, now: float) -> str | None:
        """Why the driver has no running executor although it wants some, or None. Called
        by the backend's ticker, the job page and the start timeout."""
        if any(e.state == RUNNING for e in self.executors.values()) or (
            self.target(outstanding) <= 0 and not self.live()
        ):
            self.waiting_since = None
            return None
        if self.waiting_since is None:
            self.waiting_since = now
        waited = now - self.waiting_since
        launching = [e for e in self.executors.values() if e.state == LAUNCHING]
        if launching:
            e = min(launching, key=lambda r: r.launched_at)
            text = (
                f"executor {e.executor_id} launched on {e.hostname or e.agent_id} "
                f"{now - e.launched_at:.0f}s ago has not connected yet"
            )
        elif self.best_offer is not None:
            text = self._no_fit_text(self.best_offer)
        elif self.avoided:
            text = (
                f"offers only from agents avoided after {MAX_AGENT_FAILURES} executor "
                f"failures: {', '.join(sorted(self.avoided))}"
            )
        elif self.offers_seen == 0:
            text = "no offer from the master yet (is the cluster's capacity in use?)"
        else:
            text = f"no usable offer for 1 executor of {self.spec.describe()}"
        if self.last_failure:
            text += f"; last executor failure: {self.last_failure}"
        return f"{text} (waiting {waited:.0f}s)"

    def _no_fit_text(self, best: BestOffer) -> str:
        s = self.spec
        text = (
            f"no offer fits 1 executor of {s.describe()}; best offer {best.cpus:g} cpus, "
            f"{best.mem:g} MB on {best.hostname or 'an agent'} ({best.why})"
        )
        if best.mem + 1e-9 < s.mem_mb:
            if s.explicit_mem:
                text += f"; spark.executor.memory={s.mem_mb:g}m is more than any offer has"
            else:
                text += (
                    f"; spark.executor.memory is not set and its default {s.mem_mb:g}m is "
                    "more than any offer has: set it lower (--executor-memory)"
                )
        elif s.fixed_cores and best.cpus + 1e-9 < s.cores:
            text += (
                f"; spark.executor.cores={s.cores} is set: leave it unset to take the "
                "cpus an offer has"
            )
        return text

    def warning(self, outstanding: int, now: float) -> str | None:
        """The waiting reason when a warning is due (every `WARN_INTERVAL` seconds while
        waiting, the first after `WARN_INTERVAL`), else None. Called once a second."""
        reason = self.waiting_reason(outstanding, now)
        if reason is None or self.waiting_since is None:
            self._warned_at = None
            return None
        last = self._warned_at if self._warned_at is not None else self.waiting_since
        if now - last + 1e-9 < WARN_INTERVAL:
            return None
        self._warned_at = now
        return reason

    # ---- executor lifecycle --------------------------------------------------------------

    def registered(self, executor_id: str) -> ExecutorRecord | None:
        """The executor connected back to the driver."""
        rec = self.executors.get(executor_id)
        if rec is not None and rec.state == LAUNCHING:
            rec.state = RUNNING
            self.best_offer = None  # the waiting diagnosis starts afresh next time
            self.avoided.clear()
            self.last_failure = ""
        return rec

    def lost(self, executor_id: str, reason: str = "") -> ExecutorRecord | None:
        """The executor's task ended or its agent is gone; returns the record if it was ours.
        One released on purpose does not count as a failure."""
        rec = self.executors.pop(executor_id, None)
        if rec is not None and rec.state != RELEASING:
            self.failures += 1
            self.agent_failures[rec.agent_id] = self.agent_failures.get(rec.agent_id, 0) + 1
            if reason:
                self.last_failure = f"{executor_id} on {rec.hostname or rec.agent_id}: {reason}"
        return rec

    def agent_lost(self, agent_id: str) -> list[str]:
        """Executor ids that lived on a lost agent (each is then `lost`)."""
        return [e.executor_id for e in self.executors.values() if e.agent_id == agent_id]

    def release_idle(self, idle: list[str]) -> list[str]:
        """Of the executors the task scheduler found idle, those to release now (keeping at least
        `min_executors`); they are marked RELEASING. The backend kills their Mesos tasks."""
        if not self.spec.dynamic:
            return []
        keep = self.spec.min_executors
        running = [e for e in self.live() if e.state == RUNNING]
        out: list[str] = []
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
