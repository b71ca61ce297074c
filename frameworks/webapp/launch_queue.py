"""Launch queue bookkeeping (pure): per-app launch delay (backoff) and offer statistics.

Called by the core: `Backoff.failed(now)` after a task of the app failed, `Backoff.ready(now)`
before launching, `reset()` on a new configuration or ``DELETE /v2/queue/{id}/delay``, and
`viable(now, min_seconds)` from the timer: as in Marathon (``--minimum_viable_task_execution_
duration``, 60 s), a delay whose deadline passed that long ago without a new failure is reset,
so an app that crashed a few times and then kept running starts from ``backoffSeconds`` again.
`OfferStats` records every offer round in which an app waited for tasks: how many offers were
processed and used, the verdict of each declined offer, and turns the last refusals into
Marathon's ``processedOffersSummary`` / ``lastUnusedOffers`` and into sentences for people
("no offer with 4 cpus", "hostname:UNIQUE satisfied by only 2 agents").
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dcos.protocol.ids import OfferID
from frameworks.webapp.model.json import iso
from frameworks.webapp.model.spec import BackoffPolicy
from frameworks.webapp.placement import AgentView, Slot, TaskRequest, Verdict

Json = dict[str, Any]
REASONS = (
    "UnfulfilledRole", "UnfulfilledConstraint", "NoCorrespondingReservationFound",
    "AgentMaintenance", "InsufficientCpus", "InsufficientMemory", "InsufficientDisk",
    "InsufficientGpus", "InsufficientPorts", "DeclinedScarceResources",
)  # fmt: skip


@dataclass
class Backoff:
    """``delay = backoffSeconds * backoffFactor ** (failures - 1)``, capped at
    ``maxLaunchDelaySeconds``; launches wait until `until`."""

    seconds: float = 1.0
    factor: float = 1.15
    max_delay: float = 3600.0
    failures: int = 0
    until: float = 0.0

    def configure(self, policy: BackoffPolicy) -> None:
        self.seconds, self.factor, self.max_delay = policy.seconds, policy.factor, policy.max_delay

    def delay(self) -> float:
        if self.failures <= 0:
            return 0.0
        return min(self.seconds * self.factor ** (self.failures - 1), self.max_delay)

    def failed(self, now: float) -> float:
        self.failures += 1
        self.until = now + self.delay()
        return self.until

    def reset(self) -> None:
        self.failures = 0
        self.until = 0.0

    def viable(self, now: float, min_seconds: float) -> bool:
        """Failures were counted, but none for `min_seconds` after the last launch delay
        ran out: the app is considered viable again (the caller resets the delay)."""
        return self.failures > 0 and now - self.until >= min_seconds

    def ready(self, now: float) -> bool:
        return now >= self.until

    def left(self, now: float) -> float:
        return max(0.0, self.until - now)


def _fmt(q: float) -> str:
    return f"{q:g}"


@dataclass
class OfferStats:
    """Offer statistics of one app while it waits for tasks."""

    processed: int = 0
    unused: int = 0
    last_used_at: float | None = None
    last_unused_at: float | None = None
    last_round: Counter[str] = field(default_factory=Counter)
    last_round_processed: int = 0
    last_unused: deque[Json] = field(default_factory=lambda: deque(maxlen=20))
    reasons: list[str] = field(default_factory=list)

    def used(self, now: float, n_offers: int) -> None:
        self.processed += n_offers
        self.last_used_at = now

    def refused(
        self, now: float, slots: Sequence[Slot], verdicts: Mapping[OfferID, Verdict], task: TaskRequest
    ) -> None:
        """A round in which `task` found no slot: remember each slot's verdict."""
        self.processed += len(slots)
        self.unused += len(verdicts)
        self.last_unused_at = now
        self.last_round = Counter(v.code for v in verdicts.values())
        self.last_round_processed = len(slots)
        for slot in slots:
            v = verdicts.get(slot.offer.id)
            if v is not None:
                self.last_unused.append({"offer": _offer_json(slot), "timestamp": iso(now),
                                         "reason": [v.code], "message": v.reason})  # fmt: skip
        self.reasons = explain(task, slots, verdicts)

    def clear(self) -> None:
        self.last_round = Counter()
        self.reasons = []

    def summary(self) -> Json:
        """Marathon's ``processedOffersSummary`` plus ``reasons`` (sentences)."""
        n = self.last_round_processed
        return {
            "processedOffersCount": self.processed,
            "unusedOffersCount": self.unused,
            "lastUnusedOfferAt": iso(self.last_unused_at),
            "lastUsedOfferAt": iso(self.last_used_at),
            "rejectSummaryLastOffers": [
                {"reason": r, "declined": self.last_round.get(r, 0), "processed": n}
                for r in REASONS
            ],
            "rejectSummaryLaunchAttempt": [
                {"reason": r, "declined": self.last_round.get(r, 0), "processed": n}
                for r in REASONS
            ],
            "reasons": list(self.reasons),
        }


