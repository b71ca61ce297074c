"""Property tests of the webapp core driven through its entry points only: whatever sequence
of deployments, offers, task starts, failures, kills and timer ticks it sees, (1) a launch is
always preceded by the Persist of its instance in the same action list (the store knows every
task before the master does), and (2) once the cluster behaves (offers, tasks start, kills
complete), every deployment finishes with exactly the target number of tasks of the latest
configuration running and offers suppressed."""

from hypothesis import given, settings
from hypothesis import strategies as st

from dcos.sdk import Offer
from dcos.sdk.framework import Kill, Launch, Revive, Suppress
from dcos.testing import make_offer
from frameworks.webapp.actions import Deploy, Persist, TaskUpdate
from frameworks.webapp.core import WebappCore
from frameworks.webapp.instances import Instance
from frameworks.webapp.model.app import normalize
from frameworks.webapp.model.spec import AppSpec

T0 = 1_700_000_000.0
OPS = st.one_of(
    st.tuples(st.just("deploy"), st.integers(0, 5), st.integers(0, 2), st.sampled_from([0.0, 0.5, 1.0])),
    st.tuples(st.just("offer"), st.integers(1, 3)),
    st.tuples(st.just("run"), st.integers(0, 20)),
    st.tuples(st.just("fail"), st.integers(0, 20)),
    st.tuples(st.just("killed"), st.integers(0, 20)),
    st.tuples(st.just("tick"), st.floats(0.5, 30)),
)


def spec(instances: int, variant: int, min_health: float) -> AppSpec:
    app, errs = normalize({"id": "/web", "cmd": f"serve {variant}", "cpus": 0.1, "mem": 16,
                           "instances": instances, "backoffSeconds": 1, "backoffFactor": 1.0,
                           "upgradeStrategy": {"minimumHealthCapacity": min_health, "maximumOverCapacity": 0.5}})  # fmt: skip
    assert not errs, errs
    return AppSpec.parse(app)


def offers(n: int, round_: int) -> list[Offer]:
    return [Offer(make_offer(offer_id=f"o{round_}-{i}", agent_id=f"a{i}", hostname=f"h{i}",
                             resources="cpus:2;mem:1024;ports:[31000-31099]")) for i in range(n)]  # fmt: skip


class Model:
    def __init__(self) -> None:
        self.core = WebappCore()
        self.now = T0
        self.rounds = 0
        self.interest: list[object] = []

    def check(self, actions: list) -> list:
        persisted: set[str] = set()
        for a in actions:
            if isinstance(a, Persist) and isinstance(a.record, Instance):
                persisted.add(a.record.task_id)
            elif isinstance(a, Launch):
                for t in a.tasks:
                    assert t["task_id"]["value"] in persisted, "launch before its instance was stored"
            elif isinstance(a, Suppress | Revive):
                self.interest.append(a)
        return actions

    def update(self, tid: str, state: str) -> None:
        self.check(self.core.status(self.now, TaskUpdate.of({"task_id": {"value": tid}, "state": state})))

    def pick(self, i: int, pred) -> str | None:  # noqa: ANN001
        ids = sorted(t for t, inst in self.core.tasks.items() if pred(inst))
        return ids[i % len(ids)] if ids else None

    def step(self, op: tuple) -> None:
        kind = op[0]
        if kind == "deploy":
            _, acts = self.core.deploy(self.now, Deploy({"/web": spec(op[1], op[2], op[3])}, force=True))
            self.check(acts)
        elif kind == "offer":
            self.rounds += 1
            self.check(self.core.offers(self.now, offers(op[1], self.rounds)))
        elif kind == "run" and (tid := self.pick(op[1], lambda i: not i.running)):
            self.update(tid, "TASK_RUNNING")
        elif kind == "fail" and (tid := self.pick(op[1], lambda i: True)):
            self.update(tid, "TASK_FAILED")
        elif kind == "killed" and (tid := self.pick(op[1], lambda i: i.killing)):
            self.update(tid, "TASK_KILLED")
        elif kind == "tick":
            self.now += op[1]
            self.check(self.core.tick(self.now))
        self.check(self.core.evaluate(self.now))


@settings(max_examples=60, deadline=None)
@given(st.lists(OPS, max_size=30), st.integers(0, 5), st.integers(0, 2))
def test_deployments_converge_and_launches_follow_their_persist(ops, instances, variant):
    m = Model()
    m.step(("deploy", instances, variant, 1.0))
    for op in ops:
        m.step(op)
    target = m.core.apps["/web"]
    for _ in range(200):  # the cluster behaves from now on
        if not m.core.deployments and not m.core.wants_offers and all(
                i.running and not i.killing for i in m.core.tasks.values()):  # fmt: skip
            break
        m.now += 2.0
        m.step(("tick", 0.0))
        m.step(("offer", 3))
        for tid, inst in list(m.core.tasks.items()):
            if inst.killing:
                m.update(tid, "TASK_KILLED")
            elif not inst.running:
                m.update(tid, "TASK_RUNNING")
        m.check(m.core.evaluate(m.now))
    assert not m.core.deployments
    live = list(m.core.tasks.values())
    assert len(live) == target.instances
    assert all(i.running and i.config == target.config_version for i in live)
    assert not m.core.wants_offers
    assert not m.interest or isinstance(m.interest[-1], Suppress)


def test_unknown_running_task_gets_a_kill():
    m = Model()
    acts = m.core.status(T0, TaskUpdate.of({"task_id": {"value": "stray"}, "state": "TASK_RUNNING",
                                           "agent_id": {"value": "a9"}}))  # fmt: skip
    assert acts == [Kill("stray", "a9")]
