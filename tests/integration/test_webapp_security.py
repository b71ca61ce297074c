"""Integration: real master, agent and webapp processes with ``--security-dir`` (a directory
made by `dcos.security.layout.init_security_dir`), everything over HTTPS on loopback.

The webapp registers with the master by its certificate (principal ``webapp``); an anonymous
client gets Marathon's 401 body; principal ``team`` (HTTP Basic) may change only apps under
``/team`` (webapp_groups) and cannot kill another group's task through ``POST
/v2/tasks/delete``; the admin (a bearer token) can; an app's ``"user": "nobody"`` is the user
its task runs as; an event callback to an internal URL is refused.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from dcos.common.lifeline import die_with_parent
from dcos.security.acls import default_acls
from dcos.security.layout import SecurityDir, init_security_dir
from dcos.security.tls import client_context
from dcos.security.tokens import TokenIssuer
from dcos.testing.processes import free_port, kill_sandbox_processes

pytestmark = pytest.mark.integration

WAIT = 40.0  # a guard against hangs, not a timing assertion


def _acls() -> dict[str, Any]:
    doc = default_acls(admins=["admin"], components=["master", "agent", "webapp"], task_users=["nobody"])
    doc["webapp_groups"].append({"principals": {"values": ["team"]}, "groups": {"values": ["/team"]}})
    doc["run_tasks"].append({"principals": {"values": ["team"]}, "users": {"values": ["nobody"]}})
    return doc


@pytest.fixture
def secure_cluster(tmp_path: Path) -> Iterator[tuple[SecurityDir, str, str, Path]]:
    sd = init_security_dir(tmp_path / "sec", names={"master": "component", "agent": "agent",
                                                    "webapp": "component"}, task_users=["nobody"])  # fmt: skip
    sd.acls.write_text(json.dumps(_acls()))
    creds = json.loads(sd.credentials.read_text())
    creds["credentials"].append({"principal": "team", "secret": "team-secret"})
    sd.credentials.write_text(json.dumps(creds))
    port, agent_port, web_port = free_port(), free_port(), free_port()
    master = f"https://127.0.0.1:{port}"
    security = ["--security-dir", str(sd.root), "--ip", "127.0.0.1"]
    argvs = {
        "master": ["-m", "dcos.master", "--port", str(port), "--allocation-interval", "0.1",
                   "--work-dir", str(tmp_path / "master")],
        "agent": ["-m", "dcos.agent", "--master", master, "--port", str(agent_port),
                  "--work-dir", str(tmp_path / "agent"),
                  "--resources", "cpus:2;mem:1024;disk:512;ports:[32100-32120]"],
        "webapp": ["-m", "frameworks.webapp", "--master", master, "--port", str(web_port),
                   "--work-dir", str(tmp_path / "webapp")],
    }  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, argv in argvs.items():
            with open(tmp_path / f"{name}.out", "ab") as out:
                procs.append(subprocess.Popen(
                    [sys.executable, *argv, *security, "--log-file", str(tmp_path / f"{name}.log")],
                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                    preexec_fn=die_with_parent(),
                ))  # fmt: skip
        yield sd, master, f"https://127.0.0.1:{web_port}", tmp_path
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        kill_sandbox_processes(tmp_path / "agent")


async def _until(fn: Any, what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = await fn()
        except aiohttp.ClientError:
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def _app(aid: str, **kw: Any) -> dict[str, Any]:
    return {"id": aid, "cmd": "id -un > whoami && sleep 600", "cpus": 0.1, "mem": 32, **kw}


async def test_webapp_with_security_on(secure_cluster: tuple[SecurityDir, str, str, Path]) -> None:
    sd, master, webapp, work = secure_cluster
    token = TokenIssuer.load(sd.token_key).issue("admin", now=time.time())
    admin = {"Authorization": f"token={token}"}
    team = {"Authorization": "Basic " + base64.b64encode(b"team:team-secret").decode()}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_context(sd, None))) as s:

        async def ping() -> bool:
            async with s.get(webapp + "/ping") as r:
                return r.status == 200

        await _until(ping, "the webapp's /ping over HTTPS")

        async def registered() -> bool:
            async with s.get(master + "/master/state", headers=admin) as r:
                state = await r.json()
            fws = [f for f in state["frameworks"] if f["name"] == "webapp"]
            return bool(fws and fws[0]["principal"] == "webapp" and state["slaves"])

        await _until(registered, "the webapp registered by its certificate and an agent")

        async with s.get(webapp + "/v2/apps") as r:  # anonymous
            assert r.status == 401 and "message" in await r.json()
            assert r.headers.get("WWW-Authenticate")

        async with s.post(webapp + "/v2/apps", json=_app("/team/web", user="nobody"), headers=team) as r:
            assert r.status == 201, await r.text()
        async with s.post(webapp + "/v2/apps", json=_app("/other/web"), headers=team) as r:
            assert r.status == 403 and "message" in await r.json()
        async with s.post(webapp + "/v2/apps", json=_app("/other/web", user="nobody"), headers=admin) as r:
            assert r.status == 201, await r.text()

        async def running(aid: str) -> list[str]:
            async with s.get(f"{webapp}/v2/apps{aid}/tasks", headers=admin) as r:
                tasks = (await r.json())["tasks"]
            return [t["id"] for t in tasks if t["state"] == "TASK_RUNNING"]

        [theirs] = await _until(lambda: running("/other/web"), "/other/web running")
        await _until(lambda: running("/team/web"), "/team/web running")

        async def whoami() -> list[str]:
            return [p.read_text().strip() for p in (work / "agent").rglob("whoami") if p.read_text().strip()]

        assert set(await _until(whoami, "the tasks' whoami files")) == {"nobody"}

        async with s.post(webapp + "/v2/tasks/delete", json={"ids": [theirs]}, headers=team) as r:
            assert r.status == 403 and (await r.json())["message"]
        assert await running("/other/web") == [theirs]

        internal = f"{master}/master/teardown"
        async with s.post(webapp + "/v2/eventSubscriptions", params={"callbackUrl": internal},
                          headers=admin) as r:  # fmt: skip
            assert r.status == 403 and "--event-callback-allow" in (await r.json())["message"]
        async with s.get(webapp + "/v2/eventSubscriptions", headers=admin) as r:
            assert (await r.json())["callbackUrls"] == []

        async with s.post(webapp + "/v2/tasks/delete", json={"ids": [theirs]}, headers=admin) as r:
            assert r.status == 200, await r.text()
