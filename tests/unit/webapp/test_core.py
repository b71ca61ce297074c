"""The sans-IO core driven directly: offers in, launches/kills out, status updates, timers."""

from dcos.sdk import Offer
from dcos.sdk.framework import Decline, Kill, Launch
from dcos.testing import make_offer
from frameworks.webapp.actions import Deploy, Publish, TaskUpdate
from frameworks.webapp.core import WebappCore
from frameworks.webapp.model.app import normalize
from frameworks.webapp.model.spec import AppSpec

T0 = 1_700_000_000.0


def app_def(**kw):
    app, errs = normalize({"id": "/web", "cmd": "sleep 100", "cpus": 0.5, "mem": 32, **kw})
    assert not errs, errs
    return AppSpec.parse(app)


def deploy(core, now, app, force=False):
    d, _ = core.deploy(now, Deploy({app.id: app}, force=force))
    return d


def offers(n=3, cpus=4):
    return [Offer(make_offer(agent_id=f"a{i}", hostname=f"h{i}",
                             resources=f"cpus:{cpus};mem:4096;ports:[31000-31099]")) for i in range(n)]


def status(tid, state, **kw):
    return TaskUpdate.of({"task_id": {"value": tid}, "state": state, **kw})


def launched(actions):
    return [t for a in actions if isinstance(a, Launch) for t in a.tasks]


def run_all(core, now, healthy=None):
    out = []
    for tid in list(core.tasks):
        extra = {"healthy": healthy} if healthy is not None else {}
        out += core.status(now, status(tid, "TASK_RUNNING", **extra))
    return out + core.evaluate(now)


def test_deploy_place_run_and_finish():
    core = WebappCore()
    d = deploy(core, T0, app_def(instances=3))
    core.evaluate(T0)
    assert core.app_state("/web").need == 3 and core.wants_offers
    acts = core.offers(T0, offers())
    tasks = launched(acts)
    assert len(tasks) == 3 and len({t["agent_id"]["value"] for t in tasks}) == 3  # spread
    assert tasks[0]["discovery"]["ports"]["ports"][0]["number"] == 31000
    assert not core.wants_offers and d.id in core.deployments
    acts = run_all(core, T0 + 1)
    assert d.id not in core.deployments
    assert Publish("deployment_success", {"id": d.id, "plan": d.plan_json()}) in acts
    # unused offers are declined with the long filter now that nothing waits
    decl = [a for a in core.offers(T0 + 2, offers()) if isinstance(a, Decline)]
    assert decl and decl[0].refuse_seconds == core.config.decline_long


def test_failed_task_is_replaced_after_backoff():
    core = WebappCore()
    deploy(core, T0, app_def(instances=1, backoffSeconds=10, backoffFactor=2))
    core.evaluate(T0)
    [task] = launched(core.offers(T0, offers(1)))
    tid = task["task_id"]["value"]
    core.status(T0 + 1, status(tid, "TASK_FAILED", message="exit 1"))
    core.evaluate(T0 + 1)
    assert core.app_state("/web").need == 1
    assert launched(core.offers(T0 + 2, offers(1))) == []  # still in its launch delay
    assert core.app_state("/web").last_failure["taskId"] == tid
    assert len(launched(core.offers(T0 + 12, offers(1)))) == 1
    core.status(T0 + 13, status(next(iter(core.tasks)), "TASK_FAILED"))
    assert core.app_state("/web").backoff.delay() == 20


def test_rolling_upgrade_starts_new_before_killing_old():
    core = WebappCore()
    deploy(core, T0, app_def(instances=2))
    core.evaluate(T0)
    core.offers(T0, offers())
    run_all(core, T0 + 1)
    old = set(core.tasks)
    _, acts = core.deploy(T0 + 2, Deploy({"/web": app_def(instances=2, cmd="sleep 200")}))
    kills = [a for a in acts + core.evaluate(T0 + 2) if isinstance(a, Kill)]
    assert kills == []  # minimumHealthCapacity 1: nothing goes before new ones are healthy
    new = launched(core.offers(T0 + 2, offers()))
    assert len(new) == 2  # maximumOverCapacity 1: both at once
    for t in new:
        core.status(T0 + 3, status(t["task_id"]["value"], "TASK_RUNNING"))
    kills = [a for a in core.evaluate(T0 + 3) if isinstance(a, Kill)]
    assert {k.task_id for k in kills} == old


def test_unhealthy_tasks_replaced_first_and_rate_limited():
    core = WebappCore()
    hc = [{"protocol": "MESOS_HTTP", "intervalSeconds": 1, "maxConsecutiveFailures": 3,
           "gracePeriodSeconds": 0}]
    deploy(core, T0, app_def(instances=10, healthChecks=hc))
    core.evaluate(T0)
    core.offers(T0, offers(3))
    core.offers(T0, offers(3))
    run_all(core, T0 + 1, healthy=True)
    assert not core.deployments
    first = set(core.tasks)
    for tid in first:  # a blip: every task looks unhealthy
        core.status(T0 + 2, status(tid, "TASK_RUNNING", healthy=False))
    core.tick(T0 + 10)
    marked = [i for i in core.tasks.values() if i.replace]
    assert len(marked) == 1  # at most 10% per interval
    kills = [a for a in core.tick(T0 + 10) if isinstance(a, Kill)]
    assert kills == []  # its replacement has not started yet
    [new] = launched(core.offers(T0 + 10, offers(3)))
    core.status(T0 + 11, status(new["task_id"]["value"], "TASK_RUNNING", healthy=True))
    for tid in first - {marked[0].task_id}:
        core.status(T0 + 11, status(tid, "TASK_RUNNING", healthy=True))  # blip over
    kills = [a for a in core.evaluate(T0 + 11) if isinstance(a, Kill)]
    assert [k.task_id for k in kills] == [marked[0].task_id]


def test_unreachable_task_replaced_after_inactive_and_killed_when_back():
    core = WebappCore()
    deploy(core, T0, app_def(instances=1, unreachableStrategy={
        "inactiveAfterSeconds": 30, "expungeAfterSeconds": 60}))
    core.evaluate(T0)
    [task] = launched(core.offers(T0, offers(1)))
    tid = task["task_id"]["value"]
    run_all(core, T0 + 1)
    core.status(T0 + 2, status(tid, "TASK_UNREACHABLE"))
    core.tick(T0 + 10)
    assert core.app_state("/web").need == 0  # not yet inactive
    core.tick(T0 + 40)
    assert core.app_state("/web").need == 1
    assert len(launched(core.offers(T0 + 40, offers(2)))) == 1
    acts = core.status(T0 + 45, status(tid, "TASK_RUNNING"))
    assert [a.task_id for a in acts if isinstance(a, Kill)] == [tid]


def test_unknown_running_task_is_killed():
    core = WebappCore()
    acts = core.status(T0, status("stray.1", "TASK_RUNNING", agent_id={"value": "a1"}))
    assert acts == [Kill("stray.1", "a1")]


def test_scale_down_kills_youngest_first():
    core = WebappCore()
    deploy(core, T0, app_def(instances=3))
    core.evaluate(T0)
    for i, o in enumerate(offers(3, cpus=0.5)):
        core.offers(T0 + i, [o])
    run_all(core, T0 + 5)
    youngest = max(core.tasks.values(), key=lambda i: i.staged_at).task_id
    _, acts = core.deploy(T0 + 6, Deploy({"/web": app_def(instances=2)}))  # planned at once
    kills = [a for a in acts + core.evaluate(T0 + 6) if isinstance(a, Kill)]
    assert [k.task_id for k in kills] == [youngest]
