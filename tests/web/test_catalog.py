"""The Catalog pages (dcos/web/src/pages/catalog.js and schema_form.js) on the real UI cluster:
the catalog lists hello-world with its description; its page installs it with a changed option
from the form generated from its config schema (a value the form refuses and one the package
service refuses are each shown next to their field; the JSON editor shows the same options);
the installed list shows it running; uninstall (confirmed) removes it and its app."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from dcos.packaging import mediatypes as mt
from tests.packages.conftest import http
from tests.web.conftest import UiCluster, allow_console, open_page

APP = "hello-ui"
MESSAGE = "Hello from the UI test"
DESCRIPTION = "An HTTP service that answers a message"


def webapp_app(c: UiCluster, app_id: str) -> dict[str, Any] | None:
    """The webapp's app `app_id` through the gateway, or None when it has none."""
    status, _, _ = http("GET", f"{c.url}/service/marathon/v2/apps/{app_id}")
    return c.get(f"/service/marathon/v2/apps/{app_id}")["app"] if status == 200 else None


def uninstall_quietly(c: UiCluster, app_id: str) -> None:
    """Cleanup after a failed test: uninstall `app_id` through the package service's API."""
    http("POST", f"{c.url}/package/uninstall", {"packageName": "hello-world", "appId": app_id},
         {"Content-Type": mt.UNINSTALL_REQUEST, "Accept": mt.UNINSTALL_RESPONSE}, timeout=120)


def test_catalog_lists_hello_world_with_its_description(page: Any, ui_cluster: UiCluster) -> None:
    open_page(page, ui_cluster, "/catalog")
    card = page.locator("li.package-card").filter(
        has=page.get_by_role("link", name="hello-world", exact=True))
    expect(card).to_contain_text(DESCRIPTION)
    expect(card.get_by_role("img", name="hello-world icon")).to_have_js_property("naturalWidth", 256)
    page.get_by_label("Search packages").fill("key-value")
    expect(page.get_by_role("link", name="redis", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="hello-world", exact=True)).to_have_count(0)


def test_install_from_the_form_then_uninstall(page: Any, ui_cluster: UiCluster) -> None:
    c = ui_cluster
    allow_console(page, r"status of (400|409)")  # the package service's refusal, on purpose
    try:
        open_page(page, c, "/catalog/hello-world")
        expect(page.get_by_role("heading", name="hello-world")).to_be_visible()
        name, instances = page.locator("#opt-service-name"), page.locator("#opt-service-instances")
        expect(name).to_have_value("hello-world")  # defaults filled in
        expect(instances).to_have_value("1")
        install = page.get_by_role("button", name=re.compile(r"^Install hello-world "))

        # a value the form refuses (minimum): the error next to the field, nothing sent
        instances.fill("-1")
        install.click()
        expect(page.locator("#opt-service-instances-error")).to_contain_text("at least 0")
        expect(instances).to_be_focused()

        # a value the package service refuses (the id pattern): its error next to the field
        instances.fill("1")
        name.fill("Bad_Name")
        install.click()
        expect(page.locator("#opt-service-name-error")).to_contain_text("does not match")
        expect(page.locator("#opt-service-instances-error")).to_have_count(0)
        expect(page.locator("#install-result [role=alert]")).to_contain_text("failed validation")

        # the changed options, seen in the JSON editor too
        name.fill(APP)
        page.locator("#opt-service-message").fill(MESSAGE)
        page.get_by_role("tab", name="JSON editor").click()
        expect(page.locator("#options-json")).to_have_value(re.compile(f'"message": "{MESSAGE}"'))
        page.get_by_role("tab", name="Options").click()
        expect(page.locator("#opt-service-message")).to_have_value(MESSAGE)
        install.click()
        expect(page.locator("#install-result [role=status]")).to_contain_text(
            f"is installed as /{APP}", timeout=30_000)

        app = c.wait_for("the app running", lambda: (a := webapp_app(c, APP))
                         and a["tasksRunning"] == 1 and a, timeout=90)
        assert app["env"]["HELLO_MESSAGE"] == MESSAGE
        assert app["labels"]["DCOS_PACKAGE_NAME"] == "hello-world"

        # the installed list: running; uninstall after a confirmation, with progress
        open_page(page, c, "/catalog")
        row = page.locator("tr").filter(has=page.get_by_role("link", name=f"/{APP}", exact=True))
        expect(row).to_contain_text("Running (1 of 1)", timeout=60_000)
        row.get_by_role("button", name=f"Uninstall /{APP}").click()
        page.get_by_role("button", name="Yes, uninstall").click()
        expect(page.get_by_role("status").filter(has_text="is uninstalled")).to_be_visible(
            timeout=120_000)
        expect(row).to_have_count(0)
        assert webapp_app(c, APP) is None
        assert not [a for a in c.get("/service/marathon/v2/apps")["apps"] if a["id"] == f"/{APP}"]
    finally:
        if webapp_app(c, APP) is not None:
            uninstall_quietly(c, f"/{APP}")
