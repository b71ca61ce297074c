"""Offer helpers: match a task's needs against an offer, pick ports, build TaskInfo JSON.

Called by framework schedulers from `Scheduler.resource_offers`::

    packer = OfferPacker(offer)
    needs = TaskNeeds.parse("cpus:0.1;mem:32", ports=1)
    tasks = []
    while pending and (fit := packer.take(needs)).ok:
        tasks.append(task_info(name="web", task_id=new_id(), agent_id=offer.agent_id,
                               resources=fit.resources, command="python -m http.server $PORT0"))
    await driver.launch([offer], tasks)       # all tasks in one ACCEPT
    # fit.reason says why the last one did not fit ("insufficient mem: need 32, left 16")

`OfferPacker` keeps the offer's resources grouped as the master sent them (role,
reservations, ``allocation_info``), takes reserved resources before unreserved ones, and
writes each task's resources with the same metadata so the master accepts them. Ports are
picked lowest first from the offer's ``ports`` ranges. Mount disks and other resources that
cannot be split are not treated specially.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from dcos.protocol.ids import wrap
from dcos.protocol.resources import RangeSet, Resources, normalize_ranges

Json = dict[str, Any]
_VALUE_KEYS = ("name", "type", "scalar", "ranges", "set")


@dataclass(frozen=True)
class TaskNeeds:
    """What one task needs: `resources` (scalars, and any exact ranges/sets such as a fixed
    port) plus `ports`, a number of ports to pick from whatever the offer has, and `roles`,
    the roles whose resources it may use (None: any; checked by the placement chain's
    `RoleFilter`, dcos/sdk/placement.py)."""

    resources: Resources
    ports: int = 0
    roles: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, text: str, ports: int = 0) -> TaskNeeds:
        """``TaskNeeds.parse("cpus:0.5;mem:128", ports=2)``."""
        return cls(Resources.parse(text), ports)

    @classmethod
    def of(
        cls,
        *,
        cpus: float = 0.0,
        mem: float = 0.0,
        disk: float = 0.0,
        gpus: float = 0.0,
        ports: int = 0,
        fixed_ports: Iterable[int] = (),
        roles: Iterable[str] | None = None,
        **scalars: float,
    ) -> TaskNeeds:
        """``TaskNeeds.of(cpus=0.5, mem=128, ports=2)``: scalars by name (zero ones left
        out; `mem` and `disk` in MB), `ports` picked from the offer, `fixed_ports` exact."""
        amounts = {"cpus": cpus, "mem": mem, "disk": disk, "gpus": gpus, **scalars}
        res = Resources(scalars={k: float(v) for k, v in amounts.items() if v})
        fixed = sorted(set(fixed_ports))
        if fixed:
            res = res + Resources(ranges={"ports": _ports_as_ranges(fixed)})
        return cls(res, ports, tuple(roles) if roles is not None else None)

    @property
    def needs(self) -> TaskNeeds:
        """Itself: a bare `TaskNeeds` is a placement `Demand` (dcos/sdk/placement.py)."""
        return self


@dataclass(frozen=True)
class Fit:
    """The outcome of matching needs against an offer: `ok` with the TaskInfo `resources`
    JSON and the chosen `ports`, or not `ok` with a `reason`."""

    ok: bool
    reason: str = ""
    resources: list[Json] = field(default_factory=list)
    ports: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return self.ok


def pick_ports(ranges: RangeSet | Iterable[tuple[int, int]], count: int) -> list[int] | None:
    """The `count` lowest ports in `ranges`, or None when there are not that many."""
    if count <= 0:
        return []
    out: list[int] = []
    for begin, end in normalize_ranges(ranges):
        take = min(count - len(out), end - begin + 1)
        out.extend(range(begin, begin + take))
        if len(out) == count:
            return out
    return None


def _ports_as_ranges(ports: Iterable[int]) -> RangeSet:
    return normalize_ranges((p, p) for p in ports)


def _fmt(q: float) -> str:
    return f"{q:g}"


@dataclass
class _Group:
    """Offer resources that share the same metadata (role, reservations, allocation)."""

    meta: Json
    resources: Resources
    reserved: bool


class OfferPacker:
    """Carves tasks out of one offer; `take` may be called until it stops fitting."""

    def __init__(self, offer: Mapping[str, Any]) -> None:
        self.offer = offer
        alloc = offer.get("allocation_info")
        groups: dict[bytes, tuple[Json, list[Json]]] = {}
        for item in offer.get("resources") or []:
            meta = {k: v for k, v in item.items() if k not in _VALUE_KEYS}
            if isinstance(alloc, dict) and "allocation_info" not in meta:
                meta["allocation_info"] = alloc
            key = orjson.dumps(meta, option=orjson.OPT_SORT_KEYS)
            groups.setdefault(key, (meta, []))[1].append(item)
        built = [
            _Group(meta, Resources.from_mesos(items), _is_reserved(meta))
            for meta, items in groups.values()
        ]
        self._groups = sorted(built, key=lambda g: not g.reserved)  # reserved first

    @property
    def remaining(self) -> Resources:
        """What is still free in the offer, as one `Resources`."""
        total = Resources.empty()
        for g in self._groups:
            total = total + g.resources
        return total

    def remaining_resources(self) -> list[Json]:
        """What is still free, as Mesos resource JSON with the offer's metadata."""
        return [r for g in self._groups for r in _to_json(g.resources, g.meta)]

    def check(self, needs: TaskNeeds) -> str | None:
        """Why `needs` does not fit in what is left, or None when it fits."""
        left = self.remaining
        for name, want in sorted(needs.resources.scalars.items()):
            have = left.scalar(name)
            if have + 1e-9 < want:
                return f"insufficient {name}: need {_fmt(want)}, offer has {_fmt(have)} left"
        for name, rs in needs.resources.ranges.items():
            if not left.contains(Resources(ranges={name: rs})):
                return f"{name} {rs} not offered"
        for name, items in needs.resources.sets.items():
            if not left.contains(Resources(sets={name: items})):
                return f"{name} {sorted(items)} not offered"
        if needs.ports:
            free = Resources(ranges={"ports": left.ranges.get("ports", ())}) - Resources(
                ranges={"ports": needs.resources.ranges.get("ports", ())}
            )
            have = sum(e - b + 1 for b, e in free.ranges.get("ports", ()))
            if have < needs.ports:
                return f"insufficient ports: need {needs.ports}, offer has {have} left"
        return None

    def take(self, needs: TaskNeeds) -> Fit:
        """Reserve `needs` out of the offer; returns the TaskInfo resources or a reason."""
        reason = self.check(needs)
        if reason is not None:
            return Fit(False, reason)
        want = needs.resources
        if needs.ports:
            avail = self.remaining.ranges.get("ports", ())
            free = (Resources(ranges={"ports": avail}) - want).ranges.get("ports", ())
            picked = pick_ports(free, needs.ports)
            assert picked is not None  # check() counted them
            want = want + Resources(ranges={"ports": _ports_as_ranges(picked)})
        ports = tuple(p for b, e in want.ranges.get("ports", ()) for p in range(b, e + 1))
        out: list[Json] = []
        for g in self._groups:
            taken = _intersect(g.resources, want)
            if taken:
                g.resources = g.resources - taken
                want = want - taken
                out.extend(_to_json(taken, g.meta))
        return Fit(True, "", out, ports)


