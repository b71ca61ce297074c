"""The webapp package (Marathon-on-Marathon) on the shared package cluster: installed with its
defaults, a second webapp framework runs as an app of the cluster's webapp, registers with the
master under its own name and role, answers /ping and runs an app posted to its own /v2 API
with resources offered to its role; uninstalled, its framework is torn down with that app's task
and nothing of either is left."""

from __future__ import annotations

import time

import orjson

from tests.packages.conftest import PkgCluster, get_json, http, task_processes
from tests.packages.service_checks import (
    frameworks_named,
    option_errors,
    render_release,
    task_endpoints,
    wait_for,
)

NAME = ROLE = "webapp-user"  # the package's defaults (service.name, service.role)
INNER = {"id": "/h4-inner-sleep", "cmd": "exec sleep 600", "cpus": 0.05, "mem": 16,
         "instances": 1}


def test_template_names_the_framework_its_role_port_and_optional_zookeeper() -> None:
    app = render_release("webapp", 0)
    assert app["labels"] == {"DCOS_PACKAGE_FRAMEWORK_NAME": NAME}
    for flag in ('--framework-name "webapp-user"', '--role "webapp-user"', '--port "$PORT0"',
                 '--master "$DCOS_MASTER"', '--work-dir "$MESOS_SANDBOX/webapp"'):
        assert flag in app["cmd"]
    assert "--zk" not in app["cmd"] and app["requirePorts"] is False
    app = render_release("webapp", 0, {"service": {"name": "team-a", "role": "team-a/web"},
                                       "webapp": {"port": 31080, "zk": "zk://10.0.0.1:2181/team-a"}})
    assert app["labels"] == {"DCOS_PACKAGE_FRAMEWORK_NAME": "team-a"}
    assert '--role "team-a/web"' in app["cmd"]
    assert app["cmd"].endswith('--zk "zk://10.0.0.1:2181/team-a"')
    assert app["requirePorts"] is True and app["portDefinitions"][0]["port"] == 31080
    assert option_errors("webapp", 0, {"service": {"name": "a/b", "role": "-x"},
                                       "webapp": {"zk": "http://x"}}) == [
        "/service/name", "/service/role", "/webapp/zk"]


def test_webapp_package_registers_its_framework_and_runs_apps(pkg_cluster: PkgCluster) -> None:
    c = pkg_cluster
    installed = c.install("webapp")
    inner_tasks: set[str] = set()
    try:
        assert installed["appId"] == "/" + NAME
        [app] = c.wait_healthy("/" + NAME, timeout=120)
        assert app["labels"]["DCOS_PACKAGE_FRAMEWORK_NAME"] == NAME
        [(host, port)] = task_endpoints(c, "/" + NAME)
        api = f"http://{host}:{port}"
        [fw] = wait_for("the webapp-user framework", lambda: frameworks_named(c, NAME), 60)
        assert fw["active"] and fw["roles"] == [ROLE]
        status, _, body = http("GET", api + "/ping")
        assert (status, body) == (200, b"pong")
        status, _, body = http("POST", api + "/v2/apps", INNER,
                               {"Content-Type": "application/json"})
        assert status == 201, body
        running = wait_for("the inner app's task", lambda: _running(api), 90)
        inner_tasks.update(t["id"] for t in running)
        [master_task] = [t for t in _framework(c, fw["id"])["tasks"]
                         if t["id"] in inner_tasks]
        assert master_task["state"] == "TASK_RUNNING"
        assert master_task["role"] == ROLE  # offered to the framework's role
        assert task_processes(c.work, inner_tasks, ("h4-inner-sleep.",))
    finally:
        c.uninstall("webapp")
    c.assert_clean("/" + NAME, framework_name=NAME)
    wait_for("no process of the inner app",
             lambda: not task_processes(c.work, inner_tasks, ("h4-inner-sleep.",)), 30)
    state = get_json(c.master_url + "/master/state")
    assert not [t for fw in state.get("frameworks", []) for t in fw.get("tasks", [])
                if t["id"] in inner_tasks]


def _running(api: str) -> list[dict] | None:
    status, _, body = http("GET", api + "/v2/apps" + INNER["id"] + "?embed=app.tasks")
    if status != 200:
        return None
    app = orjson.loads(body)["app"]
    tasks = [t for t in app.get("tasks", []) if t.get("state") == "TASK_RUNNING"]
    return tasks if app.get("tasksRunning") == 1 and tasks else None


def _framework(c: PkgCluster, framework_id: str) -> dict:
    deadline = time.monotonic() + 10
    while True:
        for fw in get_json(c.master_url + "/master/state").get("frameworks", []):
            if fw["id"] == framework_id:
                return fw
        assert time.monotonic() < deadline, f"framework {framework_id} not in the master's state"
        time.sleep(0.2)
