"""PolicyFeed: a component follows the leading master's ACLs and revocations over mTLS."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web

from dcos.security.acls import Acls, Action
from dcos.security.context import RevocationList, load_context
from dcos.security.http import PolicyFeed, identity, policy_etag, policy_json
from dcos.security.layout import SecurityDir
from dcos.security.tokens import Claims
from tests.unit.security.test_http import _app
from tests.unit.security.tlsutil import https_server


def _master_app(state: dict[str, Any]) -> web.Application:
    master = state["ctx"]
    app = _app(master)

    async def policy(request: web.Request) -> web.Response:
        state["callers"].append(identity(request).principal)
        state["if_none_match"] = request.headers.get("If-None-Match")
        if state.get("status", 200) != 200:
            return web.json_response({"message": "no"}, status=state["status"])
        return web.json_response(state["doc"])

    app.router.add_get("/acs/api/v1/policy", policy)
    return app


async def test_feed_applies_new_versions_only(sd: SecurityDir) -> None:
    master = load_context(sd.root, "master")
    agent = load_context(sd.root, "agent")
    assert not agent.acls.allows(Action.RUN_TASKS, "alice", "nobody")
    revoked = RevocationList()
    revoked.revoke("j1", 2e9)
    open_acls = Acls.from_json({"permissive": True})
    state: dict[str, Any] = {"ctx": master, "callers": [],
                             "doc": policy_json(1, open_acls, revoked)}
    async with https_server(master.server_ssl, _master_app(state)) as port:
        good = f"https://127.0.0.1:{port}"
        async with aiohttp.ClientSession(**agent.client_kwargs()) as session:
            # an unreachable URL first: the next one answers
            feed = PolicyFeed(agent, lambda: ["https://127.0.0.1:1", good], session)
            assert await feed.poll_once() is True
            assert state["callers"] == ["agent"]  # mTLS: the agent's certificate
            assert agent.acls.allows(Action.RUN_TASKS, "alice", "nobody")
            assert agent.revoked.is_revoked(Claims("u", "user", 0, 2e9, "j1"))
            assert await feed.poll_once() is False  # same version
            assert state["if_none_match"] == policy_etag(1)  # asked conditionally (304 when held)
            state["doc"] = {"version": 2, "acls": {"run_tasks": 1}, "revoked": {}}
            assert await feed.poll_once() is False  # malformed: kept
            assert agent.acls == open_acls and agent.policy_version == 1
            state["status"] = 403
            assert await feed.poll_once() is False

            async def urls() -> str:
                return good

            state["status"] = 200
            state["doc"] = policy_json(3, Acls.from_json({"permissive": False}),
                                       RevocationList())
            running = PolicyFeed(agent, urls, session, interval_s=0.02)
            running.start()
            try:
                for _ in range(100):
                    if agent.policy_version == 3:
                        break
                    await asyncio.sleep(0.01)
            finally:
                await running.stop()
            assert agent.policy_version == 3 and running.updates == 1
            assert not agent.acls.allows(Action.RUN_TASKS, "alice", "nobody")
            assert not agent.revoked.tokens
