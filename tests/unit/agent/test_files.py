"""The agent's files API: browse/read/download, Mesos offset/length semantics, and refusal
of every path that resolves outside a sandbox (403, nothing read); 404 for missing files."""

from __future__ import annotations

import os
import urllib.parse

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dcos.agent.http.files import add_routes
from dcos.common.files_api import MAX_READ

RUN = "slaves/A1/frameworks/F1/executors/E1/runs"


@pytest.fixture
def work(tmp_path):
    old = tmp_path / RUN / "c-old"
    new = tmp_path / RUN / "c-new"
    old.mkdir(parents=True)
    (old / "stdout").write_text("old run\n")
    new.mkdir(parents=True)
    (new / "stdout").write_text("line1\nline2\n")
    (new / "sub").mkdir()
    (new / "sub" / "f.bin").write_bytes(b"\x00\x01")
    (tmp_path / "secret").write_text("top secret")
    return tmp_path


@pytest.fixture
async def client(work):
    app = web.Application()
    add_routes(app, str(work))
    async with TestClient(TestServer(app)) as c:
        yield c


async def _get(client, endpoint, **params):
    resp = await client.get(endpoint, params={k: str(v) for k, v in params.items()})
    body = await resp.read()
    return resp.status, body


async def test_browse_lists_entries_mesos_shape(client, work):
    sandbox = str(work / RUN / "c-new")
    resp = await client.get("/files/browse", params={"path": sandbox})
    assert resp.status == 200
    entries = await resp.json()
    assert [e["path"] for e in entries] == [sandbox + "/stdout", sandbox + "/sub"]
    f = entries[0]
    assert set(f) == {"path", "nlink", "size", "mtime", "mode", "uid", "gid"}
    assert f["size"] == 12 and f["mode"].startswith("-rw") and entries[1]["mode"][0] == "d"


async def test_browse_json_alias_and_virtual_latest(client):
    resp = await client.get("/files/browse.json",
                            params={"path": "/frameworks/F1/executors/E1/runs/latest"})  # fmt: skip
    assert resp.status == 200
    names = [e["path"].rsplit("/", 1)[1] for e in await resp.json()]
    assert names == ["stdout", "sub"]


async def test_read_offset_length_semantics(client, work):
    path = str(work / RUN / "c-new" / "stdout")
    resp = await client.get("/files/read", params={"path": path, "offset": "-1"})
    assert await resp.json() == {"data": "", "offset": 12}
    resp = await client.get("/files/read", params={"path": path})  # no offset: the size
    assert await resp.json() == {"data": "", "offset": 12}
    resp = await client.get("/files/read.json", params={"path": path, "offset": "6", "length": "3"})
    assert await resp.json() == {"data": "lin", "offset": 6}
    resp = await client.get("/files/read", params={"path": path, "offset": "0", "length": "-1"})
    assert (await resp.json())["data"] == "line1\nline2\n"
    resp = await client.get("/files/read", params={"path": path, "offset": "100"})
    assert await resp.json() == {"data": "", "offset": 100}


async def test_read_length_is_capped(client, work):
    big = work / RUN / "c-new" / "big"
    big.write_bytes(b"a" * (MAX_READ * 3))
    resp = await client.get("/files/read", params={"path": str(big), "offset": "0",
                                                   "length": str(MAX_READ * 3)})  # fmt: skip
    assert len((await resp.json())["data"]) == MAX_READ


async def test_read_does_not_split_utf8_characters(client, work):
    f = work / RUN / "c-new" / "u"
    f.write_bytes("aé".encode() + b"z")
    resp = await client.get("/files/read", params={"path": str(f), "offset": "0", "length": "2"})
    body = await resp.json()
    assert body == {"data": "a", "offset": 0}


@pytest.mark.parametrize("offset,length", [("-2", "1"), ("0", "-5"), ("x", "1"), ("0", "1.5")])
async def test_bad_offset_or_length_is_400(client, work, offset, length):
    path = str(work / RUN / "c-new" / "stdout")
    status, body = await _get(client, "/files/read", path=path, offset=offset, length=length)
    assert status == 400 and body


