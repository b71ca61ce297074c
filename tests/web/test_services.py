"""The Services pages in a real browser against a real cluster (tests/web/conftest.py's
`ui_cluster`, `page`): create an app from the form and watch it reach Running without a
reload, scale it to 3 and see 3 tasks, delete it; the JSON editor (switching keeps the values),
the API's 422 shown next to the field it names; edit and roll back a version; the Debug tab's
last failure with its stderr tail and the declined offers of an app that cannot be placed.

The pages are dcos/web/src/pages/{services,service,service_form}.js over marathon.js (the live
model fed by /service/marathon/v2/events). Selectors are labels, roles and data-testid.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any
from urllib.parse import quote

import pytest

from tests.web.conftest import UiCluster, allow_console, open_page

APPS = "/service/marathon/v2/apps"
LIVE_S = 30_000  # ms: a task of a local cluster runs well within this


def no_reload_marker(page: Any) -> None:
    """Mark the window: `reloaded(page)` is True once the page has been loaded again."""
    page.evaluate("window.__servicesTest = 1")


def reloaded(page: Any) -> bool:
    return page.evaluate("window.__servicesTest !== 1")


def detail(app_id: str, tab: str = "") -> str:
    return "/services/detail/" + quote(app_id, safe="") + (f"?tab={tab}" if tab else "")


@pytest.fixture
def cleanup(ui_cluster: UiCluster) -> Generator[list[str], None, None]:
    """App ids to delete (through the API, forced) after the test, whatever happened."""
    ids: list[str] = []
    yield ids
    for app_id in ids:
        try:
            ui_cluster.send("DELETE", f"{APPS}{app_id}?force=true")
        except AssertionError:
            pass  # already deleted by the test


def test_create_from_the_form_run_scale_to_3_and_delete(
    page: Any, ui_cluster: UiCluster, cleanup: list[str]
) -> None:
    app_id = "/ui-test/web"
    cleanup.append(app_id)
    open_page(page, ui_cluster, "/services/new")
    no_reload_marker(page)
    page.get_by_label("ID").fill(app_id)
    page.get_by_label("Command").fill("python3 -m http.server $PORT0 --bind 127.0.0.1")
    page.get_by_label("CPUs").fill("0.1")
    page.get_by_label("Memory (MiB)").fill("64")
    page.get_by_label("Ports").fill("0")
    page.get_by_role("button", name="Create", exact=True).click()

    page.wait_for_url(re.compile(r"#/services/detail/%2Fui-test%2Fweb"))
    status = page.get_by_test_id("service-status")
    status.filter(has_text="Running").wait_for(timeout=LIVE_S)
    assert page.get_by_test_id("service-instances").inner_text() == "1 running of 1"

    page.get_by_role("button", name=f"Scale {app_id}").click()
    page.get_by_label(f"Instances of {app_id}").fill("3")
    page.get_by_role("button", name="Scale", exact=True).click()
    page.get_by_test_id("service-instances").filter(has_text="3 running of 3").wait_for(
        timeout=LIVE_S
    )
    tasks = page.locator("table[aria-label=Tasks] tbody tr")
    assert tasks.count() == 3
    assert tasks.locator(".status.TASK_RUNNING").count() == 3
    link = tasks.first.get_by_role("link").get_attribute("href")
    assert re.match(r"#/tasks/ui-test_web\.[\w-]+\?agent=[^&]+&framework=.+", link or ""), link
    assert not reloaded(page)

    # the list shows it live too (a hash change, no reload), then deletes it with confirmation
    page.get_by_role("link", name="Services", exact=True).first.click()
    row = page.locator("table[aria-label=Services] tbody tr").filter(
        has=page.get_by_test_id(f"actions-{app_id}")
    )
    row.get_by_text("3/3").wait_for()
    assert row.get_by_text("Running").count() == 1
    row.get_by_role("button", name=f"Delete {app_id}").click()
    page.get_by_role("button", name="Yes, delete").click()
    row.wait_for(state="detached", timeout=LIVE_S)
    assert not reloaded(page)
    ui_cluster.wait_for(
        "the app to be gone", lambda: all(a["id"] != app_id for a in ui_cluster.get(APPS)["apps"])
    )


def test_json_editor_and_the_apis_error_next_to_the_field(
    page: Any, ui_cluster: UiCluster, cleanup: list[str]
) -> None:
    app_id = "/ui-test/json"
    cleanup.append(app_id)
    allow_console(page, r"422 \(Unprocessable Entity\)")
    open_page(page, ui_cluster, "/services/new")
    page.get_by_label("ID").fill(app_id)
    page.get_by_label("Command").fill("sleep 3600")
    page.get_by_label("CPUs").fill("-1")
    page.get_by_role("button", name="Create", exact=True).click()
    err = page.locator("#svc-cpus-error")
    err.wait_for()
    assert "expected a number >= 0" in err.inner_text()
    assert page.get_by_test_id("form-error").is_visible()

    # the JSON editor holds the form's values; what is edited there comes back to the form
    page.get_by_role("tab", name="JSON editor").click()
    editor = page.get_by_label("App definition (JSON)")
    text = editor.input_value()
    assert '"cpus": -1' in text and '"cmd": "sleep 3600"' in text
    editor.fill(
        text.replace('"cpus": -1', '"cpus": 0.05').replace('"env": {}', '"env": {"GREETING": "hi"}')
    )
    page.get_by_role("tab", name="Form").click()
    assert page.get_by_label("CPUs").input_value() == "0.05"
    assert page.get_by_label("Environment").input_value() == "GREETING=hi"
    page.get_by_role("tab", name="JSON editor").click()
    page.get_by_role("button", name="Create", exact=True).click()
    page.get_by_test_id("service-status").filter(has_text="Running").wait_for(timeout=LIVE_S)
    app = ui_cluster.get(f"{APPS}{app_id}")["app"]
    assert app["env"] == {"GREETING": "hi"} and app["cpus"] == 0.05

    # edit it (a new version), then roll back to the first one from the Configuration tab
    page.get_by_role("link", name=f"Edit {app_id}").click()
    page.get_by_label("Command").fill("sleep 3601")
    page.get_by_role("button", name="Save and deploy").click()
    page.wait_for_url(re.compile(r"#/services/detail/"))
    ui_cluster.wait_for(
        "the edit", lambda: ui_cluster.get(f"{APPS}{app_id}")["app"]["cmd"] == "sleep 3601"
    )
    page.get_by_role("tab", name="Configuration").click()
    versions = page.get_by_role("button", name=re.compile("^Show version"))
    versions.nth(1).wait_for()
    versions.last.click()
    assert page.locator("pre.diff").inner_text().count("sleep 360") == 2  # - 3600, + 3601
    page.get_by_role("button", name="Roll back to this version").click()
    ui_cluster.wait_for(
        "the rollback", lambda: ui_cluster.get(f"{APPS}{app_id}")["app"]["cmd"] == "sleep 3600"
    )
    page.get_by_test_id("current-definition").filter(has_text='"cmd": "sleep 3600"').wait_for()


def test_debug_tab_last_failure_stderr_and_declined_offers(
    page: Any, ui_cluster: UiCluster, cleanup: list[str]
) -> None:
    crash, huge = "/ui-test/crash", "/ui-test/huge"
    cleanup += [crash, huge]
    ui_cluster.send(
        "POST",
        APPS,
        {
            "id": crash,
            "cmd": "echo it-broke-here >&2; exit 3",
            "cpus": 0.05,
            "mem": 16,
            "instances": 1,
        },
    )
    ui_cluster.send(
        "POST", APPS, {"id": huge, "cmd": "sleep 100", "cpus": 500, "mem": 16, "instances": 1}
    )
    open_page(page, ui_cluster, detail(crash, "debug"))
    failure = page.get_by_test_id("last-failure")
    failure.wait_for(timeout=LIVE_S)
    assert "TASK_FAILED" in failure.inner_text()
    assert "status 3" in failure.inner_text()
    page.get_by_test_id("failure-stderr").filter(has_text="it-broke-here").wait_for(timeout=10_000)

    open_page(page, ui_cluster, detail(huge, "debug"))
    page.get_by_test_id("service-status").filter(has_text="Waiting for resources").wait_for(
        timeout=LIVE_S
    )
    reasons = page.get_by_test_id("decline-reasons")
    reasons.wait_for()
    assert "cpus" in reasons.inner_text()
