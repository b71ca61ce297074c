"""Placement (pure): which offer a task goes to, and why every other offer was refused.

A framework turns each offer of a `resource_offers` callback into a `Slot` (the `Offer`, the
agent it is on as an `AgentView`, and an `OfferPacker` that shrinks as tasks are packed into
it). A task to place is any `Demand`: an object with a ``needs`` attribute (a `TaskNeeds`; a
bare `TaskNeeds` is one). A chain of `Filter`s says whether a slot can take the task, each
answering a `Verdict(ok, reason, code)`; a `Scorer` orders the slots that pass; `place` packs
up to ``count`` copies and, when one copy fits nowhere, returns every slot's verdict (the
"why not placed" of a stalled task)::

    from dcos.sdk import TaskNeeds
    from dcos.sdk.placement import Slot, place

    slots = [Slot.of(o) for o in offers]
    result = place(slots, TaskNeeds.of(cpus=1, mem=512, roles=["batch"]), count=3)
    for p in result.placements:           # p.slot.offer, p.fit.resources, p.fit.ports
        ...
    for offer_id, verdict in result.rejections.items():
        log.info("offer %s: %s", offer_id, verdict.reason)   # "h1: 0.5 cpus free, 1 needed"

Generic filters here: `RoleFilter` (the offer holds resources of an accepted role) and
`ResourceFilter` (scalars, fixed ports, a number of ports, other ranges and sets). A
framework adds its own (the webapp's placement constraints, frameworks/webapp/placement.py)
by writing a class with ``check(slot, task) -> Verdict``. Verdict codes are Marathon's
``NoOfferMatchReason`` names (``InsufficientCpus``, ``InsufficientMemory``, ``InsufficientPorts``,
``UnfulfilledRole`` ...). A verdict with ``lasting=True`` (resources, roles) holds for the rest
of one `place` call, since a slot only shrinks: `place` does not check that slot again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from dcos.protocol.ids import AgentID, OfferID
from dcos.protocol.resources import Resources
from dcos.sdk.offers import Fit, OfferPacker, TaskNeeds
from dcos.sdk.types import Offer


@dataclass(frozen=True)
class AgentView:
    """An agent as placement sees it: id, hostname and attributes (as strings)."""

    agent_id: AgentID
    hostname: str
    attributes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, offer: Offer) -> AgentView:
        attrs = {k: _attr_str(v) for k, v in offer.attributes.items()}
        return cls(offer.agent_id, offer.hostname, attrs)

    def value(self, fld: str) -> str | None:
        """``hostname`` / ``@hostname`` or an attribute (``@region`` reads ``region``)."""
        if fld in ("hostname", "@hostname"):
            return self.hostname
        if fld.startswith("@"):
            fld = fld[1:]
        return self.attributes.get(fld)


def _attr_str(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return ",".join(str(x) for x in v)
    return str(v)


@dataclass
class Slot:
    """An offer being packed; `left` is what is still free in it."""

    offer: Offer
    agent: AgentView
    packer: OfferPacker
    left: Resources = field(default_factory=Resources.empty)

    @classmethod
    def of(cls, offer: Offer) -> Slot:
        packer = OfferPacker(offer)
        return cls(offer, AgentView.of(offer), packer, packer.remaining)

    def take(self, needs: TaskNeeds) -> Fit:
        fit = self.packer.take(needs)
        if fit.ok:
            self.left = self.packer.remaining
        return fit

    def free_ports(self) -> int:
        return sum(e - b + 1 for b, e in self.left.ranges.get("ports", ()))

    def roles(self) -> set[str]:
        """The roles the offer's resources belong to (a reservation's role, else ``role``)."""
        out = set()
        for r in self.offer.get("resources") or []:
            res = r.get("reservations") or []
            out.add(res[-1].get("role", "*") if res else r.get("role", "*"))
        return out


@dataclass(frozen=True)
class Verdict:
    """A filter's answer: `ok`, or a `reason` sentence and a machine `code`."""

    ok: bool
    reason: str = ""
    code: str = ""
    lasting: bool = field(default=False, compare=False)


OK = Verdict(True)


class Demand(Protocol):
    """What `place` places: anything with the `TaskNeeds` of one task."""

    @property
    def needs(self) -> TaskNeeds: ...


T_contra = TypeVar("T_contra", contravariant=True)
D = TypeVar("D", bound=Demand)


class Filter(Protocol[T_contra]):
    def check(self, slot: Slot, task: T_contra) -> Verdict: ...


class Scorer(Protocol[T_contra]):
    def score(self, slot: Slot, task: T_contra) -> float: ...


def _fmt(q: float) -> str:
    return f"{q:g}"


