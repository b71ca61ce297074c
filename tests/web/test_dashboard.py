"""The Dashboard, Nodes and Frameworks pages in a real browser against `ui_cluster`: the
agents' totals as the master counts them, the allocation following a task launched after the
page opened (no reload: the master's SUBSCRIBE stream), both agents and the leading master,
the registered frameworks, and a narrow (390 px) screen."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from tests.web.conftest import NARROW, UiCluster, allow_console, open_page, screenshot

SCALARS = ("cpus", "mem", "disk", "gpus")


def master_totals(cluster: UiCluster) -> dict[str, float]:
    state = cluster.get("/mesos/master/state")
    return {k: sum(float(a["resources"].get(k, 0)) for a in state["slaves"] if a.get("active", True))
            for k in SCALARS}


def shown(page: Any, testid: str) -> float:
    return float(page.get_by_test_id(testid).get_attribute("data-value"))


def test_dashboard_shows_the_agents_totals(page: Any, ui_cluster: UiCluster) -> None:
    totals = master_totals(ui_cluster)
    assert totals["cpus"] > 0 and totals["mem"] > 0
    open_page(page, ui_cluster, "/dashboard")
    for k in SCALARS:
        page.wait_for_function(
            "([id, want]) => Math.abs(Number(document.querySelector(`[data-testid=${id}]`)"
            "?.dataset.value) - want) < 1e-6", arg=[f"total-{k}", totals[k]], timeout=10_000)
        assert abs(shown(page, f"total-{k}") - totals[k]) < 1e-6
    # the text says it too (1 CPU per local agent by default: "2 CPU")
    assert page.get_by_test_id("total-cpus").inner_text().endswith("CPU")
    page.wait_for_selector(".chart .uplot")  # the charts are drawn
    assert page.locator(".chart .uplot").count() == 4


def test_dashboard_follows_a_new_task_live(page: Any, ui_cluster: UiCluster) -> None:
    open_page(page, ui_cluster, "/dashboard")
    page.wait_for_selector("[data-testid=total-cpus]")
    page.evaluate("window.__noReload = 1")
    before = shown(page, "allocated-cpus")
    app_id = f"/ui-dash-{uuid.uuid4().hex[:6]}"
    ui_cluster.send("POST", "/service/marathon/v2/apps",
                    {"id": app_id, "cmd": "sleep 600", "cpus": 0.25, "mem": 16, "instances": 1})
    try:
        page.wait_for_function(
            "want => Number(document.querySelector('[data-testid=allocated-cpus]').dataset.value)"
            " >= want - 1e-6", arg=before + 0.25, timeout=30_000)
        page.wait_for_selector("[data-testid=count-TASK_RUNNING]", timeout=10_000)
    finally:
        ui_cluster.send("DELETE", f"/service/marathon/v2/apps{app_id}")
    page.wait_for_function(
        "want => Number(document.querySelector('[data-testid=allocated-cpus]').dataset.value)"
        " <= want + 1e-6", arg=before, timeout=30_000)
    assert page.evaluate("window.__noReload") == 1


def test_nodes_page_lists_the_agents_and_the_leader(page: Any, ui_cluster: UiCluster) -> None:
    state = ui_cluster.get("/mesos/master/state")
    open_page(page, ui_cluster, "/nodes")
    table = page.get_by_role("table", name="Agents")
    for agent in state["slaves"]:
        table.get_by_role("link", name=f"{agent['hostname']}:{agent['port']}").wait_for()
    leader = state["leader"].split("@", 1)[1]
    masters = page.get_by_role("table", name="Masters")
    masters.get_by_text(leader).wait_for()
    assert masters.get_by_label("leader").count() == 1
    # one agent's page, reached from the list with the keyboard
    first = table.get_by_role("link").first
    first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/#/nodes/*")
    page.get_by_role("heading", name="Resources").wait_for()
    assert page.get_by_role("meter").count() >= 3  # CPU, memory, disk bars


def test_frameworks_page_lists_the_frameworks(page: Any, ui_cluster: UiCluster) -> None:
    open_page(page, ui_cluster, "/frameworks")
    table = page.get_by_role("table", name="Registered frameworks")
    for name in ("webapp", "batch-dispatcher"):
        table.get_by_role("button", name=f"Show the tasks of {name}").wait_for()
    link = table.get_by_role("link", name="Open the web UI of webapp")
    assert link.get_attribute("href") == "/service/webapp/"
    table.get_by_role("button", name="Show the tasks of webapp").click()
    page.get_by_role("heading", name="Tasks of webapp").wait_for()


def test_narrow_screen_renders_the_navigation(page: Any, ui_cluster: UiCluster) -> None:
    page.set_viewport_size(NARROW)
    open_page(page, ui_cluster, "/dashboard")
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Dashboard", "Services", "Jobs", "Nodes", "Frameworks", "Catalog", "Settings"):
        link = nav.get_by_role("link", name=name, exact=True)
        assert link.is_visible()
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= NARROW["width"]
    page.wait_for_selector("[data-testid=total-cpus]")
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    screenshot(page, "dashboard-narrow")
    # the nav works from the keyboard: Tab to Nodes, Enter
    nav.get_by_role("link", name="Nodes", exact=True).focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Nodes", exact=True).wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]


def _subscribed(cpus: float) -> bytes:
    """A RecordIO SUBSCRIBED record whose one agent has `cpus`."""
    res = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
           {"name": "mem", "type": "SCALAR", "scalar": {"value": 1024.0}}]
    agent = {"agent_info": {"id": {"value": f"fake-{cpus}"}, "hostname": "fake", "port": 1,
                            "resources": res}, "active": True, "total_resources": res}
    body = orjson.dumps({"type": "SUBSCRIBED", "subscribed": {
        "heartbeat_interval_seconds": 15, "get_state": {"get_agents": {"agents": [agent]}}}})
    return str(len(body)).encode() + b"\n" + body


def test_dashboard_resubscribes_when_the_stream_ends(page: Any, ui_cluster: UiCluster) -> None:
    """A master failover ends the stream: the page subscribes again and rebuilds its model
    from the new SUBSCRIBED (here two short streams served by the browser itself)."""
    served: list[float] = []

    def handle(route: Any) -> None:
        if "SUBSCRIBE" not in (route.request.post_data or ""):
            route.continue_()
            return
        cpus = 3.0 if not served else 7.0
        served.append(cpus)
        route.fulfill(status=200, content_type="application/json", body=_subscribed(cpus))

    page.route("**/mesos/api/v1", handle)
    open_page(page, ui_cluster, "/dashboard")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=total-cpus]')?.dataset.value === '7'",
        timeout=10_000)
    assert served[:2] == [3.0, 7.0]


def _record(event: dict[str, Any]) -> bytes:
    body = orjson.dumps(event)
    return str(len(body)).encode() + b"\n" + body


def _big_stream(tasks: int, finished: int) -> bytes:
    """SUBSCRIBED with one agent, one framework `big` and `tasks` running tasks, then
    TASK_UPDATED to TASK_FINISHED for the first `finished` of them."""
    res = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.001}},
           {"name": "mem", "type": "SCALAR", "scalar": {"value": 1.0}}]
    total = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 100.0}},
             {"name": "mem", "type": "SCALAR", "scalar": {"value": 100000.0}}]
    fid, aid = {"value": "big-fw"}, {"value": "big-agent"}
    state = {
        "get_agents": {"agents": [{"agent_info": {"id": aid, "hostname": "big", "port": 1,
                                                  "resources": total},
                                   "active": True, "total_resources": total}]},
        "get_frameworks": {"frameworks": [{"framework_info": {"id": fid, "name": "big"},
                                           "active": True, "connected": True}]},
        "get_tasks": {"tasks": [
            {"task_id": {"value": f"t{i:05d}"}, "name": f"t{i:05d}", "framework_id": fid,
             "agent_id": aid, "state": "TASK_RUNNING", "resources": res,
             "statuses": [{"state": "TASK_RUNNING", "timestamp": 1.0}]} for i in range(tasks)]},
    }
    out = [_record({"type": "SUBSCRIBED", "subscribed": {"get_state": state,
                                                         "heartbeat_interval_seconds": 15}})]
    out += [_record({"type": "TASK_UPDATED", "task_updated": {
        "framework_id": fid, "state": "TASK_FINISHED",
        "status": {"task_id": {"value": f"t{i:05d}"}, "state": "TASK_FINISHED",
                   "timestamp": 2.0}}}) for i in range(finished)]
    return b"".join(out)


def test_ten_thousand_tasks_stay_responsive(page: Any, ui_cluster: UiCluster) -> None:
    """10,000 tasks (5,000 of them finished by events): the counts are right and a list of
    them renders one page of rows, quickly."""
    body = _big_stream(10_000, 5_000)
    served: list[int] = []

    def handle(route: Any) -> None:
        if "SUBSCRIBE" not in (route.request.post_data or ""):
            route.continue_()
            return
        served.append(1)
        if len(served) == 1:
            route.fulfill(status=200, content_type="application/json", body=body)
        else:  # the master "gone" after that: the page keeps what it has and says so
            route.fulfill(status=503, content_type="application/json",
                          body=b'{"code":503,"message":"no leading master"}')

    allow_console(page, "status of 503")
    page.route("**/mesos/api/v1", handle)
    open_page(page, ui_cluster, "/dashboard")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=count-TASK_FINISHED]')?.textContent === '5000'"
        " && document.querySelector('[data-testid=count-TASK_RUNNING]')?.textContent === '5000'",
        timeout=15_000)
    page.get_by_text("no leading master").first.wait_for()  # the page says why it is stale
    page.evaluate("location.hash = '#/frameworks'")  # same page: the model stays
    button = page.get_by_role("button", name="Show the tasks of big")
    button.wait_for()
    began = page.evaluate("performance.now()")
    button.click()
    table = page.get_by_role("table", name="Tasks of big")
    page.get_by_text("(10000 rows)").wait_for()
    took = page.evaluate("performance.now()") - began
    assert table.locator("tbody tr").count() <= 25
    print(f"listed 10,000 tasks in {took:.0f} ms")
    assert took < 2000, f"{took:.0f} ms to list 10,000 tasks"
    # a page further, and the filter, stay within one page of rows too
    page.get_by_role("button", name="Next").click()
    page.get_by_text("Page 2 of 400").wait_for()
    page.get_by_role("searchbox", name="Filter Tasks of big").fill("t0999")
    page.wait_for_function(
        "() => document.querySelectorAll('table[aria-label=\"Tasks of big\"] tbody tr').length === 10",
        timeout=10_000)  # t09990 ... t09999: one page, no pager
