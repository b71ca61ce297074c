"""The gateway with security on (``--security-dir``): HTTPS, authentication at the edge, the
user's Authorization forwarded, upstreams over mutual TLS with the gateway's certificate,
/acs and /secrets to the leading master, revocations followed from the master's policy; and
the DNS service behind it (webapp reads over mutual TLS, its HTTP API authenticated).

The gateway runs in the test's loop (as the other gateway tests); the master stand-in is a
tiny HTTPS app with the master's certificate, recording what reaches it (the real master's
own checks are tested in tests/integration/test_master_security.py and tests/security).
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from dcos.dns.service import DnsConfig, DnsService
from dcos.gateway.app import Gateway
from dcos.gateway.config import GatewayConfig
from dcos.security.context import load_context
from dcos.security.layout import SecurityDir, init_security_dir, read_admin_password
from dcos.security.tls import ca_client_context, peer_identity, server_context
from dcos.security.tokens import TokenIssuer
from dcos.testing import free_port

NAMES = {"master": "component", "gateway": "component", "agent": "agent", "dns": "component",
         "webapp": "component"}


@pytest.fixture(scope="module")
def sd(tmp_path_factory: pytest.TempPathFactory) -> SecurityDir:
    return init_security_dir(tmp_path_factory.mktemp("security"), names=NAMES)


class FakeMaster:
    """What the gateway reaches: who called (certificate) and with which Authorization."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.revoked: dict[str, float] = {}
        self.version = 1
        self.frameworks: dict[str, tuple[str, str]] = {}  # name -> (webui_url, principal)

    def app(self) -> web.Application:
        async def summary(request: web.Request) -> web.Response:
            return web.json_response({"frameworks": [
                {"name": n, "active": True, "webui_url": u, "principal": p}
                for n, (u, p) in self.frameworks.items()
            ], "slaves": []})  # fmt: skip

        async def record(request: web.Request) -> web.Response:
            peer = peer_identity(request)
            self.calls.append({"path": request.path_qs, "method": request.method,
                               "auth": request.headers.get("Authorization"),
                               "cookie": request.headers.get("Cookie"),
                               "peer": peer.principal if peer else None,
                               "forwarded_host": request.headers.get("X-Forwarded-Host")})
            if request.path == "/acs/api/v1/auth/login":
                return web.json_response({"token": "from-master"})
            return web.json_response({"ok": True})

        async def policy(request: web.Request) -> web.Response:
            return web.json_response({"version": self.version, "acls": {"permissive": True},
                                      "revoked": {"tokens": self.revoked, "uids": {}}})

        app = web.Application()
        app.router.add_get("/master/state-summary", summary)
        app.router.add_get("/acs/api/v1/policy", policy)
        app.router.add_route("*", "/{tail:.*}", record)
        return app


@pytest.fixture
async def secure(sd: SecurityDir, tmp_path: Path) -> AsyncIterator[tuple[Gateway, FakeMaster]]:
    master = FakeMaster()
    runner = web.AppRunner(master.app(), shutdown_timeout=0.2)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=server_context(sd, "master")).start()
    config = GatewayConfig(port=0, web_dir=tmp_path / "no-dist", connect_timeout=1.0,
                           masters=(f"127.0.0.1:{port}",), security_dir=sd.root)  # fmt: skip
    gw = await Gateway(config).start()
    try:
        yield gw, master
    finally:
        await gw.stop()
        await runner.cleanup()


