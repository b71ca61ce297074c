"""The master's files API (Mesos ``/files/*``) over real loopback HTTP: its ``--log-file`` as
``/master/log`` with the agent's read/browse/download answers (what `dcos node log --leader`
reads through the gateway), 404 for every other path and when it logs to stderr."""

from __future__ import annotations

import aiohttp
import pytest

from dcos.common.files_api import MAX_READ
from dcos.testing.master import master

pytestmark = pytest.mark.timeout(30)

LOG = "I1206 master started\nI1206 elected leader\n"
ENDPOINTS = ["/files/read", "/files/browse", "/files/download"]


@pytest.fixture
async def logged(tmp_path):
    """A master whose --log-file holds `LOG`, and a session: ``(url, log path, session)``."""
    log = tmp_path / "master.log"
    log.write_text(LOG)
    (tmp_path / "secret").write_text("top secret")
    m = await master(tmp_path, log_file=str(log))
    async with aiohttp.ClientSession() as s:
        yield m.url, log, s
    await m.stop()


async def _get(session, url, **params):
    async with session.get(url, params={k: str(v) for k, v in params.items()}) as r:
        return r.status, await r.read()


async def _json(session, url, **params):
    async with session.get(url, params={k: str(v) for k, v in params.items()}) as r:
        assert r.status == 200, await r.text()
        assert r.content_type == "application/json"
        return await r.json()


async def test_read_master_log_with_mesos_offsets(logged):
    url, _, s = logged
    read = url + "/files/read.json"
    assert await _json(s, read, path="/master/log", offset=-1) == {"data": "", "offset": len(LOG)}
    assert await _json(s, read, path="/master/log") == {"data": "", "offset": len(LOG)}
    whole = await _json(s, read, path="/master/log", offset=0, length=-1)
    assert whole == {"data": LOG, "offset": 0}
    part = await _json(s, url + "/files/read", path="/master/log", offset=6, length=6)
    assert part == {"data": LOG[6:12], "offset": 6}
    past = await _json(s, read, path="/master/log", offset=10_000)
    assert past == {"data": "", "offset": 10_000}


async def test_follow_reads_what_was_appended(logged):
    url, log, s = logged
    end = (await _json(s, url + "/files/read.json", path="/master/log"))["offset"]
    with open(log, "a") as f:
        f.write("I1206 a new line\n")
    body = await _json(s, url + "/files/read.json", path="/master/log", offset=end)
    assert body == {"data": "I1206 a new line\n", "offset": end}


async def test_read_is_capped_like_the_agents(logged):
    url, log, s = logged
    log.write_bytes(b"x" * (MAX_READ * 2))
    body = await _json(s, url + "/files/read", path="/master/log", offset=0, length=MAX_READ * 2)
    assert len(body["data"]) == MAX_READ


async def test_browse_and_download(logged):
    url, _, s = logged
    for suffix in ("", ".json"):
        [entry] = await _json(s, url + "/files/browse" + suffix, path="/master/log")
        assert set(entry) == {"path", "nlink", "size", "mtime", "mode", "uid", "gid"}
        assert entry["path"] == "/master/log" and entry["size"] == len(LOG)
        async with s.get(url + "/files/download" + suffix, params={"path": "/master/log"}) as r:
            assert r.status == 200 and await r.read() == LOG.encode()
            assert r.headers["Content-Disposition"].startswith("attachment")


async def test_a_symlinked_log_file_is_followed(tmp_path):
    """The log file is the operator's choice; a link to it (logrotate setups) is served."""
    real = tmp_path / "real.log"
    real.write_text(LOG)
    (tmp_path / "link.log").symlink_to(real)
    m = await master(tmp_path, log_file=str(tmp_path / "link.log"))
    try:
        async with aiohttp.ClientSession() as s:
            body = await _json(s, m.url + "/files/read", path="/master/log", offset=0)
    finally:
        await m.stop()
    assert body["data"] == LOG


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("path", ["/etc/passwd", "/", "/master", "/master/log/x", "/slave/log",
                                  "/master/log/../../secret", "/master/../etc/passwd",
                                  "/master/./log", "{tmp}/master.log", "{tmp}/secret"])  # fmt: skip
async def test_every_other_path_is_404(logged, tmp_path, endpoint, path):
    url, _, s = logged
    status, body = await _get(s, url + endpoint, path=path.format(tmp=tmp_path), offset=0)
    assert status == 404, (path, body)
    assert b"top secret" not in body and b"root:" not in body and b"elected" not in body


async def test_encoded_forms(logged):
    url, _, s = logged
    async with s.get(url + "/files/read.json?path=%2Fmaster%2Flog&offset=0") as r:
        assert r.status == 200 and (await r.json())["data"] == LOG
    async with s.get(url + "/files/read?path=%2Fmaster%2F..%2F..%2Fetc%2Fpasswd&offset=0") as r:
        assert r.status == 404 and b"root:" not in await r.read()
    async with s.get(url + "/files/read?path=%252Fmaster%252Flog&offset=0") as r:
        assert r.status == 404  # encoded twice: the text "%2Fmaster%2Flog", no path of ours
    async with s.get(url + "/files/read?path=%2Fmaster%2Flog%00&offset=0") as r:
        assert r.status == 400


@pytest.mark.parametrize("query", [
    {"path": "/master/log", "offset": "x"}, {"path": "/master/log", "offset": "-2"},
    {"path": "/master/log", "offset": "0", "length": "1.5"}, {"path": ""}, {},
])  # fmt: skip
async def test_bad_parameters_are_400(logged, query):
    url, _, s = logged
    status, body = await _get(s, url + "/files/read", **query)
    assert status == 400 and body


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_no_log_file_is_404(tmp_path, endpoint):
    m = await master(tmp_path)  # logs to stderr
    try:
        async with aiohttp.ClientSession() as s:
            status, body = await _get(s, m.url + endpoint, path="/master/log", offset=0)
    finally:
        await m.stop()
    assert status == 404 and b"--log-file" in body
