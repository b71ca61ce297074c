"""How many copies of one task the agents' free resources take, fast (pure; used by
`frameworks.webapp.fit`).

The placement chain (`frameworks.webapp.placement.place`) packs one copy at a time: right
for a round of offers, too slow for a dry run of 100,000 instances. `place_many` gets the
same answer in one pass when the app's constraints do not depend on where its other copies
are (none, ``LIKE``, ``UNLIKE``, ``IS``, ``CLUSTER`` with a value): every agent the chain
accepts for one copy takes as many as its free resources hold (cpus, mem, disk, gpus, a
number of ports; fixed ports allow one), and the copies are spread as the chain's scorer
spreads them (evenly by count), then packed into the slots so later apps of a group see
what is left. ``CLUSTER`` without a value is decided by its first copy (placed through the
chain), then read as ``CLUSTER`` with that value. One ``UNIQUE`` or ``MAX_PER n`` caps the
copies per value of its field (1 or n) on top of that. ``GROUP_BY``, or several such
constraints together, go through the chain copy by copy, up to `CHAIN_BUDGET` slot checks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from dcos.protocol.ids import OfferID
from dcos.protocol.resources import Resources
from dcos.sdk import TaskNeeds
from frameworks.webapp.placement import Slot, TaskRequest, Verdict, check, place

DYNAMIC = frozenset({"UNIQUE", "MAX_PER", "GROUP_BY"})
CHAIN_BUDGET = 50_000  # slot checks one request may spend on copy-by-copy placement (~0.7 s)


@dataclass
class Placed:
    """`count` copies placed; when fewer than asked, each slot's verdict for the next one,
    and whether the count stopped at the chain's budget rather than at a refusal."""

    count: int
    verdicts: dict[OfferID, Verdict] = field(default_factory=dict)
    budget_spent: bool = False


def place_many(slots: Sequence[Slot], task: TaskRequest, count: int) -> Placed:
    """Place up to `count` copies of `task` on `slots` (packing them, `task.placed` grows).
    Called by `fit` for each app in turn."""
    dynamic = [c for c in task.constraints if c[1] in DYNAMIC]
    if len(dynamic) == 1 and dynamic[0][1] in ("UNIQUE", "MAX_PER") and not task.placed:
        con = dynamic[0]
        per_value = int(con[2]) if con[1] == "MAX_PER" else 1
        others = [list(c) for c in task.constraints if c is not con]
        static = dataclasses.replace(task, constraints=others)
        rest = _bulk(slots, static, count, (con[0], per_value))
        if rest.verdicts:  # the reasons as the whole chain gives them
            rest.verdicts = {s.offer.id: check(s, task) for s in slots}
        return rest
    if dynamic:
        return _chain(slots, task, count)
    done = 0
    open_cluster = [c for c in task.constraints if c[1] == "CLUSTER" and len(c) < 3]
    if open_cluster and count:
        first = place(slots, task, 1)
        if not first.placements:
            return Placed(0, dict(first.rejections))
        done = 1
        fixed = [[c[0], "CLUSTER", task.first_value(c[0]) or ""] if c in open_cluster else list(c)
                 for c in task.constraints]  # fmt: skip
        task = dataclasses.replace(task, constraints=fixed)
    rest = _bulk(slots, task, count - done)
    return Placed(done + rest.count, rest.verdicts)


def _chain(slots: Sequence[Slot], task: TaskRequest, count: int) -> Placed:
    limit = min(count, max(1, CHAIN_BUDGET // max(1, len(slots))))
    result = place(slots, task, limit)
    n = len(result.placements)
    return Placed(n, dict(result.rejections), budget_spent=n == limit < count)


def capacity(slot: Slot, needs: TaskNeeds, limit: int) -> int:
    """How many copies of `needs` fit in what `slot` has left (at most `limit`)."""
    left = slot.left
    cap = limit
    for name, want in needs.resources.scalars.items():
        if want > 0:
            cap = min(cap, math.floor((left.scalar(name) + 1e-9) / want))
    if needs.resources.ranges or needs.resources.sets:  # fixed ports: the same ones each time
        cap = min(cap, 1)
    if needs.ports:
        fixed = sum(e - b + 1 for b, e in needs.resources.ranges.get("ports", ()))
        cap = min(cap, (slot.free_ports() - fixed) // needs.ports)
    return max(cap, 0)


def spread(caps: Sequence[int], count: int) -> list[int]:
    """`count` copies over slots holding `caps` each, as evenly as the caps allow (fewest
    copies first, as the chain's scorer does); a list parallel to `caps`."""
    order = sorted(range(len(caps)), key=lambda i: caps[i])
    out = [0] * len(caps)
    remaining = count
    for k, i in enumerate(order):
        share = remaining // (len(order) - k) if k < len(order) - 1 else remaining
        out[i] = min(caps[i], share)
        remaining -= out[i]
    return out


def _times(needs: TaskNeeds, n: int) -> TaskNeeds:
    """The needs of `n` copies at once (only scalars and a port count can repeat)."""
    if n == 1:
        return needs
    scalars = {k: v * n for k, v in needs.resources.scalars.items()}
    return TaskNeeds(Resources(scalars=scalars), needs.ports * n, needs.roles)


def _bulk(slots: Sequence[Slot], task: TaskRequest, count: int,
          per_value: tuple[str, int] | None = None) -> Placed:  # fmt: skip
    """Every slot the chain accepts takes what it holds; with `per_value` (field, n) at most
    n copies go to the agents of each value of the field (``UNIQUE``: 1; ``MAX_PER n``)."""
    if count <= 0:
        return Placed(0)
    needs = task.needs
    caps = [capacity(s, needs, count) if check(s, task).ok else 0 for s in slots]
    if per_value is None:
        shares = spread(caps, min(count, sum(caps)))
    else:
        shares = _spread_per_value(slots, caps, count, *per_value)
    placed = 0
    for slot, n in zip(slots, shares, strict=True):
        if n and not slot.take(_times(needs, n)).ok:  # rounding: take them one by one
            n = next((i for i in range(n) if not slot.take(needs).ok), n)
        task.placed.extend([slot.agent] * n)
        placed += n
    if placed >= count:
        return Placed(placed)
    return Placed(placed, {s.offer.id: check(s, task) for s in slots})


def _spread_per_value(slots: Sequence[Slot], caps: list[int], count: int, fld: str,
                      per_value: int) -> list[int]:  # fmt: skip
    """Shares per slot when each value of `fld` takes at most `per_value` copies (agents
    without the field take none): spread over the values, then over each value's agents."""
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(slots):
        v = s.agent.value(fld)
        if v is not None:
            groups.setdefault(v, []).append(i)
    names = sorted(groups)
    allowed = [min(per_value, sum(caps[i] for i in groups[v])) for v in names]
    out = [0] * len(slots)
    for v, share in zip(names, spread(allowed, min(count, sum(allowed))), strict=True):
        members = groups[v]
        for i, n in zip(members, spread([caps[i] for i in members], share), strict=True):
            out[i] = n
    return out
