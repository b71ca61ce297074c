"""Task secrets (`dcos.agent.task_secrets`): the Mesos wire shapes read, resolution against a
master-like endpoint, env values and 0400 files owned by the task user, clear errors that
never show a value."""

from __future__ import annotations

import base64
import os
import pwd
import stat

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from dcos.agent.task_secrets import (
    RESOLVE_PATH,
    SecretError,
    SecretRef,
    SecretRefs,
    resolve,
    secret_refs,
    with_env,
    write_files,
)

REF = {"type": "REFERENCE", "reference": {"name": "team/db"}}


def _command(*variables):
    return {"value": "true", "environment": {"variables": list(variables)}}


def test_secret_refs_reads_env_and_volumes():
    inline = {"type": "VALUE", "value": {"data": base64.b64encode(b"inline").decode()}}
    refs = secret_refs(
        _command({"name": "PLAIN", "value": "x"}, {"name": "PW", "type": "SECRET", "secret": REF},
                 {"name": "IN", "type": "SECRET", "secret": inline}),
        {"volumes": [{"container_path": "./conf/pw.txt", "mode": "RO",
                      "source": {"type": "SECRET", "secret": REF}},
                     {"container_path": "data", "host_path": "/tmp", "mode": "RW"}]},
    )  # fmt: skip
    assert refs.env == {"PW": SecretRef("team/db"), "IN": SecretRef(value=b"inline")}
    assert refs.files == [("conf/pw.txt", SecretRef("team/db"))]
    assert refs.paths() == ["team/db"]
    assert not secret_refs(_command({"name": "A", "value": "b"}), None)


@pytest.mark.parametrize("command, container, why", [
    (_command({"name": "PW", "type": "SECRET"}), None, "expecting a 'secret' object"),
    (_command({"name": "PW", "type": "SECRET", "secret": {"type": "REFERENCE"}}), None,
     "secret.reference.name"),
    (_command({"name": "PW", "type": "SECRET", "secret": {"type": "X"}}), None, "unknown"),
    (None, {"volumes": [{"container_path": "../pw", "source": {"type": "SECRET",
                                                                "secret": REF}}]},
     "relative path inside the sandbox"),
    (None, {"volumes": [{"container_path": "/etc/pw", "source": {"type": "SECRET",
                                                                  "secret": REF}}]},
     "relative path inside the sandbox"),
])  # fmt: skip
def test_malformed_secrets_are_refused(command, container, why):
    with pytest.raises(SecretError, match=why):
        secret_refs(command, container)


@pytest.fixture
async def master():
    """A stand-in for the master's resolve endpoint: knows team/db only."""
    asked: list[list[str]] = []

    async def handler(request: web.Request) -> web.Response:
        paths = (await request.json())["paths"]
        asked.append(paths)
        store = {"team/db": base64.b64encode(b"s3cret").decode()}
        return web.json_response({"values": {p: store[p] for p in paths if p in store}})

    app = web.Application()
    app.router.add_post(RESOLVE_PATH, handler)
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        yield str(server.make_url("")), session, asked


async def test_resolve_and_missing_secret(master):
    url, session, asked = master
    assert await resolve(session, url, ["team/db"]) == {"team/db": b"s3cret"}
    assert asked == [["team/db"]]
    with pytest.raises(SecretError, match="cannot resolve secret 'team/nope': no such secret"):
        await resolve(session, url, ["team/db", "team/nope"])
    with pytest.raises(SecretError, match="no leading master"):
        await resolve(session, None, ["team/db"])
    with pytest.raises(SecretError, match="answered 404"):
        await resolve(session, url + "/elsewhere", ["team/db"])


def test_env_and_files(tmp_path):
    refs = SecretRefs({"PW": SecretRef("team/db")}, [("conf/pw.txt", SecretRef("team/db"))])
    values = {"team/db": b"s3cret"}
    assert with_env({"A": "1"}, refs, values) == {"A": "1", "PW": "s3cret"}
    nobody = pwd.getpwnam("nobody")
    [path] = write_files(str(tmp_path), refs, values, nobody.pw_uid, nobody.pw_gid)
    assert os.path.islink(path)  # to the value under .dcos-secrets, which no API serves
    assert os.path.realpath(path) == str(tmp_path / ".dcos-secrets" / "conf" / "pw.txt")
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o400 and st.st_uid == nobody.pw_uid
    assert open(path, "rb").read() == b"s3cret"
    with pytest.raises(SecretError, match="already exists"):  # never overwritten
        write_files(str(tmp_path), refs, values)


def test_files_are_never_written_through_a_link(tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "sb").mkdir()
    (tmp_path / "sb" / "conf").symlink_to(tmp_path / "outside")
    refs = SecretRefs({}, [("conf/pw.txt", SecretRef("team/db"))])
    with pytest.raises(SecretError, match="cannot write secret file 'conf/pw.txt'") as exc:
        write_files(str(tmp_path / "sb"), refs, {"team/db": b"s3cret"})
    assert "s3cret" not in str(exc.value)
    assert os.listdir(tmp_path / "outside") == []


def test_binary_secret_cannot_be_an_env_value():
    refs = SecretRefs({"PW": SecretRef("team/bin")}, [])
    with pytest.raises(SecretError, match="not UTF-8 text") as exc:
        with_env({}, refs, {"team/bin": b"\xff\xfe"})
    assert "\\xff" not in str(exc.value)
