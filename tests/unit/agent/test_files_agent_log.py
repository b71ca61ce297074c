"""The agent's files API serves its own ``--log-file`` as Mesos' virtual ``/slave/log`` (what
`dcos node log --mesos-id` reads), with the same read/browse/download answers as sandbox
files, and still refuses everything else outside the sandboxes: the log by its real path,
``..`` around the virtual name, symlinks from a sandbox to the log, encoded forms."""

from __future__ import annotations

import urllib.parse

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dcos.agent.__main__ import config_from_args
from dcos.agent.agent import Agent
from dcos.agent.config import AgentConfig
from dcos.agent.containerizer.fake import FakeContainerizer
from dcos.agent.http.files import add_routes

pytestmark = pytest.mark.timeout(30)

RUN = "slaves/A1/frameworks/F1/executors/E1/runs"
LOG = "I1206 agent started\nI1206 registered with the master\n"
ENDPOINTS = ["/files/read", "/files/browse", "/files/download"]


@pytest.fixture
def work(tmp_path):
    sandbox = tmp_path / RUN / "c1"
    sandbox.mkdir(parents=True)
    (sandbox / "stdout").write_text("task output\n")
    (tmp_path / "agent.log").write_text(LOG)  # inside the work dir, as `dcos-py up` puts it
    (tmp_path / "secret").write_text("top secret")
    return tmp_path


async def _client(app: web.Application) -> TestClient:
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def client(work):
    app = web.Application()
    add_routes(app, str(work), log_file=str(work / "agent.log"))
    c = await _client(app)
    yield c
    await c.close()


async def _get(client, endpoint, **params):
    resp = await client.get(endpoint, params={k: str(v) for k, v in params.items()})
    return resp.status, await resp.read()


async def _raw(client, query: str):
    """A request whose query string is sent exactly as written (encoded forms)."""
    url = client.make_url("/files/read").with_query(None)
    resp = await client.session.get(f"{url}?{query}")
    return resp.status, await resp.read()


async def test_read_slave_log_with_mesos_offsets(client):
    resp = await client.get("/files/read.json", params={"path": "/slave/log", "offset": "-1"})
    assert resp.status == 200 and await resp.json() == {"data": "", "offset": len(LOG)}
    resp = await client.get("/files/read.json", params={"path": "/slave/log", "offset": "0",
                                                        "length": "-1"})  # fmt: skip
    assert await resp.json() == {"data": LOG, "offset": 0}
    resp = await client.get("/files/read", params={"path": "/slave/log", "offset": "5",
                                                   "length": "4"})  # fmt: skip
    assert await resp.json() == {"data": LOG[5:9], "offset": 5}


async def test_appended_lines_are_read_from_the_last_offset(client, work):
    """What `dcos node log --follow` does: remember the end, read from there as it grows."""
    resp = await client.get("/files/read", params={"path": "/slave/log"})
    end = (await resp.json())["offset"]
    with open(work / "agent.log", "a") as f:
        f.write("I1206 a new line\n")
    resp = await client.get("/files/read", params={"path": "/slave/log", "offset": str(end)})
    assert (await resp.json())["data"] == "I1206 a new line\n"


async def test_browse_and_download_slave_log(client):
    resp = await client.get("/files/browse.json", params={"path": "/slave/log"})
    assert resp.status == 200
    [entry] = await resp.json()
    assert entry["path"] == "/slave/log" and entry["size"] == len(LOG)
    assert entry["mode"].startswith("-rw")
    resp = await client.get("/files/download", params={"path": "/slave/log"})
    assert resp.status == 200 and await resp.read() == LOG.encode()
    assert "agent.log" in resp.headers["Content-Disposition"]


@pytest.mark.parametrize("path", ["//slave/log", "/slave/log/", "/slave//log", "slave/log"])
async def test_empty_components_still_name_the_log(client, path):
    """Mesos trims the slashes around a path before matching what it attached."""
    status, body = await _get(client, "/files/read", path=path, offset=0)
    assert status == 200 and b"registered" in body


async def test_sandboxes_are_still_served(client, work):
    status, body = await _get(client, "/files/read", path=str(work / RUN / "c1" / "stdout"),
                              offset=0)  # fmt: skip
    assert status == 200 and b"task output" in body


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_log_by_its_real_path_is_still_403(client, work, endpoint):
    status, body = await _get(client, endpoint, path=str(work / "agent.log"), offset=0)
    assert status == 403 and b"registered" not in body


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("path", ["/slave/log/../../secret", "/slave/../secret", "/slave/log/..",
                                  "/slave/./log", "/slave/log/x", "/slave", "/master/log",
                                  "/slave/log/../../../../../../etc/passwd"])  # fmt: skip
async def test_traversal_around_the_virtual_name_is_refused(client, endpoint, path):
    status, body = await _get(client, endpoint, path=path, offset=0)
    assert status == 403, (path, body)
    assert b"top secret" not in body and b"root:" not in body and b"registered" not in body


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_sandbox_symlink_to_the_log_is_403(client, work, endpoint):
    link = work / RUN / "c1" / "log-link"
    link.symlink_to(work / "agent.log")
    status, body = await _get(client, endpoint, path=str(link), offset=0)
    assert status == 403 and b"registered" not in body


async def test_encoded_forms(client, work):
    status, body = await _raw(client, "path=%2Fslave%2Flog&offset=0")  # plain encoding: the log
    assert status == 200 and b"registered" in body
    status, body = await _raw(client, "path=%2Fslave%2F..%2F..%2Fetc%2Fpasswd&offset=0")
    assert status == 403 and b"root:" not in body
    status, body = await _raw(client, "path=%2Fslave%2Flog%00&offset=0")
    assert status == 400
    encoded_twice = urllib.parse.quote(urllib.parse.quote("/slave/log", safe=""), safe="")
    status, body = await _raw(client, f"path={encoded_twice}&offset=0")
    assert status == 403 and b"registered" not in body  # "%2Fslave%2Flog" is no path of ours


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_no_log_file_is_404(work, endpoint):
    app = web.Application()
    add_routes(app, str(work))
    client = await _client(app)
    try:
        status, body = await _get(client, endpoint, path="/slave/log", offset=0)
    finally:
        await client.close()
    assert status == 404 and b"--log-file" in body


async def test_log_file_not_written_yet_is_404(work):
    app = web.Application()
    add_routes(app, str(work), log_file=str(work / "later.log"))
    client = await _client(app)
    try:
        status, _ = await _get(client, "/files/read", path="/slave/log", offset=0)
    finally:
        await client.close()
    assert status == 404


def test_log_file_flag_reaches_the_config(tmp_path):
    config, _ = config_from_args(["--master", "127.0.0.1:5050", "--log-file",
                                  str(tmp_path / "a.log")])  # fmt: skip
    assert config.log_file == str(tmp_path / "a.log")
    assert config_from_args(["--master", "127.0.0.1:5050"])[0].log_file is None


async def test_a_running_agent_serves_its_log_file(master, tmp_path):
    log = tmp_path / "agent.log"
    log.write_text(LOG)
    config = AgentConfig(master=f"http://{master.address}", port=0, work_dir=str(tmp_path / "w"),
                         resources="cpus:1;mem:256", detect=False, log_file=str(log))  # fmt: skip
    agent = Agent(config, FakeContainerizer())
    await agent.start()
    try:
        async with aiohttp.ClientSession() as http:
            params = {"path": "/slave/log", "offset": "0"}
            async with http.get(agent.url + "/files/read.json", params=params) as r:
                assert r.status == 200 and (await r.json())["data"] == LOG
    finally:
        await agent.stop()
