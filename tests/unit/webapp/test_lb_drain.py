"""A task of a load-balanced app is drained before its kill (issue 9): the core shows it as
TASK_KILLING (an event tells the load balancers), asks the shell to wake it, and sends the
kill only when the drain time (at most the app's kill grace period) has passed."""

from __future__ import annotations

from dcos.common.clock import SimClock
from dcos.sdk.framework import Kill
from dcos.state import MemoryStateStore
from frameworks.webapp.actions import Publish, WakeAt
from frameworks.webapp.api.render import task_json
from frameworks.webapp.core import CoreConfig, WebappCore
from frameworks.webapp.instances import Instance
from frameworks.webapp.scheduler import WebappService
from frameworks.webapp.store import WebappStore
from tests.unit.webapp.test_core import T0, app_def, deploy, launched, offers, run_all

LB = {"HAPROXY_GROUP": "external"}


def running_core(drain: float, **kw) -> tuple[WebappCore, str]:
    core = WebappCore(CoreConfig(drain_seconds=drain))
    deploy(core, T0, app_def(instances=1, **kw))
    core.evaluate(T0)
    [task] = launched(core.offers(T0, offers(1)))
    run_all(core, T0 + 1)
    return core, task["task_id"]["value"]


def kills(actions) -> list[str]:
    return [a.task_id for a in actions if isinstance(a, Kill)]


def restart(core: WebappCore, now: float, **kw) -> list:
    deploy(core, now, app_def(instances=1, cmd="sleep 200", **kw), force=True)
    out = core.evaluate(now)
    [task] = launched(core.offers(now, offers(1)))
    return out + run_all(core, now + 0.5) if task else out


def test_a_load_balanced_task_is_drained_then_killed() -> None:
    core, old = running_core(2.0, labels=LB)
    acts = restart(core, T0 + 10, labels=LB)
    assert kills(acts) == []  # the new task is up; the old one drains first
    inst = core.tasks[old]
    assert task_json(inst, False)["state"] == "TASK_KILLING"
    killing = [a for a in acts if isinstance(a, Publish) and a.payload.get("taskStatus") == "TASK_KILLING"]
    assert [a.payload["taskId"] for a in killing] == [old]
    assert WakeAt(T0 + 10.5 + 2.0) in acts
    assert kills(core.tick(T0 + 11.5)) == []
    assert kills(core.tick(T0 + 12.5)) == [old]
    assert kills(core.tick(T0 + 13.5)) == []  # sent once


def test_the_drain_is_bounded_by_the_kill_grace_period() -> None:
    core, old = running_core(5.0, labels=LB, taskKillGracePeriodSeconds=1)
    acts = restart(core, T0 + 10, labels=LB, taskKillGracePeriodSeconds=1)
    assert WakeAt(T0 + 11.5) in acts and kills(acts) == []
    assert kills(core.tick(T0 + 11.5)) == [old]


def test_apps_outside_load_balancers_and_no_drain_time_kill_at_once() -> None:
    core, old = running_core(2.0)
    assert kills(restart(core, T0 + 10)) == [old]
    core, old = running_core(0.0, labels=LB)
    assert kills(restart(core, T0 + 10, labels=LB)) == [old]


def test_a_drain_in_progress_survives_a_framework_restart() -> None:
    core, old = running_core(2.0, labels=LB)
    restart(core, T0 + 10, labels=LB)
    stored = {aid: [Instance.from_dict(i.to_dict()) for i in insts.values()]
              for aid, insts in core.instances.items()}
    again = WebappCore(CoreConfig(drain_seconds=2.0))
    again.restore(dict(core.apps), {}, stored, [], None)
    assert again.tasks[old].kill_at == T0 + 12.5
    assert kills(again.tick(T0 + 12.5)) == [old]


async def test_the_shell_wakes_the_core_once_per_burst_of_drains() -> None:
    clock = SimClock()
    svc = WebappService(WebappStore(MemoryStateStore()), master="127.0.0.1:1", clock=clock)
    now = clock.time()
    svc._take([WakeAt(now + 2.0), WakeAt(now + 2.0), WakeAt(now + 1.97), WakeAt(now + 3.0)])
    assert sorted(svc._wakes) == [now + 2.0, now + 3.0]
    await clock.advance(3.0)
    assert svc._wakes == set()  # each ran its tick and is gone
    await svc._background.close()
