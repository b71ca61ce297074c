"""The agent's HTTP side with security on (`dcos.agent.security`), in process with a fake
containerizer: HTTPS only, 401 in plain text for anonymous callers and bad tokens, ``/health``
and the executor API open (executors keep their own tokens), 413 past 1 MiB, ``/state`` and
``/monitor/statistics`` filtered by the caller's ACLs, the executors' environment (CA copy,
https agent URL)."""

from __future__ import annotations

import json
import os
import ssl
import time

import aiohttp
import pytest

from dcos.agent.agent import Agent
from dcos.agent.config import AgentConfig
from dcos.agent.containerizer.fake import FakeContainerizer
from dcos.agent.core import events as ev
from dcos.agent.http.monitor import statistics
from dcos.protocol.ids import AgentID
from dcos.security.acls import default_acls
from dcos.security.layout import init_security_dir
from dcos.security.tls import ca_client_context, client_context
from dcos.security.tokens import TokenIssuer
from dcos.testing import async_wait_until

from .conftest import FRAMEWORK, make_task

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def sd(tmp_path_factory):
    root = tmp_path_factory.mktemp("sec")
    sd = init_security_dir(root / "security", names={"agent": "agent", "webapp": "component"})
    doc = default_acls(admins=["admin"], components=["agent", "webapp"], task_users=["nobody"])
    sd.acls.write_text(json.dumps(doc))
    return sd


@pytest.fixture
async def agent(sd, tmp_path):
    config = AgentConfig(master="https://127.0.0.1:1", port=0, work_dir=str(tmp_path / "work"),
                         resources="cpus:2;mem:1024", detect=False, security_dir=str(sd.root))  # fmt: skip
    a = Agent(config, FakeContainerizer())
    await a.start()
    yield a
    await a.stop()


def _token(sd, uid: str) -> str:
    return TokenIssuer.load(sd.token_key).issue(uid, now=time.time())


async def _get(agent, path: str, ctx: ssl.SSLContext, headers=None, method="GET", data=None):
    async with aiohttp.ClientSession() as s, s.request(method, agent.url + path, ssl=ctx,
                                                       headers=headers, data=data) as r:  # fmt: skip
        return r.status, await r.text(), r.headers


async def test_https_auth_and_open_paths(agent, sd):
    assert agent.url.startswith("https://")
    anonymous = ca_client_context(sd.ca_cert)
    status, body, headers = await _get(agent, "/state", anonymous)
    assert status == 401 and "authentication required" in body
    assert headers["Content-Type"].startswith("text/plain")
    assert "acsjwt" in headers.getall("WWW-Authenticate")
    status, body, _ = await _get(agent, "/state", anonymous, {"Authorization": "token=nope"})
    assert status == 401 and "invalid token" in body
    assert (await _get(agent, "/health", anonymous))[0] == 200
    assert (await _get(agent, "/state", client_context(sd, "webapp")))[0] == 200
    admin = {"Authorization": f"token={_token(sd, 'admin')}"}
    assert (await _get(agent, "/state", anonymous, admin))[0] == 200
    # the executor API is not behind the middleware: its own checks answer (400: unknown
    # executor), even with an executor's Bearer token that is no JWT
    call = json.dumps({"type": "MESSAGE", "framework_id": {"value": "f"},
                       "executor_id": {"value": "e"}, "message": {"data": ""}})  # fmt: skip
    status, body, _ = await _get(agent, "/api/v1/executor", anonymous,
                                 {"Content-Type": "application/json",
                                  "Authorization": "Bearer abc"}, "POST", call)  # fmt: skip
    assert status == 400, body


async def test_body_limit_is_413(agent, sd):
    big = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    status, body, _ = await _get(agent, "/api/v1/executor", ca_client_context(sd.ca_cert),
                                 {"Content-Type": "application/json"}, "POST", big)  # fmt: skip
    assert status == 413, body


async def test_state_is_filtered_by_view_tasks(agent, sd):
    core = agent.core
    core.info.id = AgentID("A1")  # as if registered (no master here)
    agent._feed(ev.RunTasks(FRAMEWORK, FRAMEWORK["id"]["value"], [make_task("t1", "sleep 100")]))
    admin = {"Authorization": f"token={_token(sd, 'admin')}"}
    viewer = {"Authorization": f"token={_token(sd, 'viewer')}"}
    anonymous = ca_client_context(sd.ca_cert)
    _, body, _ = await _get(agent, "/state", anonymous, admin)
    assert "t1" in body
    status, body, _ = await _get(agent, "/state", anonymous, viewer)
    assert status == 200 and "t1" not in body
    assert json.loads(body)["frameworks"] == []
    await async_wait_until(lambda: agent.containerizer.containers(), "the launch", timeout=5)
    everything = await statistics(agent)
    assert everything
    _, body, _ = await _get(agent, "/monitor/statistics", anonymous, admin)
    assert len(json.loads(body)) == len(everything)
    _, body, _ = await _get(agent, "/monitor/statistics", anonymous, viewer)
    assert json.loads(body) == []
    assert (await _get(agent, "/debug/stimuli", anonymous, admin))[0] == 200
    status, body, _ = await _get(agent, "/debug/stimuli", anonymous, viewer)
    assert status == 403 and "may not view the tasks of user 'root'" in body
    assert core.frameworks  # nothing changed for the agent itself


async def test_executors_are_told_the_ca_and_the_https_url(agent, sd):
    env = agent.core.site.base_env
    assert env["DCOS_AGENT_URL"] == agent.url
    ca = env["DCOS_CA_FILE"]
    assert env["LIBPROCESS_SSL_CA_FILE"] == ca and env["LIBPROCESS_SSL_ENABLED"] == "true"
    assert open(ca, "rb").read() == sd.ca_cert.read_bytes()
    assert os.stat(ca).st_mode & 0o004  # readable by every task user


async def test_rotation_is_followed(agent, sd):
    """The reloader runs over the server, client and fetcher contexts (rotation: H1's
    CertReloader reloads them in place; `dcos-py ca rotate` is tested cluster-wide)."""
    reloader = agent.security.ctx.reloader
    assert reloader is not None and reloader._task is not None
    assert agent.security.server_ssl in reloader.contexts
    assert len(reloader.verify_only) >= 1  # the fetcher's context