async def test_download_streams_attachment(client, work):
    resp = await client.get("/files/download", params={"path": str(work / RUN / "c-new/stdout")})
    assert resp.status == 200
    assert "attachment" in resp.headers["Content-Disposition"]
    assert await resp.read() == b"line1\nline2\n"


async def test_missing_file_in_sandbox_is_404(client, work):
    status, _ = await _get(client, "/files/read", path=str(work / RUN / "c-new" / "nope"), offset=0)
    assert status == 404


@pytest.mark.parametrize("endpoint", ["/files/read", "/files/browse", "/files/download"])
async def test_dotdot_escape_is_403(client, work, endpoint):
    path = str(work / RUN / "c-new") + "/../../../../../../../../secret"
    status, body = await _get(client, endpoint, path=path, offset=0)
    assert status == 403 and b"top secret" not in body
    virtual = "/frameworks/F1/executors/E1/runs/latest/../../../../../../secret"
    status, body = await _get(client, endpoint, path=virtual, offset=0)
    assert status == 403 and b"top secret" not in body


@pytest.mark.parametrize("endpoint", ["/files/read", "/files/browse", "/files/download"])
async def test_symlink_pointing_outside_is_403(client, work, endpoint):
    link = work / RUN / "c-new" / "evil"
    link.symlink_to(work / "secret")
    dlink = work / RUN / "c-new" / "evildir"
    dlink.symlink_to(work)
    for path in (str(link), str(dlink) + "/secret", str(dlink)):
        status, body = await _get(client, endpoint, path=path, offset=0)
        assert status == 403 and b"top secret" not in body


@pytest.mark.parametrize("path", ["/etc/passwd", "/", "relative/path", "{work}/secret",
                                  "{work}/slaves/A1/frameworks/F1"])  # fmt: skip
async def test_absolute_path_outside_any_sandbox_is_403(client, work, path):
    status, body = await _get(client, "/files/read", path=path.format(work=work), offset=0)
    assert status == 403 and b"root:" not in body


async def test_symlink_inside_sandbox_is_followed(client, work):
    link = work / RUN / "c-new" / "alias"
    link.symlink_to(work / RUN / "c-new" / "stdout")
    resp = await client.get("/files/read", params={"path": str(link), "offset": "0"})
    assert resp.status == 200 and (await resp.json())["data"].startswith("line1")


async def test_completed_run_by_container_id_is_readable(client):
    resp = await client.get("/files/read", params={
        "path": "/frameworks/F1/executors/E1/runs/c-old/stdout", "offset": "0"})  # fmt: skip
    assert (await resp.json())["data"] == "old run\n"


async def test_missing_path_param_is_400(client):
    status, _ = await _get(client, "/files/read")
    assert status == 400


# -- no 500 for any path or parameter (issue 9: PermissionError from realpath was a 500) -----


@pytest.mark.parametrize("endpoint", ["/files/read", "/files/browse", "/files/download"])
async def test_proc_root_paths_are_403_not_500(client, work, endpoint):
    link = work / RUN / "c-new" / "proc-link"
    link.symlink_to("/proc/1/root/etc/passwd")
    for path in ("/proc/1/root/etc/passwd", "/proc/self/root/etc/passwd", str(link),
                 str(work / RUN / "c-new") + "/../../../../../../../../proc/1/root/etc"):  # fmt: skip
        status, body = await _get(client, endpoint, path=path, offset=0)
        assert status == 403, (path, body)
        assert b"root:" not in body


