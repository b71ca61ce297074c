"""The package service with security on (`dcos.packaging.security`): HTTPS, authentication
with Cosmos error bodies (assets of public repositories open), the install/uninstall/repository ACLs, the user's Authorization
forwarded to the webapp over mutual TLS, and X-Forwarded-Host believed from the gateway's
certificate only.

The service's HTTP app (`dcos.packaging.api.build_app`) is served over HTTPS with the package
certificate; its webapp client (`HttpWebapp`) talks mutual TLS to a tiny HTTPS webapp stand-in
that records who called it. No cluster: the full path through a real cluster is
tests/security's.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from dcos.common.sse import WebappEndpoints
from dcos.packaging import mediatypes as mt
from dcos.packaging.api import build_app
from dcos.packaging.clients import HttpWebapp
from dcos.packaging.indexes import IndexCache
from dcos.packaging.repositories import Repository, RepositoryStore
from dcos.packaging.service import PackageService
from dcos.packaging.uninstall import Waits
from dcos.security.acls import Acls
from dcos.security.context import load_context
from dcos.security.layout import SecurityDir, init_security_dir
from dcos.security.tls import ca_client_context, peer_identity, server_context
from dcos.security.tokens import TokenIssuer
from dcos.state.memory import MemoryStateStore
from dcos.testing import free_port
from tests.packages.testrepo import write_repo

NAMES = {"package": "component", "gateway": "component", "webapp": "component"}
ACLS = {
    "permissive": False,
    "install_packages": [{"principals": {"values": ["alice"]}, "packages": {"values": ["pyhttp"]}}],
    "uninstall_packages": [{"principals": {"values": ["alice"]}, "packages": {"type": "NONE"}}],
    "change_repositories": [{"principals": {"values": ["alice"]},
                             "repositories": {"values": ["mine"]}}],
}  # fmt: skip


@pytest.fixture(scope="module")
def sd(tmp_path_factory: pytest.TempPathFactory) -> SecurityDir:
    return init_security_dir(tmp_path_factory.mktemp("security"), names=NAMES)


@dataclass
class Webapp:
    """The webapp stand-in: apps created, and for each call its Authorization and peer."""

    apps: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            peer = peer_identity(request)
            self.calls.append((f"{request.method} {request.path}",
                               request.headers.get("Authorization"),
                               peer.principal if peer else None))  # fmt: skip
            if request.method == "POST" and request.path == "/v2/apps":
                self.apps.append({**await request.json(), "tasks": []})
                return web.json_response({}, status=201)
            if request.path == "/v2/apps":
                return web.json_response({"apps": self.apps})
            return web.json_response({"message": "not found"}, status=404)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        return app


class Master:
    async def frameworks(self) -> list[dict[str, Any]]:
        return []

    async def teardown(self, framework_id: str) -> None:
        raise AssertionError("no teardown expected")


@dataclass
class Service:
    url: str
    webapp: Webapp


@pytest.fixture
async def service(sd: SecurityDir, tmp_path: Path) -> AsyncIterator[Service]:
    ctx = load_context(sd.root, "package")
    ctx.acls = Acls.from_json(ACLS)
    webapp = Webapp()
    runners = []
    try:
        wr = web.AppRunner(webapp.app(), shutdown_timeout=0.2)
        await wr.setup()
        runners.append(wr)
        wport = free_port()
        await web.TCPSite(wr, "127.0.0.1", wport, ssl_context=server_context(sd, "webapp")).start()
        async with aiohttp.ClientSession() as repos_session, \
                aiohttp.ClientSession(**ctx.client_kwargs()) as cluster:  # fmt: skip
            store = RepositoryStore(MemoryStateStore())
            await store.seed([Repository("test", write_repo(tmp_path / "repo").as_uri())])
            svc = PackageService(repos=store, indexes=IndexCache(repos_session),
                                 webapp=HttpWebapp(cluster, WebappEndpoints(
                                     f"https://127.0.0.1:{wport}")),
                                 master=Master(), advertise_url="https://10.0.0.7:7070",
                                 waits=Waits(tasks_s=0.5, frameworks_s=0.5, poll_s=0.01))  # fmt: skip
            pr = web.AppRunner(build_app(svc, repos_session, ctx), shutdown_timeout=0.2)
            await pr.setup()
            runners.append(pr)
            port = free_port()
            await web.TCPSite(pr, "127.0.0.1", port, ssl_context=ctx.server_ssl).start()
            yield Service(f"https://127.0.0.1:{port}", webapp)
    finally:
        for r in reversed(runners):
            await r.cleanup()


def headers(path: str, jwt: str | None = None) -> dict[str, str]:
    ep = mt.ENDPOINTS[path]
    assert ep.request is not None
    out = {"Content-Type": ep.request, "Accept": ",".join(ep.responses)}
    if jwt:
        out["Authorization"] = f"token={jwt}"
    return out


def session(sd: SecurityDir, cert: str | None = None) -> aiohttp.ClientSession:
    ctx = ca_client_context(sd.ca_cert)
    if cert:
        ctx.load_cert_chain(sd.cert(cert), sd.key(cert))
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx))


def token(sd: SecurityDir, uid: str) -> str:
    return TokenIssuer.load(sd.token_key).issue(uid, now=time.time())


async def rpc(s: aiohttp.ClientSession, svc: Service, path: str, body: Any,
              jwt: str | None = None, **extra: str) -> tuple[int, Any]:  # fmt: skip
    async with s.post(svc.url + path, json=body, headers={**headers(path, jwt), **extra}) as r:
        return r.status, await r.json(content_type=None)


async def test_authentication_and_acls(service: Service, sd: SecurityDir) -> None:
    alice, bob = token(sd, "alice"), token(sd, "bob")
    async with session(sd) as s:
        async with s.get(service.url + "/health") as r:
            assert r.status == 200
        status, body = await rpc(s, service, "/package/search", {})
        assert status == 401 and body["type"] == "Unauthorized" and body["message"]
        status, body = await rpc(s, service, "/package/list", {}, "token=forged")
        assert status == 401 and body["type"] == "Unauthorized"
        # install: alice may install pyhttp only; bob nothing
        status, body = await rpc(s, service, "/package/install", {"packageName": "pyhttp"}, bob)
        assert status == 403 and body["type"] == "Forbidden" and "install_packages" in body["message"]
        assert service.webapp.calls == []  # refused before the webapp was asked anything
        status, body = await rpc(s, service, "/package/install", {"packageName": "pyhttp"}, alice)
        assert status == 200 and body["appId"] == "/pyhttp"
        # the webapp saw alice (her token) on the package service's mutual-TLS connection
        assert ("POST /v2/apps", f"token={alice}", "package") in service.webapp.calls
        assert {auth for _, auth, _ in service.webapp.calls} == {f"token={alice}"}
        status, body = await rpc(s, service, "/package/uninstall", {"packageName": "pyhttp"}, alice)
        assert status == 403 and body["type"] == "Forbidden"
        assert [a["id"] for a in service.webapp.apps] == ["/pyhttp"]  # nothing removed
        # repositories: only one named "mine"
        status, body = await rpc(s, service, "/package/repository/add",
                                 {"name": "other", "uri": "https://example.invalid/r.json"},
                                 alice)  # fmt: skip
        assert status == 403 and "change_repositories" in body["message"]
        status, body = await rpc(s, service, "/package/repository/delete", {"name": "test"},
                                 alice)  # fmt: skip
        assert status == 403
        status, body = await rpc(s, service, "/package/repository/list", {}, bob)
        assert status == 200 and [r["name"] for r in body["repositories"]] == ["test"]


async def test_forwarded_host_only_from_the_gateway(service: Service, sd: SecurityDir) -> None:
    jwt = token(sd, "bob")
    forwarded = {"X-Forwarded-Host": "gw.example:8000", "X-Forwarded-Proto": "https"}

    async def icon(s: aiohttp.ClientSession) -> str:
        status, body = await rpc(s, service, "/package/search", {"query": "pyhttp"}, jwt,
                                 **forwarded)  # fmt: skip
        assert status == 200
        return str(body["packages"][0]["images"]["icon-small"])

    async with session(sd) as s:
        url = await icon(s)
        assert not url.startswith("https://gw.example:8000/")
        async with s.get(url) as r:  # assets are open: the agents' fetcher has no credentials
            assert r.status == 200 and await r.read()
    async with session(sd, "gateway") as s:
        assert (await icon(s)).startswith("https://gw.example:8000/package/resource")
    with pytest.raises(aiohttp.ClientError):  # plain HTTP on the HTTPS port
        async with aiohttp.ClientSession() as s, s.get(service.url.replace("https", "http")
                                                       + "/health") as r:  # fmt: skip
            await r.read()
