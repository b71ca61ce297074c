"""Planner (pure): how many tasks of an app to launch and which to kill, right now.

Called by the core every time it re-evaluates an app (a status update, a deployment step, an
API change, a timer). It sees only `InstanceView`s and the numbers of the app definition, and
returns a `Plan`. Three modes:

- `plan_scale`: keep `instances` usable tasks (steady state and ScaleApplication). Tasks marked
  for replacement (unhealthy too long) are replaced first and killed only once enough others
  are healthy: the new one starts before the old one is killed.
- `plan_restart`: a rolling upgrade (RestartApplication) from old-configuration tasks to new
  ones with Marathon's ``upgradeStrategy``: at least ``ceil(instances *
  minimumHealthCapacity)`` tasks stay healthy, and at most ``floor(instances * (1 +
  maximumOverCapacity))`` tasks are alive (tasks being killed count until they are gone). When
  both bounds leave no room (``minimumHealthCapacity = 1``, ``maximumOverCapacity = 0``) one
  old task is killed to make progress, as Marathon does.
- `plan_stop`: kill everything (StopApplication).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

EPS = 1e-9


@dataclass(frozen=True)
class InstanceView:
    """What the planner knows of one task. `current`: runs the app's target configuration.
    `healthy`: running (and passing its health check when the app has one). `ready`: healthy
    and past its readiness checks. `killing`: a kill was sent. `replace`: marked for
    replacement (unhealthy for too long)."""

    id: str
    current: bool = True
    healthy: bool = False
    ready: bool = False
    killing: bool = False
    replace: bool = False
    staged_at: float = 0.0


@dataclass(frozen=True)
class Plan:
    launch: int = 0
    kill: list[str] = field(default_factory=list)


def bounds(instances: int, min_health: float, max_over: float) -> tuple[int, int]:
    """(minimum healthy, maximum alive) for a rolling upgrade to `instances`."""
    low = math.ceil(instances * min_health - EPS)
    high = math.floor(instances * (1.0 + max_over) + EPS)
    return low, max(high, instances)


def _kill_order(insts: Sequence[InstanceView], kill_selection: str) -> list[InstanceView]:
    """Least useful first: not yet healthy, then by kill selection (YOUNGEST_FIRST default)."""
    youngest = kill_selection != "OLDEST_FIRST"
    return sorted(
        insts,
        key=lambda i: (i.ready, i.healthy, -i.staged_at if youngest else i.staged_at, i.id),
    )


def plan_scale(
    instances: int, tasks: Sequence[InstanceView], kill_selection: str = "YOUNGEST_FIRST"
) -> Plan:
    active = [t for t in tasks if not t.killing]
    usable = [t for t in active if not t.replace]
    kill: list[str] = []
    launch = max(0, instances - len(usable))
    if len(usable) > instances:
        kill += [t.id for t in _kill_order(usable, kill_selection)[: len(usable) - instances]]
    healthy_usable = sum(1 for t in usable if t.healthy) - sum(
        1 for t in usable if t.healthy and t.id in kill
    )
    doomed = [t for t in active if t.replace]
    if doomed and healthy_usable >= instances:
        kill += [t.id for t in doomed]
    return Plan(launch, kill)


def plan_restart(
    instances: int,
    tasks: Sequence[InstanceView],
    min_health: float = 1.0,
    max_over: float = 1.0,
    kill_selection: str = "YOUNGEST_FIRST",
) -> Plan:
    low, high = bounds(instances, min_health, max_over)
    alive = len(tasks)  # killing ones count until they are gone
    active = [t for t in tasks if not t.killing]
    old = [t for t in active if not t.current]
    new = [t for t in active if t.current]
    kill: list[str] = []
    # Surplus new tasks (the target shrank) go first.
    if len(new) > instances:
        surplus = _kill_order(new, kill_selection)[: len(new) - instances]
        kill += [t.id for t in surplus]
        new = [t for t in new if t not in surplus]
    healthy_now = sum(1 for t in old if t.healthy) + sum(1 for t in new if t.ready)
    # Old tasks that are not healthy can go at any time; healthy ones while the healthy
    # count stays at or above the minimum.
    room = max(0, healthy_now - low)
    for t in _kill_order(old, kill_selection):
        if not t.healthy:
            kill.append(t.id)
        elif room > 0:
            kill.append(t.id)
            room -= 1
    launch = max(0, min(instances - len(new), high - alive))
    killing_now = any(t.killing for t in tasks)
    pending_new = any(not t.ready for t in new)
    old_left = [t for t in old if t.id not in kill]
    if not kill and launch == 0 and old_left and not killing_now and not pending_new:
        kill.append(_kill_order(old_left, kill_selection)[0].id)  # no room either way
    return Plan(launch, kill)


def plan_stop(tasks: Sequence[InstanceView]) -> Plan:
    return Plan(0, [t.id for t in tasks if not t.killing])


def restart_done(instances: int, tasks: Sequence[InstanceView]) -> bool:
    """A deployment step is done for an app: only current tasks, exactly `instances` of
    them, all ready; nothing still being killed or replaced."""
    if any(not t.current or t.killing or t.replace for t in tasks):
        return False
    return len(tasks) == instances and all(t.ready for t in tasks)


def scale_done(instances: int, tasks: Sequence[InstanceView]) -> bool:
    """ScaleApplication is done: `instances` usable tasks, all ready, none being killed."""
    if any(t.killing or t.replace for t in tasks):
        return False
    return len(tasks) == instances and all(t.ready for t in tasks)
