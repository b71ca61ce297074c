"""The batch-dispatcher package on the shared package cluster: installed with its defaults, a
team's dispatcher runs as an app of the cluster's webapp, registers with the master under its
own name and role, answers /health, and runs a submitted driver (a word count on executors)
whose framework subscribes under the team's role; uninstalled, its framework is torn down and
nothing of it is left."""

from __future__ import annotations

import textwrap

import orjson
import pytest

from tests.packages.conftest import PkgCluster, get_json, http
from tests.packages.service_checks import (
    frameworks_named,
    option_errors,
    render_release,
    task_endpoints,
    wait_for,
)

NAME, ROLE = "batch-dispatcher-team", "batch-team"  # the package's defaults
DRIVER = textwrap.dedent("""
    import sys
    from operator import add
    from frameworks.batch import SparkContext

    sc = SparkContext(appName="team-wc")  # master and conf come from the dispatcher
    roles = sc._backend.mesos.driver.framework_info.get("roles")
    counts = dict(sc.parallelize("b a b c b".split(), 2).map(lambda w: (w, 1))
                  .reduceByKey(add).collect())
    print("roles", roles, "counts", sorted(counts.items()))
    sc.stop()
    sys.exit(0 if roles == ["batch-team"] and counts == {"a": 1, "b": 3, "c": 1} else 3)
""")
SUBMISSION = {
    "script": "team_wc.py", "script_content": DRIVER, "name": "team-wc",
    "driver_cpus": 0.1, "driver_mem": 256,
    "conf": {"spark.executor.instances": "1", "spark.executor.memory": "256m",
             "spark.cores.max": "0.3"},
}


def test_template_names_the_framework_and_its_role() -> None:
    app = render_release("batch-dispatcher", 0)
    assert app["labels"] == {"DCOS_PACKAGE_FRAMEWORK_NAME": NAME}
    for flag in (f'--framework-name "{NAME}"', f'--role "{ROLE}"', '--port "$PORT0"',
                 '--master "$DCOS_MASTER"', '--work-dir "$MESOS_SANDBOX/dispatcher"'):
        assert flag in app["cmd"]
    assert "/health" in app["healthChecks"][0]["command"]["value"]
    app = render_release("batch-dispatcher", 0, {"service": {"name": "etl", "role": "etl"},
                                                 "dispatcher": {"port": 31077}})
    assert '--framework-name "etl"' in app["cmd"] and '--role "etl"' in app["cmd"]
    assert app["requirePorts"] is True
    assert option_errors("batch-dispatcher", 0, {"service": {"role": "a b"}}) == [
        "/service/role"]


@pytest.mark.timeout(300)
def test_dispatcher_package_registers_its_name_and_role_and_runs_drivers(
        pkg_cluster: PkgCluster) -> None:
    c = pkg_cluster
    installed = c.install("batch-dispatcher")
    try:
        assert installed["appId"] == "/" + NAME
        [app] = c.wait_healthy("/" + NAME, timeout=120)
        assert app["labels"]["DCOS_PACKAGE_FRAMEWORK_NAME"] == NAME
        [(host, port)] = task_endpoints(c, "/" + NAME)
        api = f"http://{host}:{port}"
        health = get_json(api + "/health")
        assert (health["name"], health["role"]) == (NAME, ROLE)
        [fw] = wait_for("the dispatcher's framework", lambda: frameworks_named(c, NAME), 60)
        assert fw["active"] and fw["roles"] == [ROLE]
        assert fw["webui_url"] == api + "/"
        status, _, body = http("POST", api + "/v1/submissions", SUBMISSION,
                               {"Content-Type": "application/json"})
        assert status == 200, body
        sid = orjson.loads(body)["id"]
        done = wait_for("the driver's end", lambda: _ended(api, sid), 180, every=0.5)
        assert done["state"] == "FINISHED", done
        assert done["driver_framework_id"]
    finally:
        c.uninstall("batch-dispatcher")
    c.assert_clean("/" + NAME, framework_name=NAME)
    assert frameworks_named(c, "batch: team-wc") == []


def _ended(api: str, sid: str) -> dict | None:
    sub = get_json(f"{api}/v1/submissions/{sid}")
    return sub if sub["state"] in ("FINISHED", "FAILED", "KILLED", "ERROR", "LOST") else None