def _is_reserved(meta: Mapping[str, Any]) -> bool:
    role = meta.get("role")
    return bool(meta.get("reservations")) or (isinstance(role, str) and role != "*")


def _intersect(have: Resources, want: Resources) -> Resources:
    """The part of `want` that `have` can give (scalars: the smaller amount)."""
    scalars = {k: min(v, have.scalar(k)) for k, v in want.scalars.items()}
    ranges = {}
    for k, rs in want.ranges.items():
        mine = Resources(ranges={k: have.ranges.get(k, ())})
        ranges[k] = (mine - (mine - Resources(ranges={k: rs}))).ranges.get(k, ())
    sets = {k: v & have.sets.get(k, frozenset()) for k, v in want.sets.items()}
    return Resources(scalars, ranges, sets)


def _to_json(res: Resources, meta: Mapping[str, Any]) -> list[Json]:
    out = []
    for item in res.to_mesos():
        item.pop("role", None)
        item.update(meta)
        out.append(item)
    return out


def task_info(
    *,
    name: str,
    task_id: str,
    agent_id: str,
    resources: list[Json] | Resources,
    command: str | Sequence[str] | Mapping[str, Any] | None = None,
    environment: Mapping[str, str] | None = None,
    uris: Iterable[str | Mapping[str, Any]] = (),
    user: str | None = None,
    executor: Json | None = None,
    container: Json | None = None,
    labels: Mapping[str, str] | None = None,
    data: bytes | None = None,
    health_check: Json | None = None,
    kill_grace_period: float | None = None,
    discovery: Json | None = None,
) -> Json:
    """A Mesos `TaskInfo` JSON object (every argument by keyword)::

        task_info(name="web", task_id=tid, agent_id=offer.agent_id, resources=fit.resources,
                  command="python -m http.server $PORT0", environment={"MODE": "prod"})

    `command`: a shell string (run with ``sh -c``), an argv list (run directly), or a Mesos
    CommandInfo dict; None only with a custom `executor` (ExecutorInfo dict). `resources`:
    a `Fit.resources` list or a `Resources` (unreserved). `kill_grace_period` in seconds.
    """
    if (command is None) == (executor is None):
        raise ValueError("a TaskInfo needs exactly one of command or executor")
    info: Json = {
        "name": name,
        "task_id": wrap(task_id),
        "agent_id": wrap(agent_id),
        "resources": resources.to_mesos() if isinstance(resources, Resources) else resources,
    }
    if command is not None:
        info["command"] = _command(command, environment, uris, user)
    if executor is not None:
        info["executor"] = executor
    if container is not None:
        info["container"] = container
    if labels:
        info["labels"] = {"labels": [{"key": k, "value": v} for k, v in labels.items()]}
    if data is not None:
        info["data"] = base64.b64encode(data).decode("ascii")
    if health_check is not None:
        info["health_check"] = health_check
    if kill_grace_period is not None:
        info["kill_policy"] = {"grace_period": {"nanoseconds": int(kill_grace_period * 1e9)}}
    if discovery is not None:
        info["discovery"] = discovery
    return info


def _command(
    command: str | Sequence[str] | Mapping[str, Any],
    environment: Mapping[str, str] | None,
    uris: Iterable[str | Mapping[str, Any]],
    user: str | None,
) -> Json:
    if isinstance(command, str):
        cmd: Json = {"value": command, "shell": True}
    elif isinstance(command, Mapping):
        cmd = dict(command)
    else:
        argv = list(command)
        if not argv:
            raise ValueError("empty command")
        cmd = {"value": argv[0], "arguments": argv, "shell": False}
    if environment:
        cmd["environment"] = {
            "variables": [{"name": k, "value": v} for k, v in environment.items()]
        }
    uri_list = [{"value": u} if isinstance(u, str) else dict(u) for u in uris]
    if uri_list:
        cmd["uris"] = uri_list
    if user is not None:
        cmd["user"] = user
    return cmd
