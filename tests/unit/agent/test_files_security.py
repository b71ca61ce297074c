"""The files API refuses a regular file with more than one hard link (a task that hard-links
``/etc/shadow`` into its sandbox must not read it back through ``/files/read`` or
``/files/download``), and never serves a ``.gz`` sibling in place of the file asked for."""

from __future__ import annotations

import os

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dcos.agent.http.files import add_routes
from dcos.common.files_api import FilesError, open_checked

RUN = "slaves/A1/frameworks/F1/executors/E1/runs/c1"


@pytest.fixture
def work(tmp_path):
    sandbox = tmp_path / RUN
    sandbox.mkdir(parents=True)
    (sandbox / "stdout").write_text("hello\n")
    (tmp_path / "outside").write_text("top secret")
    os.link(tmp_path / "outside", sandbox / "linked")  # what a task could do to /etc/shadow
    return tmp_path


@pytest.fixture
async def client(work):
    app = web.Application()
    add_routes(app, str(work))
    async with TestClient(TestServer(app)) as c:
        yield c


@pytest.mark.parametrize("endpoint", ["/files/read", "/files/download"])
async def test_hard_linked_file_is_refused(client, work, endpoint):
    resp = await client.get(endpoint, params={"path": str(work / RUN / "linked"), "offset": "0"})
    body = await resp.read()
    assert resp.status == 403
    assert b"top secret" not in body and b"hard links" in body
    assert resp.content_type == "text/plain"  # Mesos' plain-text errors


async def test_a_file_with_one_link_is_served(client, work):
    resp = await client.get("/files/download", params={"path": str(work / RUN / "stdout")})
    assert resp.status == 200 and await resp.read() == b"hello\n"
    resp = await client.get("/files/read", params={"path": str(work / RUN / "stdout"),
                                                   "offset": "0"})  # fmt: skip
    assert (await resp.json())["data"] == "hello\n"


async def test_download_never_serves_a_gz_sibling(client, work):
    (work / RUN / "stdout.gz").symlink_to(work / "outside")
    resp = await client.get("/files/download", params={"path": str(work / RUN / "stdout")},
                            headers={"Accept-Encoding": "gzip, br"})  # fmt: skip
    assert resp.status == 200 and await resp.read() == b"hello\n"


def test_open_checked_refuses_links_and_closes(work):
    with pytest.raises(FilesError) as exc:
        open_checked(str(work / RUN / "linked"), "read")
    assert exc.value.status == 403 and "2 hard links" in exc.value.message
    fd, st = open_checked(str(work / RUN / "stdout"))
    os.close(fd)
    assert st.st_size == 6
