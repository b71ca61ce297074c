"""Every page of the UI, visited in a real browser against `ui_cluster` with something on it
(a running app that prints a line a second), at 1280x800 and the Services page also at
390x800: each shows its heading and its content, logs no console error (the `page` fixture
fails the test on any), and is saved as docs/screenshots/<page>.png (the README shows a few;
the PNGs are committed from a run).

The pages' own behaviour is tested by their owners' modules (test_dashboard, test_services,
test_task, test_catalog, test_jobs, test_settings); this one is the tour.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from tests.web.conftest import NARROW, UiCluster, open_page, screenshot

CMD = "i=0; while true; do i=$((i+1)); echo line $i; echo warn $i >&2; sleep 1; done"


@dataclass
class Subjects:
    """What the pages show: a running app, its task, the task's agent and framework; an app
    whose task fails (its Debug tab shows the failure) and one too big for any agent (its
    Debug tab shows why offers were declined)."""

    app_id: str
    task_id: str
    agent_id: str
    framework_id: str
    crash_id: str
    huge_id: str


@pytest.fixture(scope="module")
def subjects(ui_cluster: UiCluster) -> Generator[Subjects, None, None]:
    """The tour's apps (see `Subjects`), deleted afterwards."""
    # fixed ids (the cluster is the test session's own): the screenshots stay alike run to run
    app_id, crash_id, huge_id = "/shots/web", "/shots/crash", "/shots/huge"
    apps = [{"id": app_id, "cmd": CMD, "cpus": 0.1, "mem": 32, "instances": 1,
             "labels": {"team": "docs"}},
            {"id": crash_id, "cmd": "echo starting; echo 'error: config.yml not found' >&2; exit 3",
             "cpus": 0.05, "mem": 16, "instances": 1},
            {"id": huge_id, "cmd": "sleep 3600", "cpus": 500, "mem": 16, "instances": 1}]  # fmt: skip
    try:
        for app in apps:
            ui_cluster.send("POST", "/service/marathon/v2/apps", app)
        task = ui_cluster.wait_for(
            f"{app_id} running",
            lambda: next((t for t in ui_cluster.get(f"/service/marathon/v2/apps{app_id}/tasks")["tasks"]
                          if t["state"] == "TASK_RUNNING"), None), timeout=60)  # fmt: skip
        fw = next(f for f in ui_cluster.get("/mesos/master/state")["frameworks"]
                  if f["name"] == "webapp")  # fmt: skip
        yield Subjects(app_id, task["id"], task["slaveId"], fw["id"], crash_id, huge_id)
    finally:
        for app in apps:
            with contextlib.suppress(AssertionError):
                ui_cluster.send("DELETE", f"/service/marathon/v2/apps{app['id']}?force=true")


def detail(app_id: str, tab: str = "") -> str:
    return "/services/detail/" + quote(app_id, safe="") + (f"?tab={tab}" if tab else "")


# (screenshot name, route, the heading (regex), a selector that shows the content is there);
# routes and selectors may name the subjects as {app}, {app_q} (quoted), {crash}, {crash_q},
# {huge}, {huge_q}, {task_q}, {task_query} (?agent=&framework=), {agent}
PAGES: list[tuple[str, str, str, str]] = [
    ("dashboard", "/dashboard", "^Dashboard$", ".chart .uplot"),
    ("services", "/services", "^Services$", 'table[aria-label="Services"] a[href*="{app_q}"]'),
    ("service-tasks", "/services/detail/{app_q}", "^{app}", 'table[aria-label="Tasks"] .status.TASK_RUNNING'),
    ("service-configuration", "/services/detail/{app_q}?tab=configuration", "^{app}", "[role=tabpanel]"),
    ("service-debug", "/services/detail/{crash_q}?tab=debug", "^{crash}", "[data-testid=failure-stderr]"),
    ("service-waiting", "/services/detail/{huge_q}?tab=debug", "^{huge}", "[data-testid=decline-reasons]"),
    ("service-new", "/services/new", "^Create a service$", "form"),
    ("jobs", "/jobs", "^Jobs$", "#submissions"),
    ("nodes", "/nodes", "^Nodes$", 'table[aria-label="Agents"] tbody a'),
    ("node", "/nodes/{agent}", ":[0-9]+$", "[role=meter]"),
    ("frameworks", "/frameworks", "^Frameworks$", "table tbody tr"),
    ("task", "/tasks/{task_q}?{task_query}", ".", '[data-testid="task-state"] .status.TASK_RUNNING'),
    ("catalog", "/catalog", "^Catalog$", 'ul[aria-label="Packages"] li'),
    ("package", "/catalog/hello-world", "^hello-world$", 'form[aria-label="Install hello-world"]'),
    ("settings", "/settings", "^Settings$", "table[aria-labelledby=repositories] tbody tr"),
]  # fmt: skip


def fill(template: str, s: Subjects) -> str:
    esc = re.escape if template.startswith("^") else str
    return template.format(
        app=esc(s.app_id), crash=esc(s.crash_id), huge=esc(s.huge_id),
        app_q=quote(s.app_id, safe=""), crash_q=quote(s.crash_id, safe=""),
        huge_q=quote(s.huge_id, safe=""), task_q=quote(s.task_id, safe=""), agent=s.agent_id,
        task_query=urlencode({"agent": s.agent_id, "framework": s.framework_id}),
    )  # fmt: skip


def visit(page: Any, cluster: UiCluster, s: Subjects, route: str, heading: str, ready: str) -> None:
    """Open `route`, wait for its content (`ready`), check its heading."""
    open_page(page, cluster, fill(route, s))
    page.wait_for_selector(fill(ready, s), timeout=20_000)
    h1 = page.locator("main#main h1").first.inner_text().strip()
    assert re.search(fill(heading, s), h1), f"{route}: heading {h1!r}, expected /{heading}/"


@pytest.mark.parametrize(("name", "route", "heading", "ready"), PAGES, ids=[p[0] for p in PAGES])
def test_page(page: Any, ui_cluster: UiCluster, subjects: Subjects, name: str, route: str,
              heading: str, ready: str) -> None:  # fmt: skip
    visit(page, ui_cluster, subjects, route, heading, ready)
    if name == "task":  # a line the task printed, in the live tail
        page.wait_for_function(
            "() => /line \\d+/.test(document.querySelector('[data-testid=log-stdout]')?.textContent || '')",
            timeout=15_000)  # fmt: skip
    # charts and bars settle; the dashboard's charts sample every 2 s: a few points to draw
    page.wait_for_timeout(6_000 if name == "dashboard" else 300)
    screenshot(page, name)


def test_services_narrow(page: Any, ui_cluster: UiCluster, subjects: Subjects) -> None:
    """The Services page on a 390 px wide screen: the heading and the app's row are there and
    nothing is wider than the screen (no sideways scrolling of the page)."""
    page.set_viewport_size(NARROW)
    visit(page, ui_cluster, subjects, *PAGES[1][1:])
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= NARROW["width"], f"the page is {width} px wide at {NARROW['width']} px"
    screenshot(page, "services-narrow")