@pytest.mark.parametrize("endpoint", ["/files/read", "/files/browse", "/files/download"])
async def test_a_symlink_that_cannot_be_resolved_is_403(client, work, endpoint, monkeypatch):
    """realpath raising (e.g. a link it may not read, as /proc/1/root for a non-root agent)."""
    import dcos.agent.http.files as files

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(files.os.path, "realpath", lambda p, **kw: denied(p) if "c-new" in p
                        else os.path.abspath(p))  # fmt: skip
    status, body = await _get(client, endpoint, path=str(work / RUN / "c-new" / "stdout"), offset=0)
    assert status == 403 and b"cannot be resolved" in body


@pytest.mark.parametrize("endpoint", ["/files/read", "/files/download"])
async def test_a_fifo_or_directory_in_a_sandbox_is_400_without_blocking(client, work, endpoint):
    fifo = work / RUN / "c-new" / "pipe"
    os.mkfifo(fifo)
    status, body = await _get(client, endpoint, path=str(fifo), offset=0)
    assert status == 400 and b"regular file" in body
    status, _ = await _get(client, endpoint, path=str(work / RUN / "c-new" / "sub"), offset=0)
    assert status == 400


async def test_odd_file_names_are_listed_and_downloaded(client, work):
    sandbox = work / RUN / "c-new"
    raw = os.path.join(os.fsencode(sandbox), b"bad-\xff-name")
    with open(raw, "wb") as f:
        f.write(b"x")
    (sandbox / 'quo"te\nnewline é').write_text("odd")
    status, body = await _get(client, "/files/browse", path=str(sandbox))
    assert status == 200
    names = [e["path"].rsplit("/", 1)[1] for e in orjson.loads(body)]
    assert "bad-\ufffd-name" in names and 'quo"te\nnewline é' in names
    resp = await client.get("/files/download", params={"path": str(sandbox / 'quo"te\nnewline é')})
    assert resp.status == 200 and await resp.read() == b"odd"
    disposition = resp.headers["Content-Disposition"]
    assert "\n" not in disposition and "filename*=UTF-8''quo%22te%0Anewline%20%C3%A9" in disposition


@pytest.mark.parametrize("params", [
    {"offset": str(10**30)}, {"length": str(10**30)}, {"offset": "9" * 5000}, {"offset": "1e3"},
    {"offset": "-2"}, {"length": "0x10"},
])  # fmt: skip
async def test_huge_or_malformed_offsets_are_400(client, work, params):
    resp = await client.get("/files/read", params={"path": str(work / RUN / "c-new/stdout"),
                                                   **params})  # fmt: skip
    assert resp.status == 400, await resp.text()


async def test_the_largest_offset_reads_nothing(client, work):
    resp = await client.get("/files/read", params={"path": str(work / RUN / "c-new/stdout"),
                                                   "offset": str(2**63 - 1), "length": "10"})  # fmt: skip
    assert resp.status == 200 and (await resp.json())["data"] == ""


@pytest.mark.parametrize("endpoint", ["/files/read", "/files/browse", "/files/download"])
@pytest.mark.parametrize("path", ["/a\x00b", "/" + "a" * 5000, "\udcff", "%ff%fe",
                                  "/frameworks/../executors/E1/runs/latest",
                                  "/frameworks/F1/executors/E1/runs/..",
                                  "/frameworks/F1/executors/../runs/latest/stdout"])  # fmt: skip
async def test_odd_paths_are_4xx(client, work, endpoint, path):
    resp = await client.get(endpoint + "?path=" + urllib.parse.quote(path, errors="surrogateescape"))
    assert 400 <= resp.status < 500, (path, resp.status)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
async def test_an_unreadable_file_in_a_sandbox_is_403(client, work):
    secret = work / RUN / "c-new" / "locked"
    secret.write_text("no")
    secret.chmod(0)
    for endpoint in ("/files/read", "/files/download"):
        status, _ = await _get(client, endpoint, path=str(secret), offset=0)
        assert status == 403
    locked_dir = work / RUN / "c-new" / "lockeddir"
    locked_dir.mkdir()
    locked_dir.chmod(0)
    status, _ = await _get(client, "/files/browse", path=str(locked_dir))
    assert status == 403
    locked_dir.chmod(0o700)
