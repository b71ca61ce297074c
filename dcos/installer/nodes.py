"""`dcos-py install --add-agent HOST [--public]` and `--remove-agent HOST`: grow or shrink a
running cluster by one agent.

Called by `dcos.installer.main` (`_add_agent`, `_remove_agent`), which also remembers the change
in ``genconf/inventory.json`` (`dcos.installer.inventory`) once the call succeeded -- so a failed
add can simply be run again.

- `add_agent(cfg, host)`: `cfg` already holds the new agent (`config.with_agent`). genconf
  refreshes the bundle keeping the cluster's build (``keep_build``; with ``--source`` it
  builds): the new host's certificate and configuration, the other hosts' files unchanged;
  preflight checks that host, deploy installs and starts it.
- `remove_agent(cfg, host)`: drains the agent, then takes it out:
  1. ``DEACTIVATE_AGENT`` at the leading master: no more offers from it;
  2. for each webapp app with tasks there (`drain_plan`): scale it up by that many instances
     and wait (`drain_timeout`) until that many more run elsewhere (``TASK_RUNNING``, and
     healthy when the app has health checks), then ``POST /v2/tasks/delete?scale=true`` with
     the old task ids and wait until they are gone;
  3. uninstall the host (`dcos.installer.uninstall`), then ``MARK_AGENT_GONE`` (it cannot
     register again with that id).
  When the tasks cannot be placed elsewhere in time, nothing is removed: the apps go back to
  their instance counts, the agent is reactivated, and the result names each app with the
  webapp's reasons (``/v2/queue``: ``processedOffersSummary.reasons`` / ``lastUnusedOffers``).
  Tasks of other frameworks (batch, package services) are not drained: they end with the host.

The drain decisions (`drain_plan`, `placed_elsewhere`, `queue_reasons`, `old_tasks_gone`) are
pure and unit-tested; the HTTP goes through `dcos.installer.cluster_api.ClusterApi`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dcos.installer.bundle import BundleError
from dcos.installer.cluster_api import AgentEntry, ApiError, ClusterApi, wait_until
from dcos.installer.config import ClusterConfig, HostSpec
from dcos.installer.deploy import deploy
from dcos.installer.progress import Progress, QuietProgress
from dcos.installer.runner import HostResult
from dcos.installer.ssh import connect
from dcos.installer.uninstall import uninstall
from dcos.protocol.ids import AgentID, TaskID

DRAIN_TIMEOUT_S = 300.0
KILL_TIMEOUT_S = 120.0
LIVE_STATES = frozenset({"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"})

Say = Callable[[str], None]


# -- pure drain decisions ----------------------------------------------------------------------


@dataclass(frozen=True)
class AppDrain:
    """One app with tasks on the drained agent: its id, instance count before the drain, and
    the ids of its tasks there."""

    app_id: str
    instances: int
    task_ids: tuple[TaskID, ...]

    @property
    def target(self) -> int:
        """Instances while draining: one more per task on the agent."""
        return self.instances + len(self.task_ids)


def _on_agent(task: dict[str, Any], agent_id: AgentID | None, address: str) -> bool:
    """By the agent id when known (host names need not be unique), else by address."""
    if agent_id is not None:
        return bool(task.get("slaveId") == agent_id)
    return task.get("host") == address


def drain_plan(tasks: Iterable[dict[str, Any]], agent_id: AgentID | None,
               address: str) -> dict[str, list[TaskID]]:
    """app id -> ids of its live tasks on the agent (by its id, else by host address)."""
    out: dict[str, list[TaskID]] = {}
    for t in tasks:
        if t.get("state") not in LIVE_STATES or not isinstance(t.get("id"), str):
            continue
        if _on_agent(t, agent_id, address):
            out.setdefault(str(t.get("appId", "")), []).append(TaskID(t["id"]))
    return out


def _healthy(task: dict[str, Any]) -> bool:
    results = task.get("healthCheckResults") or []
    return bool(results) and all(isinstance(r, dict) and r.get("alive") for r in results)


def placed_elsewhere(tasks: Iterable[dict[str, Any]], app_id: str, agent_id: AgentID | None,
                     address: str, *, health_checks: bool) -> int:
    """How many tasks of `app_id` run on other agents (healthy, when it has health checks)."""
    n = 0
    for t in tasks:
        if t.get("appId") != app_id or t.get("state") != "TASK_RUNNING":
            continue
        if _on_agent(t, agent_id, address):
            continue
        if health_checks and not _healthy(t):
            continue
        n += 1
    return n


def queue_reasons(queue: Iterable[dict[str, Any]], app_id: str) -> str:
    """Why the webapp cannot place `app_id`'s waiting instances (its /v2/queue entry), or ""."""
    for item in queue:
        app = item.get("app")
        if not isinstance(app, dict) or app.get("id") != app_id:
            continue
        summary = item.get("processedOffersSummary") or {}
        reasons = [str(r) for r in summary.get("reasons") or [] if r]
        if not reasons:
            seen: list[str] = []
            for offer in item.get("lastUnusedOffers") or []:
                msg = str(offer.get("message") or ", ".join(offer.get("reason") or []))
                if msg and msg not in seen:
                    seen.append(msg)
            reasons = seen
        if not reasons:
            processed = summary.get("processedOffersCount", 0)
            return f"{item.get('count', '?')} instance(s) waiting, {processed} offer(s) seen"
        return "; ".join(reasons[:3])
    return ""


