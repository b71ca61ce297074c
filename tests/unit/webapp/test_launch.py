"""`frameworks.webapp.launch`: task ids and names, service port assignment and the TaskInfo
an instance is launched with (Marathon's environment variables, discovery)."""

from frameworks.webapp.instances import Instance
from frameworks.webapp.launch import (
    LOCAL_PORT_MIN,
    assign_service_ports,
    build_task_info,
    task_id_for,
    task_name,
)
from frameworks.webapp.model.app import normalize
from frameworks.webapp.model.spec import AppSpec


def app_def(**kw):
    app, errs = normalize({"id": "/shop/web", "cmd": "sleep 100", "cpus": 0.1, "mem": 16, **kw})
    assert not errs, errs
    app["version"] = "2024-01-01T00:00:00.000Z"
    return app


def test_task_ids_and_names_follow_marathon() -> None:
    assert task_id_for("/shop/web").startswith("shop_web.")
    assert task_id_for("/shop/web") != task_id_for("/shop/web")
    assert task_name("/shop/web") == "web.shop"


def test_service_ports_skip_used_ones_and_keep_the_old_port_when_free() -> None:
    defs = [{"port": 0, "name": "http"}, {"port": 0, "name": "admin"}]
    app = app_def(portDefinitions=defs)
    assign_service_ports(app, None, {LOCAL_PORT_MIN})
    assert app["ports"] == [LOCAL_PORT_MIN + 1, LOCAL_PORT_MIN + 2]
    again = app_def(portDefinitions=[{"port": 0, "name": "http"}, {"port": 0, "name": "admin"}])
    assign_service_ports(again, app, {LOCAL_PORT_MIN + 2})  # the second old port is taken now
    assert again["ports"] == [LOCAL_PORT_MIN + 1, LOCAL_PORT_MIN]


def test_task_info_carries_the_port_environment_and_discovery() -> None:
    app = app_def(portDefinitions=[{"port": 10001, "name": "http"}], env={"A": "1", "X": {"secret": "s"}},
                  secrets={"s": {"source": "team/s"}})
    inst = Instance("shop_web.1", "/shop/web", app["version"], app["version"], "agent-1", "h1",
                    [31005], [10001], 1.0)  # fmt: skip
    info = build_task_info(AppSpec.parse(app), inst, [])
    env = {v["name"]: v.get("value") for v in info["command"]["environment"]["variables"]}
    assert env["A"] == "1" and env["X"] is None  # X: a secret reference, never a value
    assert env["PORT"] == env["PORT0"] == env["PORT_10001"] == "31005"
    assert env["MARATHON_APP_ID"] == "/shop/web" and env["HOST"] == "h1"
    assert env["MESOS_TASK_ID"] == "shop_web.1"
    assert info["name"] == "web.shop"
    port = info["discovery"]["ports"]["ports"][0]
    assert port["number"] == 31005 and port["name"] == "http"
    assert port["labels"]["labels"] == [{"key": "servicePort", "value": "10001"}]


def test_task_info_fetch_uris_keep_extract_executable_and_cache() -> None:
    fetch = [{"uri": "http://repo/assets/dask.tar", "extract": True, "cache": True},
             {"uri": "http://repo/run.sh", "executable": True, "outputFile": "bin/run.sh"}]
    app = app_def(fetch=fetch)
    inst = Instance("shop_web.1", "/shop/web", app["version"], app["version"], "agent-1", "h1",
                    [], [], 1.0)  # fmt: skip
    uris = build_task_info(AppSpec.parse(app), inst, [])["command"]["uris"]
    assert uris[0] == {"value": "http://repo/assets/dask.tar", "extract": True, "cache": True}
    assert uris[1] == {"value": "http://repo/run.sh", "executable": True, "output_file": "bin/run.sh"}
