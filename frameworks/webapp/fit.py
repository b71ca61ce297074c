"""Whether apps fit the cluster now, and why not (pure): the core of ``POST /v2/fit``.

Called by the fit route (`frameworks.webapp.api.fit`) with the agents the master reports
(``/master/slaves``, parsed by `agents_from_slaves`) and the validated app definitions of the
request (`AppSpec`: the host ports an instance needs are a count, or with ``requirePorts`` its
fixed port numbers, as for a launch). `fit` turns each active agent's
free resources (unreserved minus used: what is offered to some framework right now counts as
free, since it returns when declined) into one `Slot`, and places every instance of every
app through the webapp's own placement chain (`frameworks.webapp.placement`: roles,
resources incl. ports, then Marathon's constraints), packing the apps one after the other on
the same slots, as the launch queue would with one offer per agent (`frameworks.webapp.fit_place`
counts many copies at once where the constraints allow). An app left short gets
reasons that name the resource (``insufficient cpus: needs 0.5, best agent has 0.3``) or the
constraint (``constraint hostname:UNIQUE: ...``). Nothing here does I/O or changes state.

Limits: resources reserved for a role are not modelled (the master reserves none), nor the
webapp's own queue (apps still waiting for tasks do not hold resources yet), nor the
minimum an agent must have free to be offered (0.01 cpus or 32 MB).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dcos.protocol.ids import AgentID
from dcos.protocol.resources import ResourceError, Resources
from dcos.sdk.offers import OfferPacker
from dcos.sdk.types import Offer
from frameworks.webapp.fit_place import place_many
from frameworks.webapp.launch import task_request
from frameworks.webapp.model.spec import AppSpec
from frameworks.webapp.placement import AgentView, Slot, TaskRequest, Verdict

Json = dict[str, Any]
SCALARS = {"InsufficientCpus": "cpus", "InsufficientMemory": "mem", "InsufficientDisk": "disk",
           "InsufficientGpus": "gpus"}  # fmt: skip


@dataclass(frozen=True)
class AgentFree:
    """One agent as the fit sees it: where it is, its attributes (as strings, as placement
    reads them) and what is free on it now."""

    agent_id: str
    hostname: str
    attributes: Mapping[str, str]
    free: Resources
    has_gpus: bool = False
    role: str = "*"  # the role the whole agent is statically reserved to (``*``: none)

    def slot(self) -> Slot:
        """A fresh `Slot` holding everything free on the agent (of its role)."""
        offer = Offer({"id": {"value": f"fit-{self.agent_id}"}, "agent_id": {"value": self.agent_id},
                       "hostname": self.hostname, "resources": self.free.to_mesos(self.role)})  # fmt: skip
        packer = OfferPacker(offer)
        view = AgentView(AgentID(self.agent_id), self.hostname, dict(self.attributes))
        return Slot(offer, view, packer, packer.remaining)


@dataclass
class Reason:
    """Why copies of an app were refused: a sentence, Marathon's NoOfferMatchReason code and
    how many agents refused for it."""

    reason: str
    code: str
    agents: int

    def to_json(self) -> Json:
        return {"reason": self.reason, "code": self.code, "agents": self.agents}


@dataclass
class AppFit:
    id: str
    instances: int
    placeable: int
    reasons: list[Reason] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return self.placeable >= self.instances

    def to_json(self) -> Json:
        return {"id": self.id, "instances": self.instances, "placeable": self.placeable,
                "fits": self.fits, "reasons": [r.to_json() for r in self.reasons]}  # fmt: skip


@dataclass
class FitResult:
    apps: list[AppFit]
    agents: int

    @property
    def fits(self) -> bool:
        return all(a.fits for a in self.apps)

    def to_json(self) -> Json:
        """The 200 body of ``POST /v2/fit``."""
        return {"fits": self.fits, "agents": self.agents, "apps": [a.to_json() for a in self.apps]}


def _attr(v: Any) -> str:
    """An attribute value as placement compares it (as `AgentView.of` writes offer ones)."""
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict):  # Mesos Attribute JSON
        for key in ("text", "scalar"):
            if isinstance(v.get(key), dict):
                return _attr(v[key].get("value"))
    if isinstance(v, list):
        return ",".join(str(x) for x in v)
    return str(v)


def summary_resources(summary: Any) -> Resources:
    """Mesos' /state resource summary (``{"cpus": 4, "ports": "[31000-32000]"}``) as
    `Resources`; raises `ResourceError` on a malformed one."""
    if not summary:
        return Resources.empty()
    if not isinstance(summary, dict):
        raise ResourceError("a resource summary must be an object")
    parts = []
    for name, value in summary.items():
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ResourceError(f"bad value for resource {name!r}")
        if isinstance(value, int | float) and value <= 0:
            continue
        if isinstance(value, str) and value.strip() in ("[]", "{}", ""):
            continue
        parts.append(f"{name}:{value}")
    return Resources.parse(";".join(parts))


def agents_from_slaves(body: Any) -> list[AgentFree]:
    """The active agents of a master's ``/master/slaves`` answer, with what is free on each
    (``unreserved_resources`` or else ``resources``, minus ``used_resources``). Called by the
    fit route with the JSON it fetched; raises `ResourceError` on a body of another shape."""
    slaves = body.get("slaves") if isinstance(body, dict) else None
    if not isinstance(slaves, list):
        raise ResourceError("the master's answer has no 'slaves' list")
    out = []
    for s in slaves:
        if not isinstance(s, dict) or s.get("active") is False:
            continue
        total = summary_resources(s.get("unreserved_resources") or s.get("resources"))
        reserved = s.get("reserved_resources")
        role = "*"
        if isinstance(reserved, dict) and len(reserved) == 1:  # a whole agent reserved to a role
            role, summary = next(iter(reserved.items()))
            total = summary_resources(summary)
        used = summary_resources(s.get("used_resources"))
        attrs = s.get("attributes") or {}
        if isinstance(attrs, list):  # Mesos Attribute JSON list
            attrs = {a["name"]: a for a in attrs if isinstance(a, dict) and "name" in a}
        out.append(AgentFree(
            agent_id=str(s.get("id", "")), hostname=str(s.get("hostname", "")),
            attributes={str(k): _attr(v) for k, v in attrs.items()} if isinstance(attrs, dict) else {},
            free=total - used, has_gpus=summary_resources(s.get("resources")).scalar("gpus") > 0,
            role=str(role),
        ))  # fmt: skip
    return out


def fit(
    agents: Sequence[AgentFree], apps: Sequence[AppSpec], gpus_enabled: bool = False,
    default_roles: tuple[str, ...] | None = None,
) -> FitResult:
    """Place every instance of `apps` (in order, sharing the agents' free resources) and say
    per app how many could be placed and why not more. `gpus_enabled`: the webapp asks for
    GPU_RESOURCES (without it, the master never offers an agent that has GPUs to it);
    `default_roles`: the accepted roles of apps without ``acceptedResourceRoles``."""
    usable = [a for a in agents if gpus_enabled or not a.has_gpus]
    slots = [a.slot() for a in usable]
    cluster = {str(s.agent.agent_id): s.agent for s in slots}
    out = []
    for app in apps:
        task = task_request(app, (), cluster, default_roles)
        if app.instances == 0:
            out.append(AppFit(app.id, 0, 0))
            continue
        result = place_many(slots, task, app.instances)
        placed = result.count
        reasons = [] if placed >= app.instances else explain(task, slots, result.verdicts)
        if result.budget_spent:
            reasons = [Reason(f"not checked past {placed} instances: with a GROUP_BY constraint (or several "
                              "UNIQUE/MAX_PER) every instance is placed one by one", "NotChecked", 0)]  # fmt: skip
        if reasons and app.gpus and not gpus_enabled and len(usable) < len(agents):
            reasons.append(Reason("agents with GPUs are offered only to a webapp started with --gpus",
                                  "InsufficientGpus", len(agents) - len(usable)))  # fmt: skip
        out.append(AppFit(app.id, app.instances, placed, reasons))
    return FitResult(out, len(usable))


def _fmt(q: float) -> str:
    return f"{q:g}"


def explain(
    task: TaskRequest, slots: Sequence[Slot], verdicts: Mapping[Any, Verdict]
) -> list[Reason]:
    """Why the next copy of `task` fits nowhere: one `Reason` per refusal code, the most
    agents first. `slots` as they were when the copy was refused."""
    if not slots:
        return [Reason("no active agents", "NoAgents", 0)]
    groups: dict[tuple[str, str], list[tuple[Slot, Verdict]]] = {}
    for s in slots:
        v = verdicts.get(s.offer.id)
        if v is not None:  # one reason per code, and per constraint
            text = v.reason.split(": ", 1)[-1] if v.code == "UnfulfilledConstraint" else ""
            groups.setdefault((v.code, text), []).append((s, v))
    ranked = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    return [
        Reason(_sentence(code, refused, task), code, len(refused)) for (code, _), refused in ranked
    ]


def _sentence(code: str, refused: list[tuple[Slot, Verdict]], task: TaskRequest) -> str:
    """The sentence for the agents `refused` with `code` (each slot with its verdict)."""
    slots = [s for s, _ in refused]
    if code in SCALARS:
        name = SCALARS[code]
        want = task.needs.resources.scalar(name)
        best = max(s.left.scalar(name) for s in slots)
        return f"insufficient {name}: needs {_fmt(want)}, best agent has {_fmt(best)}"
    if code == "InsufficientPorts":
        if task.fixed_ports:
            ports = ", ".join(str(p) for p in task.fixed_ports)
            return f"insufficient ports: needs port(s) {ports}, no agent has them free"
        best = max(s.free_ports() for s in slots)
        return f"insufficient ports: needs {task.port_count}, best agent has {best}"
    if code == "UnfulfilledRole":
        have = sorted(set[str]().union(*(s.roles() for s in slots)))
        return f"no agent has resources of role(s) {', '.join(task.roles or ())} (agents have {', '.join(have)})"
    if code == "UnfulfilledConstraint":
        return _constraint_sentence(refused, task)
    return f"{code}: {refused[0][1].reason}"


def _constraint_sentence(refused: list[tuple[Slot, Verdict]], task: TaskRequest) -> str:
    """Name the constraint the agents `refused` for, and say what about it fails."""
    text = refused[0][1].reason.split(": ", 1)[-1]
    if text.startswith("has no "):
        fld, _, name = text[len("has no ") :].partition(" for ")
        return f"constraint {name}: no agent has the attribute {fld}"
    con = next((c for c in task.constraints if ":".join(c) == text), None)
    if con is None:  # CLUSTER without a value, read as CLUSTER with its first copy's value
        return f"constraint {text}: no other agent satisfies it"
    values = _values(con[0], task.cluster.values())
    n = len(values)
    if con[1] == "UNIQUE":
        return (f"constraint {text}: the agents have {n} distinct {con[0]} value(s), "
                f"so at most {n} instance(s) can run")  # fmt: skip
    if con[1] == "MAX_PER":
        return (
            f"constraint {text}: each of the {n} {con[0]} value(s) already has {con[2]} instance(s)"
        )
    if con[1] == "GROUP_BY":
        return f"constraint {text}: no {con[0]} value can take another instance and stay balanced"
    return f"constraint {text}: no agent satisfies it (the agents' {con[0]}: {', '.join(sorted(values)) or 'none'})"


def _values(fld: str, agents: Iterable[AgentView]) -> set[str]:
    return {v for v in (a.value(fld) for a in agents) if v is not None}