def old_tasks_gone(tasks: Iterable[dict[str, Any]], old: Iterable[TaskID]) -> list[TaskID]:
    """The task ids of `old` still alive (empty: all gone)."""
    wanted = set(old)
    return sorted(TaskID(t["id"]) for t in tasks
                  if t.get("id") in wanted and t.get("state") in LIVE_STATES)  # fmt: skip


# -- add ---------------------------------------------------------------------------------------


def _as_host(cfg: ClusterConfig, host: HostSpec | str, public: bool) -> tuple[ClusterConfig,
                                                                             HostSpec]:
    from dcos.installer.config import with_agent

    if isinstance(host, HostSpec):
        return cfg, host
    found = cfg.host(host)
    if found is None:
        cfg = with_agent(cfg, host, public)
        found = cfg.host(host)
    assert found is not None
    return cfg, found


async def add_agent(cfg: ClusterConfig, host: HostSpec | str, public: bool = False, *,
                    progress: Progress | None = None, say: Say = print,
                    source: Any = None, connect: Callable[..., Any] = connect
                    ) -> list[HostResult]:  # fmt: skip
    """genconf (with the new host), preflight that host, deploy it; its results (the
    preflight's when it failed). `host` is the new agent's HostSpec in `cfg`, or an address
    (then `public` says which kind and `cfg` gains it)."""
    from dcos.installer.genconf import genconf
    from dcos.installer.preflight import preflight

    cfg, spec = _as_host(cfg, host, public)
    if spec.role == "master":
        return [HostResult(spec.address, False, "is a master: only agents are added one by one")]
    progress = progress or QuietProgress(say)
    kind = "public agent" if spec.role == "public_agent" else "agent"
    say(f"adding {spec.address} as {'a ' + kind if kind == 'public agent' else 'an agent'}: "
        "genconf")
    # the new host joins the build the cluster runs (no rebuild) unless a source is given
    manifest = await asyncio.to_thread(genconf, cfg, source=source, say=say,
                                       keep_build=source is None)
    checks = await preflight(cfg, [spec], manifest, progress)
    if not all(r.ok for r in checks):
        return checks
    return await deploy(cfg, [spec], manifest, progress, connect=connect)


# -- remove ------------------------------------------------------------------------------------


class DrainFailed(Exception):
    """The agent's tasks could not be moved (one line per app, in `message`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def _set_instances(api: ClusterApi, app_id: str, instances: int, timeout: float) -> None:
    """PUT the app's instances; a deployment in progress (409) is waited out."""

    async def attempt() -> str | None:
        try:
            await api.scale(app_id, instances)
        except ApiError as exc:
            if exc.status == 409:
                return f"{app_id}: a deployment is in progress ({exc.message})"
            raise
        return None

    why = await wait_until(attempt, timeout, interval=2.0)
    if why is not None:
        raise DrainFailed(why)


