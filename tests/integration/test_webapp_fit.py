"""Integration: ``POST /v2/fit`` on the webapp framework as a real process, with a real master
and two real agents (1 cpu each, racks r0 and r1, both on host 127.0.0.1): the answer follows
what really runs, names the resource or the constraint that stops an app, refuses bad input as
create does, and creates nothing."""

from __future__ import annotations

import pytest

from dcos.testing import ProcessCluster
from tests.integration.test_webapp import Webapp

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    c = ProcessCluster(tmp_path_factory.mktemp("fit"), agents=2, agent_resources="cpus:1;mem:1024;disk:1024",
                       master_flags=["--allocation-interval", "0.1"],
                       agent_flags={i: ["--attributes", f"rack:r{i}"] for i in range(2)})  # fmt: skip
    try:
        c.start()
        w = Webapp(c)
        w.start()
        yield c, w
    finally:
        c.stop()


def app(aid: str, **fields: object) -> dict:
    return {"id": aid, "cmd": "sleep 600", "cpus": 0.4, "mem": 32, **fields}


def fit(w: Webapp, body: dict) -> dict:
    code, answer = w.call("POST", "/v2/fit", body)
    assert code == 200, answer
    assert isinstance(answer, dict)
    return answer


def test_fit_follows_what_runs(env):
    c, w = env
    body = fit(w, app("/fit/a", instances=4))
    assert body == {"fits": True, "agents": 2, "apps": [
        {"id": "/fit/a", "instances": 4, "placeable": 4, "fits": True, "reasons": []}]}  # fmt: skip
    assert w.get("/v2/apps") == {"apps": []}  # a dry run: nothing created
    code, _ = w.call("POST", "/v2/apps", app("/fit/running", instances=3))
    assert code == 201
    w.wait_settled("/fit/running", 3)
    # 1.2 cpus run: one agent has 0.6 free, the other 0.2
    [a] = fit(w, app("/fit/a", instances=2))["apps"]
    assert a["placeable"] == 1 and a["fits"] is False
    assert a["reasons"] == [{"reason": "insufficient cpus: needs 0.4, best agent has 0.2",
                             "code": "InsufficientCpus", "agents": 2}]  # fmt: skip
    code, _ = w.call("DELETE", "/v2/apps/fit/running")
    assert code == 200
    c.wait_for(lambda: fit(w, app("/fit/a", instances=4))["fits"], "the cpus freed")


def test_constraints_and_groups(env):
    _, w = env
    [a] = fit(w, app("/fit/u", cpus=0.1, instances=2, constraints=[["hostname", "UNIQUE"]]))["apps"]
    assert a["placeable"] == 1
    assert a["reasons"][0]["reason"] == ("constraint hostname:UNIQUE: the agents have 1 distinct "
                                         "hostname value(s), so at most 1 instance(s) can run")  # fmt: skip
    [a] = fit(w, app("/fit/l", constraints=[["rack", "LIKE", "r9"]]))["apps"]
    assert a["placeable"] == 0
    assert a["reasons"][0]["reason"] == "constraint rack:LIKE:r9: no agent satisfies it (the agents' rack: r0, r1)"
    assert fit(w, app("/fit/l", instances=2, constraints=[["rack", "LIKE", "r1"]]))["fits"]
    group = {"id": "/fitg", "apps": [app("big", cpus=0.9, instances=2), app("small", cpus=0.2)]}
    body = fit(w, group)
    assert body["fits"] is False
    assert [(x["id"], x["placeable"]) for x in body["apps"]] == [("/fitg/big", 2), ("/fitg/small", 0)]
    assert w.status("/v2/groups/fitg") == 404


def test_bad_input_is_refused_as_create_refuses_it(env):
    _, w = env
    bad = app("/fit/bad", mem="lots")
    assert w.call("POST", "/v2/fit", bad) == w.call("POST", "/v2/apps", bad)
    code, body = w.call("POST", "/v2/fit", bad)
    assert code == 422 and body["details"][0]["path"] == "/mem"  # type: ignore[index]
    assert w.get("/v2/apps") == {"apps": []}
