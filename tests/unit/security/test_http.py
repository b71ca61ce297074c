"""auth_middleware, authenticate, forbidden, options: token / Basic / cert / anonymous."""

from __future__ import annotations

import argparse
import base64
import json
import time

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dcos.security.acls import Action
from dcos.security.context import SecurityContext, load_context
from dcos.security.credentials import Credentials
from dcos.security.http import auth_middleware, forbidden, identity
from dcos.security.layout import SecurityDir
from dcos.security.options import add_security_args, base_url, context_from_args
from dcos.security.tokens import TokenIssuer
from tests.unit.security.tlsutil import https_server


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


def _app(ctx: SecurityContext, **kwargs: object) -> web.Application:
    app = web.Application(middlewares=[auth_middleware(ctx, error=_error, **kwargs)])

    async def whoami(request: web.Request) -> web.Response:
        who = identity(request)
        return web.json_response({"principal": who.principal, "kind": who.kind, "via": who.via})

    async def kill(request: web.Request) -> web.Response:
        obj = request.query.get("framework")
        if not ctx.allows(identity(request), Action.KILL_TASKS, obj):
            return forbidden(request, ctx, Action.KILL_TASKS, obj, _error)
        return web.json_response({"killed": obj})

    app.router.add_get("/whoami", whoami)
    app.router.add_get("/health", whoami)
    app.router.add_post("/kill", kill)
    return app


def _ctx(sd: SecurityDir) -> SecurityContext:
    sd.credentials.write_text(json.dumps(
        {"credentials": [{"principal": "fw1", "secret": "pw1"}]}))
    return load_context(sd.root, "master")


def _basic(principal: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{principal}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def test_token_basic_anonymous_and_errors(sd: SecurityDir) -> None:
    ctx = _ctx(sd)
    issuer = TokenIssuer.load(sd.token_key)
    token = issuer.issue("alice", now=time.time())
    async with TestClient(TestServer(_app(ctx))) as client:
        for header in (f"token={token}", f"Bearer {token}"):
            resp = await client.get("/whoami", headers={"Authorization": header})
            assert resp.status == 200
            assert await resp.json() == {"principal": "alice", "kind": "user", "via": "token"}
        resp = await client.get("/whoami", headers=_basic("fw1", "pw1"))
        assert await resp.json() == {"principal": "fw1", "kind": "framework", "via": "basic"}
        # anonymous: 401 in the API's format with both challenges
        resp = await client.get("/whoami")
        assert resp.status == 401
        assert "authentication required" in (await resp.json())["message"]
        assert resp.headers.getall("WWW-Authenticate") == ["acsjwt", 'Basic realm="dcos-py"']
        # a wrong token or wrong Basic is 401, never anonymous; even where anonymous may pass
        bad = [{"Authorization": f"token={token[:-4]}AAAA"}, {"Authorization": "token=xyz"},
               _basic("fw1", "wrong"), _basic("nobody", "pw1"),
               {"Authorization": "Basic !!!"}, {"Authorization": "Digest x"}]
        for headers in bad:
            resp = await client.get("/whoami", headers=headers)
            assert resp.status == 401, headers
        # open paths pass whatever the credentials
        resp = await client.get("/health", headers={"Authorization": "token=xyz"})
        assert resp.status == 200 and (await resp.json())["principal"] is None
    async with TestClient(TestServer(_app(ctx, allow_anonymous=True))) as client:
        resp = await client.get("/whoami")
        assert resp.status == 200 and (await resp.json())["via"] == "none"
        resp = await client.get("/whoami", headers={"Authorization": "token=xyz"})
        assert resp.status == 401


async def test_expired_and_revoked_tokens_are_401(sd: SecurityDir) -> None:
    ctx = _ctx(sd)
    issuer = TokenIssuer.load(sd.token_key)
    old = issuer.issue("alice", ttl_s=10, now=time.time() - 20)
    live = issuer.issue("bob", now=time.time())
    async with TestClient(TestServer(_app(ctx))) as client:
        resp = await client.get("/whoami", headers={"Authorization": f"token={old}"})
        assert resp.status == 401 and "expired" in (await resp.json())["message"]
        claims = ctx.verifier.verify(live, now=time.time())
        ctx.revoked.revoke(claims.jti, claims.exp)
        resp = await client.get("/whoami", headers={"Authorization": f"token={live}"})
        assert resp.status == 401 and "revoked" in (await resp.json())["message"]


async def test_forbidden_is_403_and_logged(sd: SecurityDir, caplog) -> None:
    ctx = _ctx(sd)
    token = TokenIssuer.load(sd.token_key).issue("alice", now=time.time())
    admin = TokenIssuer.load(sd.token_key).issue("admin", now=time.time())
    async with TestClient(TestServer(_app(ctx))) as client:
        resp = await client.post("/kill?framework=fw1", headers={"Authorization": f"token={token}"})
        assert resp.status == 403
        assert (await resp.json())["message"] == (
            "principal 'alice' is not authorized to kill_tasks on 'fw1'")
        assert "principal=alice action=kill_tasks object=fw1" in caplog.text
        resp = await client.post("/kill?framework=fw1", headers={"Authorization": f"token={admin}"})
        assert resp.status == 200


async def test_token_wins_over_the_client_certificate(sd: SecurityDir) -> None:
    ctx = _ctx(sd)
    token = TokenIssuer.load(sd.token_key).issue("alice", now=time.time())
    agent = load_context(sd.root, "agent")
    async with https_server(ctx.server_ssl, _app(ctx)) as port:
        async with aiohttp.ClientSession(**agent.client_kwargs()) as session:
            url = base_url("127.0.0.1", port, agent) + "/whoami"
            async with session.get(url) as resp:
                assert await resp.json() == {"principal": "agent", "kind": "agent",
                                             "via": "cert"}
            async with session.get(url, headers={"Authorization": f"token={token}"}) as resp:
                assert (await resp.json())["principal"] == "alice"


def test_options(sd: SecurityDir) -> None:
    parser = argparse.ArgumentParser()
    add_security_args(parser)
    assert context_from_args(parser.parse_args([]), "master") is None
    ctx = context_from_args(parser.parse_args(["--security-dir", str(sd.root)]), "master")
    assert ctx is not None and ctx.name == "master"
    ctx = context_from_args(parser.parse_args(["--security-dir", str(sd.root),
                                               "--tls-name", "webapp"]), "master")
    assert ctx is not None and ctx.name == "webapp" and ctx.scheme == "https"
    assert base_url("127.0.0.1", 5050, None) == "http://127.0.0.1:5050"
    assert base_url("::1", 5050, ctx) == "https://[::1]:5050"
    assert ctx.url("localhost", 1) == "https://localhost:1"
    assert isinstance(ctx.credentials, Credentials)


def test_options_with_the_daemon_parser_read_the_environment(sd: SecurityDir,
                                                             monkeypatch) -> None:
    from dcos.common.flags import DaemonParser

    monkeypatch.setenv("DCOS_SECURITY_DIR", str(sd.root))
    monkeypatch.setenv("DCOS_TLS_NAME", "agent")
    parser = DaemonParser("test", "test")
    add_security_args(parser)
    ctx = context_from_args(parser.parse_args([]), "master")
    assert ctx is not None and ctx.name == "agent"


def test_missing_certificate_is_a_clear_error(sd: SecurityDir) -> None:
    import pytest

    with pytest.raises(FileNotFoundError, match="certs/ghost.crt"):
        load_context(sd.root, "ghost")
