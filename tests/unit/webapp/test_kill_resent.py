"""A kill the webapp decided (and persisted) but whose KILL never reached the master (the
leader died in between) is sent again when reconciliation reports the task still alive, so a
new leader's rolling upgrade does not wait forever for it (found by
tests/chaos/test_webapp_failover.py)."""

from dcos.sdk.framework import Kill
from frameworks.webapp.core import WebappCore
from tests.unit.webapp.test_core import T0, app_def, deploy, launched, offers, status


def running_task(core: WebappCore) -> str:
    deploy(core, T0, app_def(instances=1))
    core.evaluate(T0)
    [task] = launched(core.offers(T0, offers(1)))
    tid = task["task_id"]["value"]
    core.status(T0 + 1, status(tid, "TASK_RUNNING"))
    return tid


def test_reconciliation_of_a_killing_task_resends_its_kill():
    core = WebappCore()
    tid = running_task(core)
    acts = core.fleet.kill(tid, T0 + 2)  # its KILL is lost: the actions are dropped here
    assert any(isinstance(a, Kill) for a in acts)
    assert core.fleet.kill(tid, T0 + 3) == []  # deciding again sends nothing
    acts = core.status(T0 + 4, status(tid, "TASK_RUNNING", reason="REASON_RECONCILIATION"))
    assert [a for a in acts if isinstance(a, Kill)] == [Kill(tid, core.fleet.tasks[tid].agent_id)]


def test_a_plain_update_of_a_killing_task_sends_no_second_kill():
    core = WebappCore()
    tid = running_task(core)
    core.fleet.kill(tid, T0 + 2)
    acts = core.status(T0 + 3, status(tid, "TASK_KILLING"))
    assert not [a for a in acts if isinstance(a, Kill)]