def client(sd: SecurityDir) -> aiohttp.ClientSession:
    """A client that trusts the cluster CA and presents no certificate (a user's browser)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ca_client_context(sd.ca_cert)))


def token(sd: SecurityDir, uid: str = "alice") -> str:
    return TokenIssuer.load(sd.token_key).issue(uid, now=time.time())


async def test_open_paths_closed_paths_and_the_cli_probe(secure: tuple[Gateway, FakeMaster],
                                                         sd: SecurityDir) -> None:  # fmt: skip
    gw, master = secure
    assert gw.url.startswith("https://")
    async with client(sd) as s:
        for path in ("/metadata", "/dcos-metadata/dcos-version.json", "/health",
                     "/gateway/health", "/openapi.json"):  # fmt: skip
            async with s.get(gw.url + path) as r:
                assert r.status == 200, path
        async with s.head(gw.url + "/pkgpanda/active.buildinfo.full.json") as r:
            assert r.status == 401  # both DC/OS CLIs: "log in"
            assert r.headers.getall("WWW-Authenticate") == ["acsjwt"]
        for method, path in (("GET", "/mesos/master/state"), ("POST", "/mesos/api/v1"),
                             ("GET", "/acs/api/v1/users"), ("GET", "/secrets/v1/secret/default/"),
                             ("GET", "/assets/%2e%2e/mesos/master/state"),
                             ("GET", "/service/marathon/v2/apps")):  # fmt: skip
            async with s.request(method, gw.url + path) as r:
                body = await r.json()
                assert r.status == 401 and body["code"] == 401 and "log in" in body["message"]
                assert r.headers["WWW-Authenticate"] == "acsjwt"
        # the open login takes small bodies only (anyone may send one)
        async with s.post(gw.url + "/acs/api/v1/auth/login", data=b"x" * (2 << 20)) as r:
            assert r.status == 413 and (await r.json())["code"] == 413
        bad = {"Authorization": "token=not-a-jwt"}
        async with s.get(gw.url + "/mesos/master/state", headers=bad) as r:
            assert r.status == 401 and "invalid token" in (await r.json())["message"]
    assert master.calls == []  # nothing refused reached the master


async def test_tokens_are_forwarded_over_mutual_tls(secure: tuple[Gateway, FakeMaster],
                                                    sd: SecurityDir) -> None:  # fmt: skip
    gw, master = secure
    jwt = token(sd)
    async with client(sd) as s:
        async with s.post(gw.url + "/acs/api/v1/auth/login",
                          json={"uid": "alice", "password": "x"}) as r:  # fmt: skip
            assert r.status == 200 and (await r.json()) == {"token": "from-master"}
        async with s.get(gw.url + "/mesos/master/state",
                         headers={"Authorization": f"token={jwt}",
                                  "X-Forwarded-Host": "evil.example"}) as r:  # fmt: skip
            assert r.status == 200
        async with s.put(gw.url + "/secrets/v1/secret/default/team/db", json={"value": "v"},
                         headers={"Authorization": f"Bearer {jwt}"}) as r:  # fmt: skip
            assert r.status == 200
        # the UI's cookie: reads only (EventSource, images), never a change
        cookie = {"Cookie": f"dcos-acs-auth-cookie={jwt}"}
        async with s.get(gw.url + "/mesos/master/state?c=1", headers=cookie) as r:
            assert r.status == 200
        async with s.post(gw.url + "/mesos/api/v1", headers=cookie, json={}) as r:
            assert r.status == 401
    calls = {c["path"]: c for c in master.calls}
    assert calls["/acs/api/v1/auth/login"]["auth"] is None
    assert calls["/master/state"]["auth"] == f"token={jwt}"
    assert calls["/master/state"]["forwarded_host"] == f"127.0.0.1:{gw.port}"
    assert calls["/secrets/v1/secret/default/team/db"]["auth"] == f"Bearer {jwt}"
    assert calls["/master/state?c=1"]["auth"] == f"token={jwt}"
    assert {c["peer"] for c in master.calls} == {"gateway"}  # mutual TLS, the gateway's cert
    assert "/mesos/api/v1" not in calls


async def test_revoked_tokens_are_refused_at_the_edge(secure: tuple[Gateway, FakeMaster],
                                                      sd: SecurityDir) -> None:  # fmt: skip
    gw, master = secure
    jwt = token(sd, "bob")
    import jwt as pyjwt

    jti = pyjwt.decode(jwt, options={"verify_signature": False})["jti"]
    headers = {"Authorization": f"token={jwt}"}
    async with client(sd) as s:
        async with s.get(gw.url + "/mesos/master/state", headers=headers) as r:
            assert r.status == 200
        master.revoked, master.version = {jti: time.time() + 3600}, 2
        deadline = time.monotonic() + 10
        status = 200
        while time.monotonic() < deadline and status != 401:
            async with s.get(gw.url + "/mesos/master/state", headers=headers) as r:
                status = r.status
                if status == 401:
                    assert "revoked" in (await r.json())["message"]
        assert status == 401


async def test_plain_http_and_foreign_certificates_are_refused(
        secure: tuple[Gateway, FakeMaster], sd: SecurityDir, tmp_path: Path) -> None:  # fmt: skip
    gw, _ = secure
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientError):  # HTTP on the HTTPS port
            async with s.get(f"http://127.0.0.1:{gw.port}/metadata") as r:
                await r.read()
    # an agent's certificate is not accepted at the edge (it would be relayed as the gateway)
    ctx = ssl.create_default_context(cafile=str(sd.ca_cert))
    ctx.load_cert_chain(sd.cert("agent"), sd.key("agent"))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
        async with s.get(gw.url + "/mesos/master/state") as r:
            assert r.status == 401 and "agent" in (await r.json())["message"]


async def test_dns_reads_over_mutual_tls_and_guards_its_http_api(
        sd: SecurityDir, tmp_path: Path) -> None:  # fmt: skip
    peers: list[str | None] = []

    async def apps(request: web.Request) -> web.Response:
        peer = peer_identity(request)
        peers.append(peer.principal if peer else None)
        task = {"id": "web.t1", "host": "127.0.0.9", "ports": [31000], "state": "TASK_RUNNING"}
        return web.json_response({"apps": [{"id": "/web", "tasks": [task]}]})

    async def events(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"event: event_stream_attached\ndata: {}\n\n")
        await asyncio.sleep(30)
        return resp

    webapp = web.Application()
    webapp.router.add_get("/v2/apps", apps)
    webapp.router.add_get("/v2/events", events)
    runner = web.AppRunner(webapp, shutdown_timeout=0.2)
    await runner.setup()
    wport = free_port()
    await web.TCPSite(runner, "127.0.0.1", wport, ssl_context=server_context(sd, "webapp")).start()
    config = DnsConfig(webapp=f"https://127.0.0.1:{wport}", master=None, port=0, http_port=0,
                       debounce_s=0.01, full_every_s=3600)  # fmt: skip
    dns = DnsService(config, security=load_context(sd.root, "dns"))
    await dns.start()
    gw = None
    try:
        for _ in range(250):
            if dns.table.lookup_a("web.webapp.dcos"):
                break
            await asyncio.sleep(0.02)
        assert dns.table.lookup_a("web.webapp.dcos") == ("127.0.0.9",)
        assert set(peers) == {"dns"}  # every read over mutual TLS with the DNS certificate
        api = f"https://127.0.0.1:{dns.http_port}"
        gw = await Gateway(GatewayConfig(port=0, web_dir=tmp_path, masters=("127.0.0.1:1",),
                                         dns_http=api, security_dir=sd.root)).start()  # fmt: skip
        headers = {"Authorization": f"token={token(sd)}"}
        async with client(sd) as s:
            async with s.get(api + "/health") as r:
                assert r.status == 200
            async with s.get(api + "/v1/hosts/web.webapp.dcos") as r:
                assert r.status == 401 and r.content_type == "text/plain"
            async with s.get(api + "/v1/hosts/web.webapp.dcos", headers=headers) as r:
                assert r.status == 200 and (await r.json())[0]["ip"] == "127.0.0.9"
            async with s.get(gw.url + "/mesos_dns/v1/version") as r:
                assert r.status == 401
            async with s.get(gw.url + "/mesos_dns/v1/version", headers=headers) as r:
                assert r.status == 200 and (await r.json())["Service"] == "Mesos-DNS"
    finally:
        if gw is not None:
            await gw.stop()
        await dns.stop()
        await runner.cleanup()


async def test_a_real_master_sees_the_user_behind_the_gateway(sd: SecurityDir,
                                                             tmp_path: Path) -> None:  # fmt: skip
    """A real master (``--security-dir``) behind the gateway: the login goes through, and the
    master authorizes the user whose token the gateway forwards, not the gateway (a component
    that may do anything): an unprivileged user's operator write is refused by the master."""
    port = free_port()
    master = subprocess.Popen([sys.executable, "-m", "dcos.master", "--ip", "127.0.0.1",
                               "--port", str(port), "--work-dir", str(tmp_path / "master"),
                               "--security-dir", str(sd.root), "--tls-name", "master",
                               "--log-file", str(tmp_path / "master.log")])  # fmt: skip
    gw = None
    try:
        gw = await Gateway(GatewayConfig(port=0, web_dir=tmp_path, connect_timeout=1.0,
                                         masters=(f"127.0.0.1:{port}",),
                                         security_dir=sd.root)).start()  # fmt: skip
        async with client(sd) as s:
            login = {"uid": "admin", "password": read_admin_password(sd)}
            for _ in range(150):
                try:
                    async with s.post(gw.url + "/acs/api/v1/auth/login", json=login) as r:
                        if r.status == 200:
                            admin = (await r.json())["token"]
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"no login through the gateway: {tmp_path}/master.log")
            as_admin = {"Authorization": f"token={admin}"}
            async with s.put(gw.url + "/acs/api/v1/users/bob", headers=as_admin,
                             json={"password": "bob-secret-1", "description": "Bob"}) as r:
                assert r.status == 201, await r.text()
            async with s.post(gw.url + "/acs/api/v1/auth/login",
                              json={"uid": "bob", "password": "bob-secret-1"}) as r:  # fmt: skip
                as_bob = {"Authorization": f"token={(await r.json())['token']}"}
            weights = {"type": "UPDATE_WEIGHTS",
                       "update_weights": {"weight_infos": [{"role": "team", "weight": 2.0}]}}
            async with s.post(gw.url + "/mesos/api/v1", json=weights, headers=as_bob) as r:
                assert r.status == 403, await r.text()  # the master saw bob
            async with s.post(gw.url + "/mesos/api/v1", json=weights, headers=as_admin) as r:
                assert r.status == 200, await r.text()
            async with s.get(gw.url + "/mesos/master/state", headers=as_bob) as r:
                assert r.status == 200
            async with s.post(gw.url + "/mesos/api/v1", json=weights) as r:
                assert r.status == 401 and r.headers["WWW-Authenticate"] == "acsjwt"
            # a logout through the gateway: the gateway refuses the token from its answer on
            async with s.post(gw.url + "/acs/api/v1/auth/logout", headers=as_bob) as r:
                assert r.status == 204
            async with s.head(gw.url + "/pkgpanda/active.buildinfo.full.json",
                              headers=as_bob) as r:  # fmt: skip
                assert r.status == 401
    finally:
        if gw is not None:
            await gw.stop()
        master.terminate()
        try:
            master.wait(timeout=10)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait()


