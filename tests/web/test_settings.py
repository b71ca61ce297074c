"""The Settings page (dcos/web/src/pages/settings.js) on the real UI cluster: package
repositories are added (a bad URI shows the package service's error next to the form), moved
(a delete and an add at the new position) and removed (after a confirmation); the package
service's list follows each step."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
from playwright.sync_api import expect

from dcos.packaging import mediatypes as mt
from tests.packages.conftest import http
from tests.web.conftest import INDEX, UiCluster, allow_console, open_page

NAME = "UI test repo"


def repo_names(c: UiCluster) -> list[str]:
    """The package service's repository names, in priority order."""
    status, _, raw = http("POST", f"{c.url}/package/repository/list", {},
                          {"Content-Type": mt.REPOSITORY_LIST_REQUEST,
                           "Accept": mt.REPOSITORY_LIST_RESPONSE})
    assert status == 200, raw
    return [r["name"] for r in orjson.loads(raw)["repositories"]]


def delete_quietly(c: UiCluster, name: str) -> None:
    http("POST", f"{c.url}/package/repository/delete", {"name": name},
         {"Content-Type": mt.REPOSITORY_DELETE_REQUEST, "Accept": mt.REPOSITORY_DELETE_RESPONSE})


def shown_names(page: Any) -> list[str]:
    return page.locator("table tbody tr td[data-label=Name]").all_inner_texts()


def test_add_reorder_and_remove_a_repository(page: Any, ui_cluster: UiCluster,
                                             tmp_path: Path) -> None:
    c = ui_cluster
    allow_console(page, r"status of 400")  # the refused URI, on purpose
    index = tmp_path / "index.json"  # the same catalog under a second URI
    shutil.copyfile(INDEX, index)
    before = repo_names(c)
    assert before == ["Universe"]
    try:
        open_page(page, c, "/settings")
        expect(page.locator("table tbody tr")).to_have_count(1)
        add = page.get_by_role("button", name="Add repository")

        # a bad URI: the package service's error next to the form; nothing added
        page.get_by_label("Name", exact=True).fill("bad")
        page.get_by_label("URI", exact=True).fill("ftp://example.invalid/repo.json")
        add.click()
        expect(page.locator("#add-repo-error")).to_contain_text("unsupported scheme")
        assert repo_names(c) == before

        # added first (priority 1)
        page.get_by_label("Name", exact=True).fill(NAME)
        page.get_by_label("URI", exact=True).fill(index.as_uri())
        page.get_by_label("Priority (optional)").fill("1")
        add.click()
        expect(page.get_by_role("status").filter(has_text=f"{NAME} added")).to_be_visible()
        assert shown_names(page) == [NAME, "Universe"]
        assert repo_names(c) == [NAME, "Universe"]
        expect(page.locator("#add-repo-error")).to_have_count(0)

        # moved down: a delete and an add at position 2
        page.get_by_role("button", name=f"Move {NAME} down").click()
        expect(page.get_by_role("status").filter(has_text="moved to position 2")).to_be_visible()
        assert shown_names(page) == ["Universe", NAME]
        assert repo_names(c) == ["Universe", NAME]

        # removed after a confirmation
        page.get_by_role("button", name=f"Remove {NAME}").click()
        page.get_by_role("button", name="Yes, remove").click()
        expect(page.get_by_role("status").filter(has_text=f"{NAME} removed")).to_be_visible()
        assert shown_names(page) == ["Universe"]
        assert repo_names(c) == before
    finally:
        if NAME in repo_names(c):
            delete_quietly(c, NAME)