def _offer_json(slot: Slot) -> Json:
    o = slot.offer
    return {
        "id": o.id,
        "agentId": o.agent_id,
        "hostname": o.hostname,
        "resources": [
            {k: v for k, v in r.items() if k in ("name", "scalar", "ranges", "set", "role")}
            for r in o.get("resources") or []
        ],
        "attributes": list(o.get("attributes") or []),
    }


def explain(task: TaskRequest, slots: Sequence[Slot], verdicts: Mapping[OfferID, Verdict]) -> list[str]:
    """Sentences saying why `task` found no offer, most common reason first."""
    if not slots:
        return ["no offers received (every agent is busy, filtered or gone)"]
    by_code: dict[str, list[Verdict]] = {}
    for v in verdicts.values():
        by_code.setdefault(v.code, []).append(v)
    out = []
    for code, vs in sorted(by_code.items(), key=lambda kv: -len(kv[1])):
        out.append(_sentence(code, vs, task, slots))
    return out


def _sentence(code: str, vs: list[Verdict], task: TaskRequest, slots: Sequence[Slot]) -> str:
    n = len(vs)
    offers = f"{n} offer{'s' if n != 1 else ''}"
    scalar = {"InsufficientCpus": ("cpus", task.cpus), "InsufficientMemory": ("mem", task.mem),
              "InsufficientDisk": ("disk", task.disk), "InsufficientGpus": ("gpus", task.gpus)}  # fmt: skip
    if code in scalar:
        name, want = scalar[code]
        best = max(s.left.scalar(name) for s in slots)
        return f"no offer with {_fmt(want)} {name} (the largest has {_fmt(best)}; {offers} refused)"
    if code == "InsufficientPorts":
        if task.fixed_ports:
            ports = ", ".join(str(p) for p in task.fixed_ports)
            return f"no offer with port(s) {ports} free ({offers} refused)"
        return f"no offer with {task.port_count} free port(s) ({offers} refused)"
    if code == "UnfulfilledRole":
        return f"no offer with resources of role(s) {', '.join(task.roles or ())} ({offers} refused)"
    if code == "UnfulfilledConstraint":
        return _constraint_sentence(vs, task, offers)
    return f"{code} ({offers} refused)"


def _constraint_sentence(vs: list[Verdict], task: TaskRequest, offers: str) -> str:
    names = Counter(v.reason.split(": ", 1)[-1] for v in vs)
    text = names.most_common(1)[0][0]
    for con in task.constraints:
        name = ":".join(con)
        if name != text:
            continue
        agents: Mapping[str, AgentView] = task.cluster
        values = {a.value(con[0]) for a in agents.values()} - {None}
        if con[1] == "UNIQUE":
            return (f"{name} satisfied by only {len(values)} agent"
                    f"{'s' if len(values) != 1 else ''} ({offers} refused)")  # fmt: skip
        if con[1] == "MAX_PER":
            return f"{name}: every {con[0]} value already runs {con[2]} task(s) ({offers} refused)"
        return f"{name} not satisfied by any offer ({offers} refused)"
    return f"{text} ({offers} refused)"
