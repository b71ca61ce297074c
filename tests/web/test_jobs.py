"""The Jobs page (dcos/web/src/pages/jobs.js) on the real UI cluster: a small batch job
submitted from the page's form to the batch dispatcher is listed, its running driver shows its
job's stage progress and a job page the gateway serves, and it ends FINISHED with a link to its
driver task's page, which shows the driver's output (its sandbox stdout)."""

from __future__ import annotations

import re
import textwrap
from typing import Any

from playwright.sync_api import expect

from tests.packages.conftest import http
from tests.web.conftest import UiCluster, allow_console, open_page

APP = "ui-job"  # the driver's app name: its framework is "batch: ui-job"
SCRIPT = textwrap.dedent(f"""
    import time
    from operator import add
    from frameworks.batch import SparkContext

    sc = SparkContext(appName="{APP}")
    print(sorted(sc.parallelize("a b a c b a".split(), 2).map(lambda w: (w, 1))
                 .reduceByKey(add).collect()))
    time.sleep(6)  # the driver stays a moment, so the page shows it running
    sc.stop()
""")


def test_submit_a_job_see_its_progress_and_its_end(page: Any, ui_cluster: UiCluster) -> None:
    c = ui_cluster
    open_page(page, c, "/jobs")
    page.get_by_text("Submit a job", exact=True).click()
    page.get_by_label("Name", exact=True).fill("word count")
    page.get_by_label("Script file name").fill("ui_job.py")
    page.locator("#job-content").fill(SCRIPT)
    page.get_by_label("Driver CPUs").fill("0.1")
    page.get_by_label("Driver memory (MB)").fill("256")
    page.get_by_label("Executors", exact=True).fill("1")
    page.get_by_label("Executor memory").fill("256m")
    page.get_by_role("button", name="Submit", exact=True).click()
    done = page.get_by_role("status").filter(has_text="Submitted as ")
    expect(done).to_be_visible()
    sid = re.search(r"Submitted as (\S+)\.", done.inner_text()).group(1)  # type: ignore[union-attr]

    row = page.locator("tr").filter(has_text=sid)
    expect(row).to_contain_text("word count")

    # the running driver: its job's stages as progress bars, its job page through the gateway
    driver = page.get_by_role("region", name=f"Driver batch: {APP}")
    expect(driver).to_contain_text("Job 0 succeeded", timeout=120_000)
    expect(driver.get_by_role("meter").first).to_have_attribute("aria-valuenow", "2")
    job_page = driver.get_by_role("link", name="Job page").get_attribute("href")
    assert job_page == "/service/batch%3A%20ui-job/"
    status, _, body = http("GET", c.url + job_page)
    assert status == 200 and f"<h1>{APP}</h1>".encode() in body

    # finished, with a link to the driver task's page
    expect(row.locator(".status")).to_have_text("FINISHED", timeout=60_000)
    assert c.get(f"/service/batch/v1/submissions/{sid}")["state"] == "FINISHED"
    logs = row.get_by_role("link", name="Driver task and logs of word count")
    href = logs.get_attribute("href")
    m = re.fullmatch(rf"#/tasks/{re.escape(sid)}\?agent=([^&]+)&framework=([^&]+)", href)
    assert m, href
    logs.click()
    expect(page).to_have_url(re.compile(rf"#/tasks/{re.escape(sid)}\?agent="))
    # the task page shows the driver's stdout (its sandbox)
    expect(page.get_by_text("[('a', 3), ('b', 2), ('c', 1)]")).to_be_visible(timeout=30_000)


def test_a_refused_submission_and_a_kill(page: Any, ui_cluster: UiCluster) -> None:
    """The dispatcher's refusal is shown by the form; a driver no agent can hold stays QUEUED
    until it is killed from the list."""
    c = ui_cluster
    allow_console(page, r"status of 400")  # the refused submission, on purpose
    open_page(page, c, "/jobs")
    page.get_by_text("Submit a job", exact=True).click()
    page.get_by_label("Name", exact=True).fill("too big")
    page.get_by_label("Script file name").fill("sub/dir.py")
    submit = page.get_by_role("button", name="Submit", exact=True)
    submit.click()
    expect(page.get_by_role("alert").filter(has_text="must be a plain file name")).to_be_visible()

    page.get_by_label("Script file name").fill("big.py")
    page.get_by_label("Driver memory (MB)").fill("100000000")  # no agent has it: stays QUEUED
    submit.click()
    done = page.get_by_role("status").filter(has_text="Submitted as ")
    expect(done).to_be_visible()
    sid = re.search(r"Submitted as (\S+)\.", done.inner_text()).group(1)  # type: ignore[union-attr]
    try:
        row = page.locator("tr").filter(has_text=sid)
        expect(row.locator(".status")).to_have_text("QUEUED")
        row.get_by_role("button", name="Kill too big").click()
        expect(row.locator(".status")).to_have_text("KILLED")
        expect(row).to_contain_text("killed before it started")
        expect(row.get_by_role("button", name="Kill too big")).to_have_count(0)
    finally:
        if c.get(f"/service/batch/v1/submissions/{sid}")["state"] == "QUEUED":
            c.send("POST", f"/service/batch/v1/submissions/{sid}/kill")