async def test_user_frameworks_never_see_the_users_credentials(
        secure: tuple[Gateway, FakeMaster], sd: SecurityDir) -> None:  # fmt: skip
    """A framework that is not one of the cluster's own (a batch job's driver, a package's
    framework: user code) is reached through the gateway without the user's token."""
    gw, master = secure
    base = str(gw.directory.leaders.masters()[0])  # the fake master serves the "UI" too
    master.frameworks = {"myjob": (base + "/ui", "alice"), "webapp": (base + "/webapp", "webapp"),
                         # a user's framework under a component's name gets no route
                         "batch-dispatcher": (base + "/stolen", "mallory")}  # fmt: skip
    jwt = token(sd)
    cookies = {"Cookie": f"theme=dark; dcos-acs-auth-cookie={jwt}"}
    async with client(sd) as s:
        async with s.get(gw.url + "/service/myjob/page", headers=cookies) as r:
            assert r.status == 200
        async with s.get(gw.url + "/service/myjob/api",
                         headers={"Authorization": f"token={jwt}"}) as r:  # fmt: skip
            assert r.status == 200
        async with s.get(gw.url + "/service/marathon/v2/apps", headers=cookies) as r:
            assert r.status == 200
        async with s.get(gw.url + "/service/batch/v1/submissions", headers=cookies) as r:
            assert r.status == 503
        async with s.get(gw.url + "/service/batch-dispatcher/x", headers=cookies) as r:
            assert r.status == 404
    calls = {c["path"]: c for c in master.calls}
    assert calls["/ui/page"]["auth"] is None and calls["/ui/page"]["cookie"] == "theme=dark"
    assert calls["/ui/api"]["auth"] is None
    assert calls["/webapp/v2/apps"]["auth"] == f"token={jwt}"  # the cluster's own webapp
    assert calls["/webapp/v2/apps"]["cookie"] == "theme=dark"
    assert not any(p.startswith("/stolen") for p in calls)