async def drain(api: ClusterApi, agent: AgentEntry | None, address: str, *, say: Say,
                timeout: float = DRAIN_TIMEOUT_S) -> int:
    """Moves the webapp tasks off the agent (see the module doc); how many were moved.
    `DrainFailed` (apps back at their counts) when they cannot be placed within `timeout`."""
    agent_id = agent.agent_id if agent is not None else None
    plan = drain_plan(await api.tasks(), agent_id, address)
    if not plan:
        say(f"{address}: no webapp tasks to move")
        return 0
    drains: list[AppDrain] = []
    health: dict[str, bool] = {}
    for app_id, ids in sorted(plan.items()):
        app = await api.app(app_id)
        drains.append(AppDrain(app_id, int(app.get("instances", 0)), tuple(ids)))
        health[app_id] = bool(app.get("healthChecks"))
    for d in drains:
        say(f"{address}: {d.app_id}: {len(d.task_ids)} task(s) here; scaling {d.instances} -> "
            f"{d.target} to start them elsewhere")
        await _set_instances(api, d.app_id, d.target, timeout)

    async def placed() -> str | None:
        tasks = await api.tasks()
        short = [d for d in drains if placed_elsewhere(
            tasks, d.app_id, agent_id, address, health_checks=health[d.app_id]) < d.instances]
        if not short:
            return None
        return ", ".join(d.app_id for d in short)

    why = await wait_until(placed, timeout, interval=1.0)
    if why is not None:
        problems = []
        queue = await _queue(api)
        tasks = await api.tasks()
        for d in drains:
            have = placed_elsewhere(tasks, d.app_id, agent_id, address,
                                    health_checks=health[d.app_id])
            if have >= d.instances:
                continue
            reasons = queue_reasons(queue, d.app_id) or ("started but not healthy"
                                                         if health[d.app_id] else "not placed")
            problems.append(f"app {d.app_id}: {d.instances - have} of {len(d.task_ids)} "
                            f"task(s) not running elsewhere after {timeout:g} s: {reasons}")
        for d in drains:  # back to where it was
            try:
                await _set_instances(api, d.app_id, d.instances, 30)
            except (ApiError, DrainFailed) as exc:
                problems.append(f"app {d.app_id}: could not scale back to {d.instances}: {exc}")
        raise DrainFailed("; ".join(problems) or f"tasks not placed: {why}")
    old = [t for d in drains for t in d.task_ids]
    say(f"{address}: replacements run; killing the {len(old)} old task(s) (scale=true)")
    await api.delete_tasks(old, scale=True)

    async def gone() -> str | None:
        left = old_tasks_gone(await api.tasks(), old)
        return f"still running: {', '.join(left[:5])}" if left else None

    why = await wait_until(gone, KILL_TIMEOUT_S)
    if why is not None:
        raise DrainFailed(f"old tasks not gone after {KILL_TIMEOUT_S:g} s: {why}")
    return len(old)


async def _queue(api: ClusterApi) -> list[dict[str, Any]]:
    try:
        return await api.queue()
    except ApiError:
        return []


async def remove_agent(cfg: ClusterConfig, host: HostSpec | str, *,
                       progress: Progress | None = None, say: Say = print,
                       drain_timeout: float = DRAIN_TIMEOUT_S,
                       connect: Callable[..., Any] = connect) -> list[HostResult]:
    """Drains the agent, uninstalls it and marks it gone (see the module doc); one result."""
    address = host.address if isinstance(host, HostSpec) else host
    spec = cfg.host(address)
    if spec is None:
        return [HostResult(address, False, "unknown agent: not a host of the cluster "
                                           "(cluster.yaml + genconf/inventory.json)")]
    if spec.role == "master":
        return [HostResult(address, False, "is a master: masters are not removed one by one")]
    progress = progress or QuietProgress(say)
    try:
        api = ClusterApi(cfg)
    except BundleError as exc:
        return [HostResult(address, False, str(exc))]
    async with api:
        try:
            agent = await api.agent(spec.address)
        except ApiError as exc:
            return [HostResult(address, False, f"cannot reach the leading master: {exc}")]
        if agent is None:
            say(f"{address}: not registered at the master (down?): draining by address")
        else:
            try:
                await api.operator_call("DEACTIVATE_AGENT", agent.agent_id)
            except ApiError as exc:
                return [HostResult(address, False, f"DEACTIVATE_AGENT failed: {exc}")]
            say(f"{address}: agent {agent.agent_id} deactivated (no more offers from it)")
        try:
            moved = await drain(api, agent, spec.address, say=say, timeout=drain_timeout)
        except (DrainFailed, ApiError) as exc:
            await _reactivate(api, agent, say)
            return [HostResult(address, False, f"drain failed, nothing removed: {exc.message}")]
        (result,) = await uninstall(cfg, [spec], progress, connect=connect)
        if not result.ok:
            return [HostResult(address, False, f"drained ({moved} task(s) moved), but the "
                                               f"uninstall failed: {result.detail}")]
        if agent is not None:
            try:
                await api.operator_call("MARK_AGENT_GONE", agent.agent_id)
            except ApiError as exc:
                return [HostResult(address, False, f"uninstalled, but MARK_AGENT_GONE failed: "
                                                   f"{exc}")]
    return [HostResult(address, True, f"{moved} task(s) moved elsewhere; {result.detail}"
                                      + ("; marked gone" if agent is not None else ""))]


async def _reactivate(api: ClusterApi, agent: AgentEntry | None, say: Say) -> None:
    if agent is None:
        return
    try:
        await api.operator_call("REACTIVATE_AGENT", agent.agent_id)
        say(f"agent {agent.agent_id} reactivated")
    except ApiError as exc:
        say(f"agent {agent.agent_id}: REACTIVATE_AGENT failed ({exc}); it stays deactivated")