class RoleFilter:
    """The offer must hold resources of one of the task's roles (``needs.roles``)."""

    def check(self, slot: Slot, task: Demand) -> Verdict:
        roles = task.needs.roles
        if roles is None or slot.roles() & set(roles):
            return OK
        return Verdict(False, f"{slot.agent.hostname}: offers roles {sorted(slot.roles())}, "
                       f"the task accepts {list(roles)}", "UnfulfilledRole", lasting=True)  # fmt: skip


SCALAR_CODES = {"cpus": "InsufficientCpus", "mem": "InsufficientMemory",
                "disk": "InsufficientDisk", "gpus": "InsufficientGpus"}  # fmt: skip


class ResourceFilter:
    """What is left in the slot covers the task's scalars (cpus, mem, disk, gpus first),
    fixed ports, number of ports, and other ranges and sets."""

    def check(self, slot: Slot, task: Demand) -> Verdict:
        needs = task.needs
        left = slot.left
        host = slot.agent.hostname
        scalars = needs.resources.scalars
        order = [n for n in SCALAR_CODES if n in scalars] + sorted(set(scalars) - set(SCALAR_CODES))
        for name in order:
            want, have = scalars[name], left.scalar(name)
            if want and have + 1e-9 < want:
                code = SCALAR_CODES.get(name, f"Insufficient{name.capitalize()}")
                return _no(f"{host}: {_fmt(have)} {name} free, {_fmt(want)} needed", code)
        fixed = needs.resources.ranges.get("ports", ())
        if fixed and not left.contains(Resources(ranges={"ports": fixed})):
            ports = ", ".join(str(p) for b, e in fixed for p in range(b, e + 1))
            return _no(f"{host}: port(s) {ports} not free", "InsufficientPorts")
        if needs.ports:
            free = slot.free_ports() - sum(e - b + 1 for b, e in fixed)
            if free < needs.ports:
                return _no(f"{host}: {free} free ports, {needs.ports} needed", "InsufficientPorts")
        for name, rs in needs.resources.ranges.items():
            if name != "ports" and not left.contains(Resources(ranges={name: rs})):
                return _no(f"{host}: {name} {rs} not free", f"Insufficient{name.capitalize()}")
        for name, items in needs.resources.sets.items():
            if not left.contains(Resources(sets={name: items})):
                return _no(f"{host}: {name} {sorted(items)} not free",
                           f"Insufficient{name.capitalize()}")  # fmt: skip
        return OK


def _no(reason: str, code: str) -> Verdict:
    return Verdict(False, reason, code, lasting=True)


class MostFreeCpus:
    """The default scorer: the slot with the most cpus left first (spreads load)."""

    def score(self, slot: Slot, task: object) -> float:
        return slot.left.scalar("cpus")


DEFAULT_FILTERS: tuple[Filter[Demand], ...] = (RoleFilter(), ResourceFilter())


def check(slot: Slot, task: D, filters: Sequence[Filter[D]] = DEFAULT_FILTERS) -> Verdict:
    """The first rejection of the chain, or `OK`."""
    for f in filters:
        v = f.check(slot, task)
        if not v.ok:
            return v
    return OK


@dataclass
class Placement:
    """One copy placed: the slot it went to and what it took (`fit.resources`, `.ports`)."""

    slot: Slot
    fit: Fit


@dataclass
class PlaceResult:
    placements: list[Placement]
    rejections: dict[OfferID, Verdict]  # offer id -> verdict, when a copy was left unplaced


def place(
    slots: Sequence[Slot],
    task: D,
    count: int,
    filters: Sequence[Filter[D]] = DEFAULT_FILTERS,
    scorer: Scorer[D] | None = None,
    on_placed: Callable[[Slot], None] | None = None,
) -> PlaceResult:
    """Place up to `count` copies of `task` on `slots`, packing each into the best-scoring
    slot that passes every filter (`on_placed(slot)` after each, e.g. to record where copies
    went). Stops at the first copy no slot can take and reports each slot's verdict for it.
    Called by framework cores from their offer handling."""
    score = (scorer or MostFreeCpus()).score
    out: list[Placement] = []
    dead: dict[OfferID, Verdict] = {}  # lasting rejections: never better later in this call
    needs = task.needs
    for _ in range(count):
        best: Slot | None = None
        best_score = float("-inf")
        verdicts: dict[OfferID, Verdict] = {}
        for slot in slots:
            oid = slot.offer.id
            if oid in dead:
                verdicts[oid] = dead[oid]
                continue
            v = check(slot, task, filters)
            if not v.ok:
                verdicts[oid] = v
                if v.lasting:
                    dead[oid] = v
                continue
            s = score(slot, task)
            if s > best_score:
                best, best_score = slot, s
        if best is None:
            return PlaceResult(out, verdicts)
        fit = best.take(needs)
        if not fit.ok:  # the filters said it fits; keep the books straight anyway
            dead[best.offer.id] = Verdict(False, fit.reason, "InsufficientPorts", lasting=True)
            continue
        out.append(Placement(best, fit))
        if on_placed is not None:
            on_placed(best)
    return PlaceResult(out, {})
