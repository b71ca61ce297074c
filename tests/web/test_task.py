"""The Task page in a real browser against `ui_cluster`: an app launched through the webapp
API prints a line every second; its task page shows the status history, the sandbox file
browser lists stdout and stderr, and a line printed after the page opened appears in the
stdout tail without a reload (then stderr's, from its tab, reached with the arrow keys)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Generator
from typing import Any

import pytest

from tests.web.conftest import UiCluster, open_page, screenshot

CMD = 'i=0; while true; do i=$((i+1)); echo "tick $i"; echo "oops $i" >&2; sleep 1; done'


@pytest.fixture
def ticker(ui_cluster: UiCluster) -> Generator[dict[str, Any], None, None]:
    """A running one-instance app printing `tick N` (stdout) and `oops N` (stderr) every
    second; its task JSON (Marathon's) with the webapp's framework id; deleted afterwards."""
    app_id = f"/ui-ticker-{uuid.uuid4().hex[:6]}"
    ui_cluster.send("POST", "/service/marathon/v2/apps",
                    {"id": app_id, "cmd": CMD, "cpus": 0.1, "mem": 32, "instances": 1})
    try:
        task = ui_cluster.wait_for(
            f"{app_id} running",
            lambda: next((t for t in ui_cluster.get(f"/service/marathon/v2/apps{app_id}/tasks")["tasks"]
                          if t["state"] == "TASK_RUNNING"), None), timeout=60)
        fw = next(f for f in ui_cluster.get("/mesos/master/state")["frameworks"]
                  if f["name"] == "webapp")
        yield {**task, "frameworkId": fw["id"]}
    finally:
        ui_cluster.send("DELETE", f"/service/marathon/v2/apps{app_id}")


def last_tick(text: str, word: str = "tick") -> int:
    found = [int(n) for n in re.findall(rf"^{word} (\d+)$", text, re.M)]
    return max(found, default=0)


def test_task_page_follows_the_log_live(page: Any, ui_cluster: UiCluster,
                                        ticker: dict[str, Any]) -> None:
    route = (f"/tasks/{ticker['id']}?agent={ticker['slaveId']}"
             f"&framework={ticker['frameworkId']}")
    open_page(page, ui_cluster, route)
    page.evaluate("window.__noReload = 1")
    # the status history (live model + the agent's record)
    history = page.get_by_role("table", name="Status history")
    history.get_by_text("Running", exact=True).first.wait_for()
    # the stdout tail: a line printed after it opened shows up (no reload)
    log = page.get_by_test_id("log-stdout")
    page.wait_for_function(
        "() => /tick \\d+/.test(document.querySelector('[data-testid=log-stdout]').textContent)",
        timeout=15_000)
    seen = last_tick(log.text_content() or "")
    page.wait_for_function(
        "n => document.querySelector('[data-testid=log-stdout]').textContent"
        ".includes(`tick ${n}\\n`)", arg=seen + 2, timeout=10_000)
    assert page.evaluate("window.__noReload") == 1
    # the file browser lists the sandbox's stdout and stderr
    files = page.get_by_role("table", name="Files")
    files.get_by_role("button", name="View stdout").wait_for()
    files.get_by_role("button", name="View stderr").wait_for()
    href = files.get_by_role("link", name="Download stdout").get_attribute("href") or ""
    assert href.startswith(f"/agent/{ticker['slaveId']}/files/download?path=")
    screenshot(page, "task")
    # the stderr tab, with the keyboard (arrow keys move between tabs)
    page.get_by_role("tab", name="stdout").focus()
    page.keyboard.press("ArrowRight")
    assert page.get_by_role("tab", name="stderr").get_attribute("aria-selected") == "true"
    page.wait_for_function(
        "() => /oops \\d+/.test(document.querySelector('[data-testid=log-stderr]')?.textContent"
        " || '')", timeout=15_000)
    # viewing a file from the browser opens it in its own tab
    files.get_by_role("button", name="View stdout").click()
    page.get_by_role("tab", name="stdout").nth(1).wait_for()


def test_task_page_of_an_unknown_task_says_so(page: Any, ui_cluster: UiCluster) -> None:
    open_page(page, ui_cluster, "/tasks/no-such-task")
    page.get_by_text("The master does not list task").wait_for()
    page.get_by_text("Which agent runs this task is not known yet.").wait_for()
