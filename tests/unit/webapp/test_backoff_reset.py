"""Launch delay reset (Marathon's --minimum_viable_task_execution_duration): an app whose tasks
stop failing gets its backoff back to backoffSeconds; a config change resets it, a scale does not."""

from dcos.sdk import Offer
from dcos.sdk.framework import Launch
from dcos.testing import make_offer
from frameworks.webapp.actions import Deploy, TaskUpdate
from frameworks.webapp.core import CoreConfig, WebappCore
from frameworks.webapp.launch_queue import Backoff
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


def offers(n):
    return [Offer(make_offer(agent_id=f"a{i}", hostname=f"h{i}",
                             resources="cpus:4;mem:4096;ports:[31000-31099]")) for i in range(n)]


def status(tid, state):
    return TaskUpdate.of({"task_id": {"value": tid}, "state": state})


def launched(actions):
    return [t for a in actions if isinstance(a, Launch) for t in a.tasks]


def crash(core, now):
    """Launch the app's waiting task and let it fail at once."""
    [task] = launched(core.offers(now, offers(1)))
    core.status(now, status(task["task_id"]["value"], "TASK_FAILED"))
    core.evaluate(now)


def test_backoff_viable_after_minimum_duration():
    b = Backoff(seconds=10, factor=2)
    b.failed(T0)
    assert not b.viable(T0 + 10 + 59, 60)  # the delay ran out 59 s ago
    assert b.viable(T0 + 10 + 60, 60)
    assert not Backoff().viable(T0 + 1000, 60)  # no failures: nothing to reset


def test_delay_resets_after_the_app_stayed_up_long_enough():
    core = WebappCore(CoreConfig(minimum_viable_seconds=60))
    deploy(core, T0, app_def(instances=1, backoffSeconds=10, backoffFactor=2))
    core.evaluate(T0)
    crash(core, T0)
    crash(core, T0 + 10)
    st = core.app_state("/web")
    assert st.backoff.failures == 2 and st.backoff.delay() == 20
    [task] = launched(core.offers(T0 + 30, offers(1)))
    core.status(T0 + 31, status(task["task_id"]["value"], "TASK_RUNNING"))
    core.tick(T0 + 30 + 59)
    assert st.backoff.failures == 2  # not yet viable
    core.tick(T0 + 30 + 60)
    assert st.backoff.failures == 0 and st.backoff.until == 0
    # the next crash starts from backoffSeconds again
    core.status(T0 + 100, status(task["task_id"]["value"], "TASK_FAILED"))
    assert st.backoff.delay() == 10


def test_config_change_resets_the_delay_but_scaling_does_not():
    core = WebappCore()
    deploy(core, T0, app_def(instances=1, backoffSeconds=10))
    core.evaluate(T0)
    crash(core, T0)
    st = core.app_state("/web")
    deploy(core, T0 + 1, app_def(instances=2, backoffSeconds=10), force=True)
    assert st.backoff.failures == 1 and not st.backoff.ready(T0 + 2)
    deploy(core, T0 + 2, app_def(instances=2, backoffSeconds=10, cmd="sleep 5"), force=True)
    assert st.backoff.failures == 0 and st.backoff.ready(T0 + 2)
